//! Weight, blood pressure, thermometer, oximeter and vendor scale frames
//! against `tests/fixtures/ble/vectors.json`.

use super::fixture_tests::{bytes_of, case, close};
use super::*;
use crate::model::Metric;

fn only(ms: &[crate::model::Measurement], m: Metric) -> Option<f64> {
    let v: Vec<f64> = ms
        .iter()
        .filter(|x| x.metric == m)
        .map(|x| x.value)
        .collect();
    assert!(v.len() <= 1);
    v.first().copied()
}

#[test]
fn weight_measurement_cases() {
    let w = decode_weight(&bytes_of("wm-ronan-basic-si")).unwrap();
    assert_eq!((w.unit, w.weight), (MassUnit::Kg, Some(70.0)));
    let w = decode_weight(&bytes_of("wm-ronan-imperial")).unwrap();
    assert_eq!((w.unit, w.weight), (MassUnit::Lb, Some(157.0)));
    assert!(close(
        only(&w.measurements(), Metric::Weight).unwrap(),
        71.21400209
    ));
    let w = decode_weight(&bytes_of("wm-ronan-timestamp")).unwrap();
    let at = w.measurements()[0].at.unwrap();
    assert_eq!(at.utc_ms, 1_703_514_645_000); // 2023-12-25T14:30:45
    assert_eq!(at.offset_s, None);
    let w = decode_weight(&bytes_of("wm-ronan-all-imperial")).unwrap();
    assert_eq!(
        (w.user_id, w.bmi, w.height),
        (Some(3), Some(24.5), Some(68.0))
    );
    assert_eq!(only(&w.measurements(), Metric::Bmi), Some(24.5));
    assert!(decode_weight(&bytes_of("wm-ronan-bmi-without-height")).is_err());
    let w = decode_weight(&bytes_of("wm-ronan-height-reserved-bit")).unwrap();
    assert_eq!(
        (w.weight, w.height, w.trailing_bytes),
        (Some(70.0), None, 2)
    );
    // 0xFFFF = measurement unsuccessful: no weight.
    let w = decode_weight(&[0x00, 0xFF, 0xFF]).unwrap();
    assert_eq!(w.weight, None);
    assert!(w.measurements().is_empty());
}

#[test]
fn blood_pressure_cases() {
    let b = decode_blood_pressure(&bytes_of("bp-nordic-full")).unwrap();
    assert_eq!(b.unit, PressureUnit::MmHg);
    let ms = b.measurements();
    assert_eq!(only(&ms, Metric::BloodPressureSystolic), Some(138.0));
    assert_eq!(only(&ms, Metric::BloodPressureDiastolic), Some(88.0));
    assert_eq!(only(&ms, Metric::BloodPressureMean), Some(120.0));
    assert_eq!(only(&ms, Metric::PulseRate), Some(60.0));
    assert_eq!((b.user_id, b.status), (Some(1), Some(0b100111)));
    assert!(ms.iter().all(|m| m.at.is_none()), "year 0 means unknown");

    let b = decode_blood_pressure(&bytes_of("bp-nordic-some-kpa")).unwrap();
    assert_eq!(b.unit, PressureUnit::KPa);
    assert_eq!(b.systolic.value(), Some(18.9));
    assert_eq!(b.mean_arterial.value(), Some(15.9));
    let sys = only(&b.measurements(), Metric::BloodPressureSystolic).unwrap();
    assert!(close(sys, 18.9 * MMHG_PER_KPA));
    assert!((sys - 141.76).abs() < 0.01);
    assert_eq!(b.status, Some(0b010010));

    let b = decode_blood_pressure(&bytes_of("bp-nordic-minimal")).unwrap();
    assert_eq!(
        (b.systolic.value(), b.diastolic.value()),
        (Some(18.9), Some(11.0))
    );
    assert_eq!(b.pulse_rate_bpm, None);
    assert!(decode_blood_pressure(&bytes_of("bp-nordic-too-short")).is_err());
    assert!(decode_blood_pressure(&bytes_of("bp-nordic-no-timestamp")).is_err());

    // Special values yield no measurement: NaN systolic, NRes diastolic, +INF mean.
    let b = decode_blood_pressure(&[0x00, 0xFF, 0x07, 0x00, 0x08, 0xFE, 0x07]).unwrap();
    assert_eq!(b.systolic, Ieee11073::Nan);
    assert!(b.measurements().is_empty());
}

#[test]
fn thermometer_cases() {
    let t = decode_temperature(&bytes_of("ht-nordic-finger")).unwrap();
    assert_eq!(t.unit, TemperatureUnit::Celsius);
    assert_eq!(t.temperature.value(), Some(37.6));
    assert_eq!(t.temperature_type, Some(4));
    let m = &t.measurements()[0];
    assert_eq!((m.metric, m.value), (Metric::BodyTemperature, 37.6));
    assert_eq!(m.at.map(|a| a.utc_ms), Some(1_354_708_227_000)); // 2012-12-05T11:50:27
    assert!(decode_temperature(&bytes_of("ht-nordic-missing-type")).is_err());
    // 98.6 °F = 37 °C; FLOAT 986 x 10^-1.
    let f = decode_temperature(&[0x01, 0xDA, 0x03, 0x00, 0xFF]).unwrap();
    assert!(close(f.celsius().unwrap(), 37.0));
    // -INF: no measurement.
    let n = decode_temperature(&[0x00, 0x02, 0x00, 0x80, 0x00]).unwrap();
    assert_eq!(n.temperature, Ieee11073::NegativeInfinity);
    assert!(n.measurements().is_empty());
}

#[test]
fn plx_cases() {
    let p = decode_plx_spot_check(&bytes_of("plx-spot-ronan-basic")).unwrap();
    assert_eq!(p.reading.spo2_pct.value(), Some(98.0 / 1e8));
    let p = decode_plx_spot_check(&bytes_of("plx-spot-ronan-status")).unwrap();
    assert_eq!(p.measurement_status, Some(0x0080));
    let p = decode_plx_continuous(&bytes_of("plx-cont-ronan-fast")).unwrap();
    assert_eq!(p.fast.unwrap().pulse_rate_bpm.value(), Some(75.0 / 1e8));
    let p = decode_plx_continuous(&bytes_of("plx-cont-ronan-slow")).unwrap();
    assert_eq!(p.slow.unwrap().spo2_pct.value(), Some(99.0 / 1e8));

    let p = decode_plx_spot_check(&bytes_of("plx-spot-spec-values")).unwrap();
    let ms = p.measurements();
    assert_eq!(only(&ms, Metric::Spo2), Some(98.0));
    assert_eq!(only(&ms, Metric::PulseRate), Some(72.0));
    let p = decode_plx_spot_check(&bytes_of("plx-spot-spec-nan-spo2")).unwrap();
    assert_eq!(only(&p.measurements(), Metric::Spo2), None);
    assert_eq!(only(&p.measurements(), Metric::PulseRate), Some(72.0));
    let p = decode_plx_spot_check(&bytes_of("plx-spot-spec-timestamp-clock-not-set")).unwrap();
    assert!(p.clock_not_set && p.timestamp.is_some());
    assert!(p.measurements().iter().all(|m| m.at.is_none()));
    let p = decode_plx_continuous(&bytes_of("plx-cont-spec-all")).unwrap();
    assert_eq!(p.fast.unwrap().spo2_pct.value(), Some(97.0));
    assert_eq!(p.slow.unwrap().pulse_rate_bpm.value(), Some(70.0));
    assert_eq!(p.measurement_status, Some(32));
    assert_eq!(p.device_sensor_status, Some(0x030201));
    assert_eq!(
        p.pulse_amplitude_index.and_then(Ieee11073::value),
        Some(-12.0)
    );
    assert_eq!(p.trailing_bytes, 0);
    assert_eq!(only(&p.measurements(), Metric::Spo2), Some(98.0));
}

fn xiaomi(id: &str) -> XiaomiScaleFrame {
    match decode_characteristic(0x2A9C, &bytes_of(id), VendorModel::parse("MIBFS")) {
        Ok(Decoded::XiaomiScale(f)) => f,
        other => panic!("{id}: {other:?}"),
    }
}

#[test]
fn xiaomi_gatt_frames() {
    let f = xiaomi("bcm-mibfs-vendor-unstable");
    assert!(!f.stabilized && f.impedance_ohm.is_none());
    assert!(close(f.weight_kg, 154.03));
    assert_eq!(
        (f.timestamp.year, f.timestamp.month, f.timestamp.day),
        (2023, 2, 6)
    );
    assert!(
        f.measurements().is_empty(),
        "unstable frames are not results"
    );
    let f = xiaomi("mibfs-stabilized-impedance");
    assert_eq!(f.impedance_ohm, Some(0x3412));
    assert!(close(
        only(&f.measurements(), Metric::Weight).unwrap(),
        154.03
    ));
    let f = xiaomi("mibfs-stabilized-impedance-imperial");
    assert_eq!(f.unit, MassUnit::Lb);
    assert!(close(f.weight, 308.06));
    let f = xiaomi("mibfs-unloaded");
    assert!(f.load_removed && f.stabilized);
    assert!(f.measurements().is_empty());
    // Without the model the same bytes are read as the SIG layout.
    let std = decode_characteristic(0x2A9C, &bytes_of("bcm-mibfs-vendor-unstable"), None);
    assert!(matches!(std, Ok(Decoded::BodyComposition(_)) | Err(_)));
}

#[test]
fn weighing_tracker_on_real_stream() {
    let c = case("mi-scale2-2a9c-stream-while-stepping-on");
    let want: Vec<f64> = c["expected"]["weights_kg"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_f64())
        .collect();
    let mut t = WeighingTracker::new();
    let mut got = Vec::new();
    for (h, w) in c["input"].as_array().unwrap().iter().zip(&want) {
        let f = decode_mi_scale_v2(&decode_hex(h.as_str().unwrap()).unwrap()).unwrap();
        assert!(close(f.weight_kg, *w));
        assert!(!f.stabilized && f.impedance_ohm.is_none());
        got.extend(t.push(&f));
    }
    assert!(got.is_empty(), "no weight while the weight settles");
    // The stream continues: stabilised (twice), then with impedance, then load removed (twice).
    let mut frame = decode_mi_scale_v2(&decode_hex("0224E307011D11350100004C40").unwrap()).unwrap();
    let emitted = t.push(&frame);
    assert_eq!(emitted.len(), 1);
    assert!(close(emitted[0].value, 82.3));
    assert!(t.push(&frame).is_empty());
    frame.impedance_ohm = Some(480);
    let z = t.push(&frame);
    assert_eq!(
        (z.len(), z[0].metric, z[0].value),
        (1, Metric::Impedance, 480.0)
    );
    frame.load_removed = true;
    assert!(t.push(&frame).is_empty());
    assert!(t.push(&frame).is_empty());
    // A new weighing (new time stamp) that is first seen at load removal.
    frame.timestamp.minute += 5;
    assert_eq!(t.push(&frame).len(), 2);
}

#[test]
fn soehnle_frame() {
    let d = decode_characteristic_str(
        SOEHNLE_MEASUREMENT_UUID,
        &bytes_of("soehnle-constructed"),
        None,
    )
    .unwrap();
    let Decoded::Soehnle(s) = &d else {
        panic!("{d:?}")
    };
    assert_eq!(
        (
            s.user_index,
            s.weight_kg,
            s.impedance_5khz_raw,
            s.impedance_50khz_raw
        ),
        (1, 75.0, 500, 400)
    );
    assert_eq!(
        d.measurements()[0].at.map(|a| a.utc_ms),
        Some(1_714_547_732_000)
    );
    assert!(decode_soehnle(&[0x08; 15]).is_err());
    assert!(decode_soehnle(&bytes_of("soehnle-constructed")[..14]).is_err());
}
