//! [`WeighingFilter`] tests: one weight per weighing, from frame sequences shaped
//! like the ones Xiaomi scales broadcast.

use super::*;
use crate::model::Metric;

const TOPIC: &str = "home/gw/BTtoMQTT/AABBCCDDEEFF";

/// A Theengs message (decoded JSON only, no raw flags).
fn theengs(weight: f64, impedance: Option<u32>) -> String {
    let imp = impedance.map_or(String::new(), |i| format!(",\"impedance\":{i}"));
    format!(
        r#"{{"id":"AA:BB:CC:DD:EE:FF","model_id":"XMTZC02HM/XMTZC05HM","weighing_mode":"person","unit":"kg","weight":{weight}{imp}}}"#
    )
}

/// A message carrying raw Mi Body Composition Scale service data with control byte 1.
fn raw_v2(control: u8, weight: f64) -> String {
    format!(
        r#"{{"id":"AA:BB:CC:DD:EE:FF","model_id":"XMTZC05HM","weighing_mode":"person","unit":"kg","weight":{weight},"servicedatauuid":"0x181b","servicedata":"02{control:02x}e607020e10293a00009a38"}}"#
    )
}

fn stored(filter: &mut WeighingFilter, body: &str, at_ms: i64) -> Vec<(Metric, f64)> {
    let mut frame = decode_gateway_frame(TOPIC, body.as_bytes(), at_ms).expect("decodes");
    filter.filter(&mut frame);
    frame
        .reading
        .measurements
        .iter()
        .map(|m| (m.metric, m.value))
        .collect()
}

#[test]
fn repeated_stabilised_frames_store_one_weight_and_one_impedance() {
    let mut f = WeighingFilter::new();
    assert_eq!(
        stored(&mut f, &theengs(72.45, None), 0),
        [(Metric::Weight, 72.45)]
    );
    assert!(stored(&mut f, &theengs(72.45, None), 1_000).is_empty());
    assert_eq!(
        stored(&mut f, &theengs(72.45, Some(503)), 2_000),
        [(Metric::Impedance, 503.0)]
    );
    assert!(stored(&mut f, &theengs(72.45, Some(503)), 3_000).is_empty());
}

#[test]
fn a_new_weighing_after_a_gap_or_with_another_weight() {
    let mut f = WeighingFilter::new();
    assert_eq!(stored(&mut f, &theengs(72.45, None), 0).len(), 1);
    // Someone else steps on within the gap: different weight, new weighing.
    assert_eq!(
        stored(&mut f, &theengs(58.1, None), 10_000),
        [(Metric::Weight, 58.1)]
    );
    // The same person again after more than the gap: new weighing.
    assert_eq!(stored(&mut f, &theengs(58.1, None), 80_001).len(), 1);
}

#[test]
fn raw_flags_skip_unstable_frames_and_end_weighings_on_load_removed() {
    let mut f = WeighingFilter::new();
    // Stepping on: not stabilised (bit 5 clear) – nothing stored.
    assert!(stored(&mut f, &raw_v2(0x04, 30.2), 0).is_empty());
    assert!(stored(&mut f, &raw_v2(0x04, 71.9), 500).is_empty());
    // Stabilised: stored once.
    assert_eq!(
        stored(&mut f, &raw_v2(0x24, 72.45), 1_000),
        [(Metric::Weight, 72.45)]
    );
    assert!(stored(&mut f, &raw_v2(0x24, 72.45), 1_500).is_empty());
    // Stabilised + load removed repeats: same weighing.
    assert!(stored(&mut f, &raw_v2(0xa4, 72.45), 3_000).is_empty());
    assert!(stored(&mut f, &raw_v2(0xa4, 72.45), 3_500).is_empty());
    // Stepping on again right away: a new weighing even with the same weight.
    assert_eq!(stored(&mut f, &raw_v2(0x24, 72.45), 6_000).len(), 1);
}

#[test]
fn only_removed_frames_still_store_the_weight_once() {
    let mut f = WeighingFilter::new();
    assert_eq!(stored(&mut f, &raw_v2(0xa4, 72.45), 0).len(), 1);
    assert!(stored(&mut f, &raw_v2(0xa4, 72.45), 500).is_empty());
}

#[test]
fn devices_are_independent_and_state_can_be_forgotten() {
    let mut f = WeighingFilter::new();
    assert_eq!(stored(&mut f, &theengs(72.45, None), 0).len(), 1);
    let other = theengs(72.45, None).replace("AA:BB:CC:DD:EE:FF", "11:22:33:44:55:66");
    let frame = decode_gateway_frame("home/gw/BTtoMQTT", other.as_bytes(), 10).expect("ok");
    assert!(f.admit(frame.scale.as_ref().expect("scale")).weight);
    f.forget_before(5);
    assert_eq!(stored(&mut f, &theengs(72.45, None), 20).len(), 1);
}

#[test]
fn non_scale_frames_pass_through_untouched() {
    let mut f = WeighingFilter::new();
    let mut frame = decode_gateway_frame(TOPIC, br#"{"bpm":61}"#, 0).expect("decodes");
    f.filter(&mut frame);
    assert_eq!(frame.reading.measurements.len(), 1);
}
