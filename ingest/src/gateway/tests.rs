//! Gateway decoder tests against the corpus cases copied into
//! `tests/fixtures/gateway/` (values as the sources state them).

use serde_json::{Value, json};

use super::*;
use crate::model::{Metric, ValueKind};

const VECTORS: &str = include_str!("../../tests/fixtures/gateway/vectors.json");
const MESSAGES: &str = include_str!("../../tests/fixtures/gateway/messages.jsonl");
const KG_PER_LB: f64 = 0.453_592_37;

fn cases() -> Vec<Value> {
    let doc: Value = serde_json::from_str(VECTORS).expect("vectors.json is JSON");
    doc["cases"].as_array().expect("cases array").clone()
}

fn case(id: &str) -> Value {
    cases()
        .into_iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("case {id} missing"))
}

/// The message a Theengs gateway publishes for a case: `expected` + id, name, rssi.
fn published(id: &str, mac: &str) -> (String, Vec<u8>) {
    let c = case(id);
    let mut body = c["expected"].as_object().expect("expected object").clone();
    body.insert("id".into(), json!(mac));
    body.insert("name".into(), c["input"]["name"].clone());
    body.insert("rssi".into(), json!(-60));
    let topic = format!("home/TheengsGateway/BTtoMQTT/{}", mac.replace(':', ""));
    (topic, serde_json::to_vec(&body).expect("serialise"))
}

fn decode_case(id: &str) -> GatewayFrame {
    let (topic, payload) = published(id, "AA:BB:CC:DD:EE:FF");
    decode_gateway_frame(&topic, &payload, 1_000).expect("decodes")
}

fn value(frame: &GatewayFrame, metric: Metric) -> Option<f64> {
    let found: Vec<f64> = frame
        .reading
        .measurements
        .iter()
        .filter(|m| m.metric == metric)
        .map(|m| m.value)
        .collect();
    assert!(found.len() <= 1, "{metric} appears {} times", found.len());
    found.first().copied()
}

#[test]
fn polar_h10_advert_gives_heart_rate_and_identity() {
    let f = decode_case("theengs-polar-h10-70");
    assert_eq!(value(&f, Metric::HeartRate), Some(70.0));
    let r = &f.reading;
    assert_eq!(r.source, SourceKind::Gateway);
    assert_eq!(r.sub_source, "TheengsGateway");
    assert_eq!(r.device.as_str(), "AA:BB:CC:DD:EE:FF");
    assert_eq!(r.name.as_deref(), Some("Polar H10 0A0B0C0D"));
    assert_eq!(r.model.as_deref(), Some("Polar Heart Rate Sensor (H10)"));
    assert_eq!(r.rssi, Some(-60));
    assert_eq!(r.received_ms, 1_000);
    assert!(r.measurements.iter().all(|m| m.at.is_none()));
}

#[test]
fn xoss_strap_gives_heart_rate_and_battery() {
    let f = decode_case("theengs-xoss-x2");
    assert_eq!(value(&f, Metric::HeartRate), Some(63.0));
    assert_eq!(value(&f, Metric::Battery), Some(97.0));
}

#[test]
fn coffee_scale_negative_weight_is_not_body_weight() {
    let f = decode_case("theengs-atomax-skale-negative");
    assert!(f.reading.measurements.is_empty());
    assert_eq!(f.rejected.len(), 1, "{:?}", f.rejected);
}

#[test]
fn object_weighings_store_no_weight() {
    for id in [
        "theengs-mi-scale-v1-object-kg",
        "theengs-mi-body-scale2-object",
    ] {
        let f = decode_case(id);
        assert_eq!(value(&f, Metric::Weight), None, "{id}");
        assert!(f.rejected.iter().any(|r| r.contains("object")), "{id}");
    }
}

#[test]
fn mi_scale_pounds_become_kilograms() {
    let f = decode_case("theengs-mi-scale-v1-person-lb");
    let kg = value(&f, Metric::Weight).expect("weight");
    assert!((kg - 131.7 * KG_PER_LB).abs() < 1e-9, "{kg}");
    assert!((kg - 59.738).abs() < 0.001);
}

#[test]
fn body_composition_scale_weight_and_impedance() {
    let f = decode_case("theengs-mi-body-scale2-kg-impedance");
    assert_eq!(value(&f, Metric::Weight), Some(72.45));
    assert_eq!(value(&f, Metric::Impedance), Some(503.0));
    let f = decode_case("theengs-mi-body-scale2-kg-no-impedance");
    assert_eq!(value(&f, Metric::Weight), Some(72.45));
    assert_eq!(value(&f, Metric::Impedance), None);
}

#[test]
fn bands_give_cumulative_steps_and_heart_rate() {
    let f = decode_case("theengs-miband-steps-and-bpm");
    assert_eq!(value(&f, Metric::HeartRate), Some(125.0));
    let steps = f
        .reading
        .measurements
        .iter()
        .find(|m| m.metric == Metric::Steps);
    let steps = steps.expect("steps");
    assert_eq!(steps.value, 9101.0);
    assert_eq!(steps.kind, ValueKind::Cumulative);
    for id in [
        "theengs-miband-hr-ff-absent",
        "theengs-amazfit-bip-s-encrypted-mfg",
    ] {
        let f = decode_case(id);
        assert_eq!(value(&f, Metric::Steps), Some(7852.0), "{id}");
        assert_eq!(
            value(&f, Metric::HeartRate),
            None,
            "{id}: 0xFF is not 255 bpm"
        );
    }
}

#[test]
fn omg_stabilised_frame_keeps_weight_unstable_frame_does_not() {
    let topic = "home/OMG_ESP32_BLE/BTtoMQTT/AABBCCDDEEFF";
    let stable = case("omg-xmtzc04hm-1");
    let input = stable["input"].as_str().expect("input");
    let f = decode_gateway_frame(topic, input.as_bytes(), 5).expect("decodes");
    assert_eq!(
        value(&f, Metric::Weight),
        stable["expected"]["weight_kg"].as_f64()
    );
    let scale = f.scale.expect("scale frame");
    assert_eq!(scale.stabilised, Some(true));
    assert_eq!(f.reading.rssi, Some(-58));

    let unstable = case("omg-xmtzc04hm-3");
    let input = unstable["input"].as_str().expect("input");
    let f = decode_gateway_frame(topic, input.as_bytes(), 5).expect("decodes");
    assert_eq!(value(&f, Metric::Weight), None);
    assert_eq!(f.scale.expect("scale").stabilised, Some(false));
    assert!(f.rejected.iter().any(|r| r.contains("not stabilised")));
}

#[test]
fn encrypted_s400_is_a_seen_device() {
    let c = case("omg-xiaomi-s400-encrypted");
    let input = c["input"].as_str().expect("input");
    let r = decode_gateway_message("home/OMG/BTtoMQTT/AABBCCDDEEFF", input.as_bytes(), 0)
        .expect("seen device");
    assert!(r.measurements.is_empty());
    assert_eq!(r.name.as_deref(), Some("Xiaomi Scale S400 EEFF"));
}

#[test]
fn discovery_wildcard_topic_is_not_a_state_topic() {
    let c = case("ha-discovery-xmtzc05hm-weight");
    let cfg: Value = serde_json::from_str(c["input"].as_str().expect("input")).expect("json");
    assert_eq!(cfg["unit_of_meas"], "kg");
    let stat_t = cfg["stat_t"].as_str().expect("stat_t");
    let err = decode_gateway_message(stat_t, br#"{"weight":70}"#, 0);
    assert!(matches!(err, Err(GatewayError::Topic(_))), "{err:?}");
    // The expanded topic, with the lb frame the discovery note warns about: stored in kg.
    let body = br#"{"id":"AA:BB:CC:DD:EE:FF","model_id":"XMTZC05HM","weighing_mode":"person","unit":"lb","weight":154.32}"#;
    let r = decode_gateway_message("home/OMG_ESP32_CUSTOM_BT/BTtoMQTT/AABBCCDDEEFF", body, 0);
    let w = r.expect("decodes").measurements[0].value;
    assert!((w - 154.32 * KG_PER_LB).abs() < 1e-9);
}

#[test]
fn messages_fixture_matches_decoder() {
    let mut n = 0;
    for line in MESSAGES.lines().filter(|l| !l.trim().is_empty()) {
        let m: Value = serde_json::from_str(line).expect("jsonl line");
        let id = m["case"].as_str().expect("case");
        let topic = m["topic"].as_str().expect("topic");
        let payload = serde_json::to_vec(&m["payload"]).expect("payload");
        let got = decode_gateway_frame(topic, &payload, 0);
        if m.get("expect_error").is_some() {
            assert!(got.is_err(), "{id}");
            n += 1;
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{id}: {e}"));
        let expect = m["expect"].as_array().expect("expect");
        assert_eq!(got.reading.measurements.len(), expect.len(), "{id}");
        for e in expect {
            let metric = Metric::from_name(e["metric"].as_str().expect("metric")).expect("known");
            let want = e["value"].as_f64().expect("value");
            let have = value(&got, metric).unwrap_or_else(|| panic!("{id}: {metric}"));
            assert!(
                (have - want).abs() < 1e-9,
                "{id}: {metric} {have} != {want}"
            );
        }
        n += 1;
    }
    assert_eq!(n, cases().len(), "one message per corpus case");
}

#[test]
fn topic_and_body_spellings_are_one_device() {
    let body = br#"{"id":"aa:bb:cc:dd:ee:ff","bpm":60}"#;
    let r = decode_gateway_message("home/gw/BTtoMQTT/AABBCCDDEEFF", body, 0).expect("ok");
    assert_eq!(r.device.as_str(), "AA:BB:CC:DD:EE:FF");
    let r = decode_gateway_message("home/gw/BTtoMQTT", body, 0).expect("id from body");
    assert_eq!(r.device.as_str(), "AA:BB:CC:DD:EE:FF");
    let r = decode_gateway_message("home/gw/BTtoMQTT/AABBCCDDEEFF", b"{}", 0).expect("topic id");
    assert!(r.measurements.is_empty());
}

#[test]
fn malformed_messages_are_errors_with_reasons() {
    let t = "home/gw/BTtoMQTT/AABBCCDDEEFF";
    let mismatch = decode_gateway_message(t, br#"{"id":"11:22:33:44:55:66"}"#, 0);
    assert!(matches!(mismatch, Err(GatewayError::IdMismatch { .. })));
    assert!(matches!(
        decode_gateway_message(t, b"not json", 0),
        Err(GatewayError::NotJson(_))
    ));
    assert!(matches!(
        decode_gateway_message(t, b"[1,2]", 0),
        Err(GatewayError::NotObject(_))
    ));
    let none = decode_gateway_message("home/gw/BTtoMQTT", br#"{"bpm":60}"#, 0);
    assert_eq!(none, Err(GatewayError::MissingId));
    let topic = decode_gateway_message("home/gw/other/AABBCCDDEEFF", b"{}", 0);
    assert!(matches!(topic, Err(GatewayError::Topic(_))));
    let msg = GatewayError::MissingId.to_string();
    assert!(msg.contains("id"), "{msg}");
}

#[test]
fn impossible_values_are_rejected_not_stored() {
    let t = "home/gw/BTtoMQTT/AABBCCDDEEFF";
    let body = br#"{"bpm":400,"batt":140,"steps":-5,"act_bpm":80}"#;
    let f = decode_gateway_frame(t, body, 0).expect("decodes");
    assert!(
        f.reading.measurements.is_empty(),
        "{:?}",
        f.reading.measurements
    );
    assert_eq!(f.rejected.len(), 3, "{:?}", f.rejected);
    let f = decode_gateway_frame(t, br#"{"bpm":"70"}"#, 0).expect("decodes");
    assert!(f.reading.measurements.is_empty());
    assert!(f.rejected[0].contains("not a number"));
}

#[test]
fn jin_and_unknown_units() {
    let t = "home/gw/BTtoMQTT/AABBCCDDEEFF";
    let jin = br#"{"model_id":"XMTZC04HM","weighing_mode":"person","unit":"jin","weight":140}"#;
    let r = decode_gateway_message(t, jin, 0).expect("decodes");
    assert_eq!(r.measurements[0].value, 70.0);
    let st = br#"{"weighing_mode":"person","unit":"st","weight":11}"#;
    let f = decode_gateway_frame(t, st, 0).expect("decodes");
    assert!(f.reading.measurements.is_empty());
    assert!(f.rejected[0].contains("unknown unit"));
}
