//! Property tests: no input makes the gateway decoder panic.

use proptest::prelude::*;
use serde_json::Value;

use super::*;

/// Arbitrary JSON values, biased towards the keys the decoder reads.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("id".to_string()),
        Just("bpm".to_string()),
        Just("act_bpm".to_string()),
        Just("steps".to_string()),
        Just("weight".to_string()),
        Just("unit".to_string()),
        Just("impedance".to_string()),
        Just("weighing_mode".to_string()),
        Just("servicedata".to_string()),
        Just("servicedatauuid".to_string()),
        Just("rssi".to_string()),
        Just("model_id".to_string()),
        "[a-z_]{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("0x181b".to_string()),
            Just("0x181d".to_string()),
            Just("person".to_string()),
            Just("object".to_string()),
            Just("lb".to_string()),
            Just("jin".to_string()),
            Just("AA:BB:CC:DD:EE:FF".to_string()),
            "[0-9a-fA-F]{0,26}",
            ".{0,12}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(topic in ".{0,40}", payload in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_gateway_frame(&topic, &payload, 0);
        let _ = decode_gateway_frame("home/gw/BTtoMQTT/AABBCCDDEEFF", &payload, 0);
    }

    #[test]
    fn json_ish_strings_never_panic(s in r#"[\[\]{}":,0-9a-z.eE+\- ]{0,200}"#) {
        let _ = decode_gateway_frame("home/gw/BTtoMQTT/AABBCCDDEEFF", s.as_bytes(), 0);
    }

    #[test]
    fn arbitrary_json_never_panics_and_values_are_finite(v in json_value(), at in any::<i64>()) {
        let bytes = serde_json::to_vec(&v).expect("serialise");
        let mut filter = WeighingFilter::new();
        for topic in ["home/gw/BTtoMQTT/AABBCCDDEEFF", "home/gw/BTtoMQTT"] {
            if let Ok(mut frame) = decode_gateway_frame(topic, &bytes, at) {
                prop_assert!(frame.reading.measurements.iter().all(|m| m.value.is_finite()));
                filter.filter(&mut frame);
            }
        }
    }
}
