//! Property tests: no decoder panics on any input, and frames built from
//! field values decode back to those values.

use proptest::prelude::*;

use super::advert::{Advert, advert_from_gateway_json, decode_advert, decode_bthome};
use super::replay::parse_replay;
use super::*;
use crate::derive::{hrv_rmssd, resting_heart_rate};

const UUIDS: [u16; 12] = [
    0x2A37, 0x2A38, 0x2A19, 0x2A53, 0x2A5B, 0x2A9D, 0x2A9C, 0x2A35, 0x2A1C, 0x2A5E, 0x2A5F, 0x1234,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn characteristics_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let models = [None, Some(VendorModel::XiaomiMiScale),
            Some(VendorModel::XiaomiMiBodyCompositionScale), Some(VendorModel::SoehnleShape)];
        for uuid in UUIDS {
            for model in models {
                if let Ok(d) = decode_characteristic(uuid, &bytes, model) {
                    for m in d.measurements() {
                        prop_assert!(m.value.is_finite());
                    }
                    prop_assert!(serde_json::to_string(&d).is_ok());
                }
            }
        }
        let _ = decode_soehnle(&bytes);
        let _ = decode_bthome(&bytes);
    }

    #[test]
    fn adverts_never_panic(
        svc in proptest::collection::vec((prop_oneof![Just(0x181Bu16), Just(0x181D), Just(0xFCD2), Just(0xFEE0), Just(0xFE95), Just(0), any::<u16>()],
            proptest::collection::vec(any::<u8>(), 0..30)), 0..3),
        mfg in proptest::collection::vec((prop_oneof![Just(0x0157u16), Just(0x006B), Just(0xFF04), Just(0x81EF), any::<u16>()],
            proptest::collection::vec(any::<u8>(), 0..30)), 0..3),
        name in proptest::option::of(".{0,20}"),
    ) {
        let adv = Advert { name, service_data: svc, manufacturer_data: mfg, rssi: None };
        if let Ok(Some(d)) = decode_advert(&adv) {
            for m in d.measurements() {
                prop_assert!(m.value.is_finite());
            }
        }
    }

    #[test]
    fn text_parsers_never_panic(s in "\\PC{0,80}") {
        let _ = parse_uuid16(&s);
        let _ = decode_hex(&s);
        let _ = parse_rfc3339(&s);
        let _ = parse_replay(&s);
        let _ = parse_replay(&format!("start 2024-05-01T07:30:00Z\n{s}"));
        let _ = VendorModel::parse(&s);
        let v = serde_json::json!({"name": s, "servicedata": s, "manufacturerdata": s});
        let _ = advert_from_gateway_json(&v);
    }

    #[test]
    fn derive_never_panics(rr in proptest::collection::vec((any::<i64>(), any::<f64>()), 0..200)) {
        let _ = hrv_rmssd(&rr);
        let _ = resting_heart_rate(&rr);
    }

    #[test]
    fn heart_rate_round_trip(
        wide in any::<bool>(), bpm in any::<u16>(), contact in 0u8..4,
        ee in proptest::option::of(any::<u16>()),
        rr in proptest::collection::vec(any::<u16>(), 0..8), odd in any::<bool>(),
    ) {
        let bpm = if wide { bpm } else { bpm & 0xFF };
        let mut flags = u8::from(wide) | contact << 1;
        let mut b = vec![0u8];
        if wide { b.extend(bpm.to_le_bytes()) } else { b.push(bpm as u8) }
        if let Some(e) = ee { flags |= 0x08; b.extend(e.to_le_bytes()); }
        if !rr.is_empty() { flags |= 0x10; }
        for v in &rr { b.extend(v.to_le_bytes()); }
        if odd { b.push(0xAB); }
        b[0] = flags;
        let hr = decode_heart_rate(&b).unwrap();
        prop_assert_eq!(hr.bpm, bpm);
        prop_assert_eq!(hr.energy_expended_kj, ee);
        prop_assert_eq!(&hr.rr_1024, &rr);
        prop_assert_eq!(hr.trailing_bytes, usize::from(odd));
        for (ms, raw) in hr.rr_ms.iter().zip(&rr) {
            prop_assert_eq!(*ms * 1024.0 / 1000.0, f64::from(*raw));
        }
        let no_hr = contact == 0b10;
        let has_hr = hr.measurements().iter().any(|m| m.metric == crate::model::Metric::HeartRate);
        prop_assert_eq!(has_hr, !no_hr && bpm > 0);
    }

    #[test]
    fn sfloat_round_trip(mantissa in -2045i32..2046, exponent in -8i32..8) {
        // 0x07FE..=0x0802 are +INF, NaN, NRes, reserved and -INF: not numbers.
        prop_assume!(!(2046..=2050).contains(&(mantissa & 0x0FFF)));
        let raw = ((exponent as u16 & 0xF) << 12) | (mantissa as u16 & 0x0FFF);
        let v = Ieee11073::from_sfloat(raw).value().unwrap();
        let want = f64::from(mantissa) * 10f64.powi(exponent);
        prop_assert!((v - want).abs() <= 1e-12 * want.abs().max(1e-300));
    }

    #[test]
    fn battery_round_trip(p in any::<u8>()) {
        let r = decode_battery(&[p]);
        prop_assert_eq!(r.is_ok(), p <= 100);
    }

    #[test]
    fn csc_round_trip(revs in any::<u32>(), t in any::<u16>(), crank in any::<u16>(), ct in any::<u16>()) {
        let mut b = vec![3u8];
        b.extend(revs.to_le_bytes()); b.extend(t.to_le_bytes());
        b.extend(crank.to_le_bytes()); b.extend(ct.to_le_bytes());
        let c = decode_csc(&b).unwrap();
        prop_assert_eq!(c.wheel, Some(WheelData { revolutions: revs, last_event_1024: t }));
        prop_assert_eq!(c.crank, Some(CrankData { revolutions: crank, last_event_1024: ct }));
        prop_assert!(decode_csc(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn xiaomi_v2_round_trip(c0 in any::<u8>(), c1 in any::<u8>(), z in any::<u16>(), w in any::<u16>()) {
        let mut b = vec![c0, c1, 0xE7, 0x07, 2, 6, 18, 28, 0];
        b.extend(z.to_le_bytes()); b.extend(w.to_le_bytes());
        let f = decode_mi_scale_v2(&b).unwrap();
        let div = if c0 & 1 != 0 || c1 & 0x40 != 0 { 100.0 } else { 200.0 };
        prop_assert_eq!(f.weight, f64::from(w) / div);
        prop_assert_eq!(f.impedance_ohm.is_some(), c1 & 0x02 != 0);
        prop_assert_eq!(f.stabilized, c1 & 0x20 != 0);
    }
}
