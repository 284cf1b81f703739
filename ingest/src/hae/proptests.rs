//! Property tests: no input makes the HAE decoder or its date parser panic, and
//! the 12- and 24-hour spellings of one moment parse to the same instant.

use proptest::prelude::*;

use super::*;

fn device() -> DeviceId {
    DeviceId::parse("hae:prop").expect("id")
}

/// Payloads shaped like HAE exports, with arbitrary names, units, dates and values.
fn hae_like() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("step_count"),
        Just("heart_rate"),
        Just("blood_pressure"),
        Just("blood_oxygen_saturation"),
        Just("body_temperature"),
        Just("weight_body_mass"),
        Just("unknown"),
    ];
    let units = prop_oneof![
        Just("count"),
        Just("count/min"),
        Just("%"),
        Just("degF"),
        Just("lb"),
        Just("kJ"),
        Just("??"),
    ];
    let date = prop_oneof![
        Just("2024-09-21 7:57:00\u{202F}am +1000".to_string()),
        Just("2024-09-21 19:57:00 -0330".to_string()),
        ".{0,30}",
    ];
    let number = prop_oneof![
        any::<f64>().prop_map(|f| f.to_string()),
        any::<i64>().prop_map(|i| i.to_string())
    ];
    let point = (date, number.clone(), number, ".{0,8}").prop_map(|(d, q, s, src)| {
        serde_json::json!({"date": d, "qty": q.parse::<f64>().ok(), "Avg": q.parse::<f64>().ok(),
            "systolic": s.parse::<f64>().ok(), "diastolic": q.parse::<f64>().ok(), "source": src})
    });
    let metric = (name, units, prop::collection::vec(point, 0..6))
        .prop_map(|(n, u, d)| serde_json::json!({"name": n, "units": u, "data": d}));
    prop::collection::vec(metric, 0..6)
        .prop_map(|m| serde_json::json!({"data": {"metrics": m, "workouts": []}}).to_string())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(payload in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_hae(&device(), &payload, 0);
    }

    #[test]
    fn json_ish_strings_never_panic(s in r#"[\[\]{}":,0-9a-z_.eE+\- ]{0,200}"#) {
        let _ = decode_hae(&device(), s.as_bytes(), 0);
        let wrapped = format!(r#"{{"data":{{"metrics":[{s}]}}}}"#);
        let _ = decode_hae(&device(), wrapped.as_bytes(), 0);
    }

    #[test]
    fn hae_shaped_payloads_never_panic_and_values_are_finite(s in hae_like(), at in any::<i64>()) {
        let batch = decode_hae(&device(), s.as_bytes(), at).expect("valid envelope");
        for r in &batch.readings {
            prop_assert!(r.measurements.iter().all(|m| m.value.is_finite() && m.at.is_some()));
        }
    }

    #[test]
    fn date_parser_never_panics(s in ".{0,40}") {
        let _ = parse_hae_date(&s);
    }

    #[test]
    fn date_parser_on_date_like_strings_never_panics(
        s in "[0-9]{1,5}-[0-9]{1,3}-[0-9]{1,3}[ \u{202F}\u{00A0}][0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3}[ \u{202F}]?(am|pm|AM|Pm|xm)? ?[+-Z][0-9:]{0,6}"
    ) {
        let _ = parse_hae_date(&s);
    }

    #[test]
    fn twelve_and_twenty_four_hour_clocks_agree(
        hour in 0u32..24, minute in 0u32..60, second in 0u32..60, off_h in 0i32..15, neg in any::<bool>()
    ) {
        let sign = if neg { '-' } else { '+' };
        let h12 = if hour % 12 == 0 { 12 } else { hour % 12 };
        let ampm = if hour < 12 { "am" } else { "pm" };
        let h24 = format!("2025-03-30 {hour:02}:{minute:02}:{second:02} {sign}{off_h:02}00");
        let h12 = format!("2025-03-30 {h12}:{minute:02}:{second:02}\u{202F}{ampm} {sign}{off_h:02}00");
        let a = parse_hae_date(&h24).expect("24h parses");
        prop_assert_eq!(Ok(a), parse_hae_date(&h12));
        let local = i64::from(hour * 3600 + minute * 60 + second) * 1000;
        let offset = i64::from(off_h) * 3_600_000 * if neg { -1 } else { 1 };
        prop_assert_eq!(a.utc_ms, 1_743_292_800_000 + local - offset);
    }
}
