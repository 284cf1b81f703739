//! GATT decoders against the vectors in `tests/fixtures/ble/vectors.json`
//! (copied from the corpus or transcribed from public test suites; each case
//! names its source).

use serde_json::Value;

use super::*;
use crate::model::{Metric, ValueKind};

pub(crate) const VECTORS: &str = include_str!("../../tests/fixtures/ble/vectors.json");

pub(crate) fn cases() -> Vec<Value> {
    let v: Value = serde_json::from_str(VECTORS).expect("fixture JSON parses");
    v["cases"].as_array().cloned().unwrap_or_default()
}

pub(crate) fn case(id: &str) -> Value {
    cases()
        .into_iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no fixture {id}"))
}

pub(crate) fn bytes_of(id: &str) -> Vec<u8> {
    decode_hex(case(id)["input"].as_str().expect("hex input")).expect("valid hex")
}

pub(crate) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

fn metric(ms: &[crate::model::Measurement], m: Metric) -> Vec<f64> {
    ms.iter()
        .filter(|x| x.metric == m)
        .map(|x| x.value)
        .collect()
}

#[test]
fn every_heart_rate_case_matches_spec_decode() {
    let mut n = 0;
    for c in cases().iter().filter(|c| c["kind"] == "ble-0x2A37") {
        let bytes = decode_hex(c["input"].as_str().unwrap()).unwrap();
        let hr = decode_heart_rate(&bytes).unwrap();
        let s = &c["spec_decode"];
        assert_eq!(u64::from(hr.bpm), s["bpm"].as_u64().unwrap(), "{}", c["id"]);
        let contact = match hr.contact {
            SensorContact::NotSupported => "not_supported",
            SensorContact::NotDetected => "not_detected",
            SensorContact::Detected => "detected",
        };
        assert_eq!(contact, s["contact"], "{}", c["id"]);
        assert_eq!(
            hr.energy_expended_kj.map(u64::from),
            s["energy_kj"].as_u64(),
            "{}",
            c["id"]
        );
        let rr: Vec<u64> = s["rr_1024"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        assert_eq!(
            hr.rr_1024.iter().map(|&v| u64::from(v)).collect::<Vec<_>>(),
            rr
        );
        for (got, want) in hr.rr_ms.iter().zip(s["rr_ms"].as_array().unwrap()) {
            // spec_decode rounds to 6 decimals; ours is exact.
            assert!((got - want.as_f64().unwrap()).abs() < 1e-6, "{}", c["id"]);
        }
        assert_eq!(
            hr.trailing_bytes,
            usize::from(!s["trailing"].is_null()),
            "{}",
            c["id"]
        );
        assert_eq!(u64::from(hr.flags), s["flags"].as_u64().unwrap());
        n += 1;
    }
    assert_eq!(n, 22);
}

#[test]
fn heart_rate_measurements() {
    let hr = decode_heart_rate(&bytes_of("hr-nordic-uint16-ee-3rr")).unwrap();
    let ms = hr.measurements();
    assert_eq!(metric(&ms, Metric::HeartRate), vec![257.0]);
    assert_eq!(
        metric(&ms, Metric::RrInterval),
        vec![0.9765625, 251.953125, 63999.0234375]
    );
    let e = ms
        .iter()
        .find(|m| m.metric == Metric::ActiveEnergy)
        .unwrap();
    assert!(close(e.value, 306.0 / 4.184));
    assert_eq!(e.kind, ValueKind::Cumulative);
    // Zero bpm and a zero RR are no readings.
    let zero = decode_heart_rate(&bytes_of("hr-polar-rr-zero")).unwrap();
    assert!(zero.measurements().is_empty());
    // Contact lost: no heart rate, no RR.
    let lost = decode_heart_rate(&[0x14, 72, 0x00, 0x03]).unwrap();
    assert_eq!(lost.contact, SensorContact::NotDetected);
    assert!(lost.measurements().is_empty());
    // Odd trailing byte is ignored and counted.
    let odd = decode_heart_rate(&bytes_of("hr-webbt-odd-length-1")).unwrap();
    assert_eq!((odd.rr_1024.clone(), odd.trailing_bytes), (vec![945], 1));
}

#[test]
fn garmin_proprietary_frame_is_not_a_heart_rate() {
    // Routed blindly as 0x2A37 it is truncated (EE flag without its 2 bytes).
    let b = bytes_of("vendor-garmin-fenix6-proprietary-hr");
    assert!(matches!(
        decode_characteristic(0x2A37, &b, None),
        Err(BleError::Truncated { .. })
    ));
}

#[test]
fn battery_cases() {
    assert_eq!(
        decode_battery(&bytes_of("batt-nordic-100"))
            .unwrap()
            .percent,
        100
    );
    assert!(matches!(
        decode_battery(&bytes_of("batt-nordic-too-long")),
        Err(BleError::TooLong { .. })
    ));
    assert!(matches!(
        decode_battery(&bytes_of("batt-nordic-101")),
        Err(BleError::OutOfRange { .. })
    ));
    assert!(decode_battery(&[]).is_err());
}

#[test]
fn body_sensor_location() {
    assert_eq!(
        decode_body_sensor_location(&[1]),
        Ok(BodySensorLocation::Chest)
    );
    assert_eq!(
        decode_body_sensor_location(&[9]),
        Ok(BodySensorLocation::Reserved(9))
    );
    assert!(decode_body_sensor_location(&[1, 2]).is_err());
}

#[test]
fn rsc_cases_match_spec_decode() {
    for c in cases().iter().filter(|c| c["kind"] == "ble-0x2A53") {
        let r = decode_rsc(&decode_hex(c["input"].as_str().unwrap()).unwrap()).unwrap();
        let s = &c["spec_decode"];
        assert!(close(r.speed_m_s, s["speed_m_s"].as_f64().unwrap()));
        assert_eq!(u64::from(r.cadence_spm), s["cadence_spm"].as_u64().unwrap());
        assert_eq!(r.running, s["running"].as_bool().unwrap());
        assert_eq!(r.stride_m.is_some(), s.get("stride_m").is_some());
        if let (Some(a), Some(b)) = (r.stride_m, s["stride_m"].as_f64()) {
            assert!(close(a, b));
        }
        if let (Some(a), Some(b)) = (r.total_distance_m, s["total_distance_m"].as_f64()) {
            assert!(close(a, b));
        }
    }
    let r = decode_rsc(&bytes_of("rsc-polar-minimal-walking")).unwrap();
    assert_eq!((r.stride_m, r.total_distance_m), (None, None));
}

#[test]
fn csc_frames_and_tracker() {
    let w = decode_csc(&bytes_of("csc-nordic-wheel-and-crank")).unwrap();
    assert_eq!(
        w.wheel,
        Some(WheelData {
            revolutions: 12345,
            last_event_1024: 1000
        })
    );
    assert_eq!(
        w.crank,
        Some(CrankData {
            revolutions: 345,
            last_event_1024: 2000
        })
    );
    assert!(decode_csc(&bytes_of("csc-nordic-truncated")).is_err());
    let empty = decode_csc(&bytes_of("csc-rustcycle-empty")).unwrap();
    assert_eq!((empty.wheel, empty.crank), (None, None));

    let seq = case("csc-nordic-speed-from-two-frames");
    let mut t = CscTracker::new(2340);
    let frames: Vec<CscMeasurement> = seq["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| decode_csc(&decode_hex(h.as_str().unwrap()).unwrap()).unwrap())
        .collect();
    assert_eq!(t.push(&frames[0]), CscUpdate::default());
    let u = t.push(&frames[1]);
    assert!(close(u.speed_m_s.unwrap(), 23.4));
    assert!(close(u.distance_m.unwrap(), 23.4));

    let seq = case("csc-rustcycle-crank-event-time-rollover");
    let mut t = CscTracker::default();
    let mut last = CscUpdate::default();
    for h in seq["input"].as_array().unwrap() {
        last = t.push(&decode_csc(&decode_hex(h.as_str().unwrap()).unwrap()).unwrap());
    }
    assert!(close(last.cadence_rpm.unwrap(), 95.10835913312694));
}

#[test]
fn csc_counter_rollover_and_stalls() {
    let mut t = CscTracker::new(2000);
    let f = |revs: u32, time: u16, crank: u16| CscMeasurement {
        flags: 3,
        wheel: Some(WheelData {
            revolutions: revs,
            last_event_1024: time,
        }),
        crank: Some(CrankData {
            revolutions: crank,
            last_event_1024: time,
        }),
        trailing_bytes: 0,
    };
    t.push(&f(u32::MAX - 1, 65_000, u16::MAX));
    let u = t.push(&f(2, 65_000u16.wrapping_add(1024), 1));
    assert!(close(u.distance_m.unwrap(), 8.0));
    assert!(close(u.speed_m_s.unwrap(), 8.0));
    assert!(close(u.cadence_rpm.unwrap(), 120.0));
    // Same event time: no new event, no made-up rate.
    let u = t.push(&f(2, 65_000u16.wrapping_add(1024), 1));
    assert_eq!((u.speed_m_s, u.cadence_rpm), (None, None));
    // Wheel count went backwards: sensor reset, nothing emitted.
    let u = t.push(&f(0, 3000, 1));
    assert_eq!((u.speed_m_s, u.distance_m), (None, None));
}

#[test]
fn body_composition_all_fields() {
    let b =
        decode_body_composition(&bytes_of("bcm-blevalueparser-all-fields-reserved-bits")).unwrap();
    let e = case("bcm-blevalueparser-all-fields-reserved-bits")["expected"].clone();
    assert_eq!(u64::from(b.flags), e["flags"].as_u64().unwrap());
    assert_eq!(b.unit, MassUnit::Kg);
    let pairs = [
        (b.body_fat_pct, "body_fat_pct"),
        (b.muscle_pct, "muscle_pct"),
        (b.muscle_mass, "muscle_mass_kg"),
        (b.fat_free_mass, "fat_free_mass_kg"),
        (b.soft_lean_mass, "soft_lean_mass_kg"),
        (b.body_water_mass, "body_water_mass_kg"),
        (b.impedance_ohm, "impedance_ohm"),
        (b.weight, "weight_kg"),
        (b.height, "height_m"),
    ];
    for (got, key) in pairs {
        assert!(close(got.unwrap(), e[key].as_f64().unwrap()), "{key}");
    }
    assert_eq!(b.user_id, Some(42));
    assert_eq!(b.basal_metabolism_kj, Some(17699));
    assert!(!b.multiple_packet);
    let ts = b.timestamp.unwrap();
    assert_eq!(
        (ts.year, ts.month, ts.day, ts.hour, ts.minute),
        (2023, 2, 6, 18, 28)
    );
    // Imperial variant stated in the notes: 482.82 lb, 264.37 lb, 5265.1 in.
    let mut imp = bytes_of("bcm-blevalueparser-all-fields-reserved-bits");
    imp[0] = 0xFF;
    let i = decode_body_composition(&imp).unwrap();
    assert_eq!(i.unit, MassUnit::Lb);
    assert!(close(i.weight.unwrap(), 482.82));
    assert!(close(i.muscle_mass.unwrap(), 264.37));
    assert!(close(i.height.unwrap(), 5265.1));
    let w = i
        .measurements()
        .into_iter()
        .find(|m| m.metric == Metric::Weight)
        .unwrap();
    assert!(close(w.value, 482.82 * LB_TO_KG));
    assert_eq!(w.at.map(|a| a.utc_ms), Some(1_675_708_080_000));
}
