//! Health Auto Export decoder tests against the corpus cases copied into
//! `tests/fixtures/hae/` (values and UTC times as the sources state them).

use chrono::DateTime;
use serde_json::{Value, json};

use super::*;
use crate::model::{Instant, ValueKind};

const VECTORS: &str = include_str!("../../tests/fixtures/hae/vectors.json");
const MESSAGES: &str = include_str!("../../tests/fixtures/hae/messages.jsonl");

fn case(id: &str) -> Value {
    let doc: Value = serde_json::from_str(VECTORS).expect("vectors.json is JSON");
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("case {id} missing"))
        .clone()
}

fn device() -> DeviceId {
    DeviceId::parse("hae:owner-iphone").expect("id")
}

fn utc_ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("rfc3339")
        .timestamp_millis()
}

fn decode(payload: &Value, received_ms: i64) -> HaeBatch {
    let bytes = serde_json::to_vec(payload).expect("serialise");
    decode_hae(&device(), &bytes, received_ms).expect("decodes")
}

fn find(batch: &HaeBatch, metric: Metric) -> Vec<(&str, &Measurement)> {
    batch
        .readings
        .iter()
        .flat_map(|r| {
            r.measurements
                .iter()
                .map(move |m| (r.sub_source.as_str(), m))
        })
        .filter(|(_, m)| m.metric == metric)
        .collect()
}

#[test]
fn real_one_day_payload_matches_stated_values() {
    let c = case("hae-real-one-day-aggregated");
    let payload: Value = serde_json::from_str(c["input"].as_str().expect("input")).expect("json");
    let batch = decode(&payload, 0);
    let e = &c["expected"];
    let at = Instant {
        utc_ms: utc_ms(e["all_timestamps_utc"].as_str().expect("utc")),
        offset_s: Some(-7 * 3600),
    };
    let one = |metric| {
        let found = find(&batch, metric);
        assert_eq!(found.len(), 1, "{metric}");
        assert_eq!(found[0].1.at, Some(at), "{metric}");
        assert_eq!(found[0].1.kind, ValueKind::Gauge, "{metric}");
        found[0].1.value
    };
    assert_eq!(
        one(Metric::ActiveEnergy),
        e["active_energy_kcal"].as_f64().expect("kcal")
    );
    assert_eq!(one(Metric::Steps), e["step_count"].as_f64().expect("steps"));
    assert_eq!(
        one(Metric::HeartRate),
        e["heart_rate"]["avg"].as_f64().expect("avg")
    );
    let resting = one(Metric::RestingHeartRate);
    assert!((resting - e["resting_heart_rate_bpm"].as_f64().expect("rhr")).abs() < 1e-9);
    assert!((one(Metric::Distance) - 3.287830590933034 * 1609.344).abs() < 1e-9);
    // Grouped by source string, exactly as sent.
    let watch = "Owner's Apple Watch";
    assert_eq!(find(&batch, Metric::HeartRate)[0].0, watch);
    assert_eq!(
        find(&batch, Metric::Steps)[0].0,
        "Owner's Apple Watch|Owner-iPhone"
    );
    assert!(batch.readings.iter().all(|r| r.source == SourceKind::Phone));
    assert!(batch.readings.iter().all(|r| r.device == device()));
    // HRV (SDNN) is skipped with a reason rather than stored as RMSSD.
    let skipped: Vec<&str> = batch.skipped.iter().map(|(n, _)| n.as_str()).collect();
    for name in ["heart_rate_variability", "physical_effort", "walking_speed"] {
        assert!(skipped.contains(&name), "{name} not skipped: {skipped:?}");
    }
    assert!(find(&batch, Metric::HrvRmssd).is_empty());
}

#[test]
fn twelve_hour_dates_with_narrow_no_break_space() {
    let c = case("hae-date-12h-narrow-nbsp");
    let point: Value = serde_json::from_str(c["input"].as_str().expect("input")).expect("json");
    let date = point["date"].as_str().expect("date");
    assert!(date.contains('\u{202F}'), "the corpus keeps the U+202F");
    let at = parse_hae_date(date).expect("parses");
    assert_eq!(
        at.utc_ms,
        utc_ms(c["expected"]["utc"].as_str().expect("utc"))
    );
    assert_eq!(at.offset_s, Some(36_000));

    let c = case("hae-date-12h-pm");
    let point: Value = serde_json::from_str(c["input"].as_str().expect("input")).expect("json");
    let at = parse_hae_date(point["date"].as_str().expect("date")).expect("parses");
    assert_eq!(
        at.utc_ms,
        utc_ms(c["expected"]["utc"].as_str().expect("utc"))
    );
}

#[test]
fn local_midnight_keeps_its_offset() {
    let c = case("hae-category-at-local-midnight-dst");
    let inputs = c["input"].as_array().expect("inputs");
    let utcs = c["expected"]["utc"].as_array().expect("utcs");
    for ((input, utc), offset) in inputs.iter().zip(utcs).zip([7200, 3600]) {
        let point: Value = serde_json::from_str(input.as_str().expect("input")).expect("json");
        let at = parse_hae_date(point["date"].as_str().expect("date")).expect("parses");
        assert_eq!(at.utc_ms, utc_ms(utc.as_str().expect("utc")));
        assert_eq!(at.offset_s, Some(offset));
    }
}

#[test]
fn date_variants_agree() {
    let want = parse_hae_date("2024-09-21 19:57:00 +1000").expect("24h");
    for s in [
        "2024-09-21 7:57:00 pm +1000",
        "2024-09-21 7:57:00\u{202F}PM +1000",
        "2024-09-21 7:57:00\u{00A0}pm +10:00",
        "2024-09-21 7:57:00pm +1000",
    ] {
        assert_eq!(parse_hae_date(s), Ok(want), "{s:?}");
    }
    let midnight = parse_hae_date("2024-09-21 12:00:00 am +0000").expect("12 am");
    assert_eq!(midnight.utc_ms, utc_ms("2024-09-21T00:00:00Z"));
    let noon = parse_hae_date("2024-09-21 12:00:00 pm +0000").expect("12 pm");
    assert_eq!(noon.utc_ms, utc_ms("2024-09-21T12:00:00Z"));
    for bad in [
        "",
        "2024-09-21",
        "2024-09-21 13:00:00 pm +0000",
        "2024-09-21 0:00:00 am +0000",
        "2024-02-30 10:00:00 +0000",
        "2024-09-21 10:00:00 +2500",
        "2024-09-21 10:00:00",
        "2024-09-21 24:00:00 +0000",
    ] {
        assert!(parse_hae_date(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn resent_window_is_identical_whatever_the_receipt_time() {
    let c = case("hae-real-one-day-aggregated");
    let payload: Value = serde_json::from_str(c["input"].as_str().expect("input")).expect("json");
    let first = decode(&payload, 1_000);
    let again = decode(&payload, 86_400_000);
    assert_eq!(first.skipped, again.skipped);
    assert_eq!(first.readings.len(), again.readings.len());
    for (a, b) in first.readings.iter().zip(&again.readings) {
        assert_eq!(a.sub_source, b.sub_source);
        assert_eq!(a.measurements, b.measurements);
    }
}

#[test]
fn late_backdated_point_keeps_its_date() {
    // Corpus behaviour hae-late-backdated-resting-hr: written ~11 h after its date.
    assert!(
        case("hae-late-backdated-resting-hr")["expected"]["incremental_since_last_sync_misses_it"]
            .as_bool()
            .expect("flag")
    );
    let payload = json!({"data": {"metrics": [{"name": "resting_heart_rate", "units": "count/min",
        "data": [{"date": "2024-09-20 22:00:00 +0000", "qty": 58, "source": "Watch"}]}]}});
    let batch = decode(&payload, utc_ms("2024-09-21T09:00:00Z"));
    let m = find(&batch, Metric::RestingHeartRate)[0].1;
    assert_eq!(m.at.map(|a| a.utc_ms), Some(utc_ms("2024-09-20T22:00:00Z")));
}

#[test]
fn workouts_are_skipped_not_mistaken_for_heart_rate() {
    let c = case("hae-workout-hr-recovery-instead-of-session");
    assert!(
        c["expected"]["detect"]
            .as_str()
            .expect("detect")
            .contains("HR-recovery")
    );
    let payload = json!({"data": {"metrics": [], "workouts": [{"heartRateData":
        [{"date": "2024-09-21 7:30:00 am +1000", "Min": 120, "Avg": 120, "Max": 120}]}]}});
    let batch = decode(&payload, 0);
    assert!(batch.readings.is_empty());
    assert_eq!(batch.skipped.len(), 1);
    assert_eq!(batch.skipped[0].0, "workouts");
}

#[test]
fn units_are_converted_and_bad_points_skipped_alone() {
    let payload = json!({"data": {"metrics": [
        {"name": "active_energy", "units": "kJ", "data": [{"date": "2024-01-01 10:00:00 +0000", "qty": 418.4, "source": "W"}]},
        {"name": "weight_body_mass", "units": "lb", "data": [
            {"date": "2024-01-01 07:00:00 +0000", "qty": 154.3236, "source": "Scale"},
            {"date": "yesterday", "qty": 150, "source": "Scale"}]},
        {"name": "blood_oxygen_saturation", "units": "%", "data": [
            {"date": "2024-01-01 03:00:00 +0000", "qty": 0.97, "source": "W"},
            {"date": "2024-01-01 03:05:00 +0000", "qty": 96, "source": "W"},
            {"date": "2024-01-01 03:10:00 +0000", "qty": 12, "source": "W"}]},
        {"name": "body_temperature", "units": "degF", "data": [{"date": "2024-01-01 03:00:00 +0000", "qty": 98.6, "source": "T"}]},
        {"name": "blood_pressure", "units": "mmHg", "data": [{"date": "2024-01-01 08:00:00 +0000", "systolic": 121, "diastolic": 79, "source": "Cuff"}]},
        {"name": "body_fat_percentage", "units": "%", "data": [{"date": "2024-01-01 07:00:00 +0000", "qty": 0.215, "source": "Scale"}]},
        {"name": "step_count", "units": "steps", "data": [{"date": "2024-01-01 07:00:00 +0000", "qty": 5, "source": "W"}]},
        {"name": "mystery_metric", "units": "zz", "data": []}
    ]}});
    let batch = decode(&payload, 0);
    let v = |m| {
        find(&batch, m)
            .iter()
            .map(|(_, x)| x.value)
            .collect::<Vec<_>>()
    };
    assert!((v(Metric::ActiveEnergy)[0] - 100.0).abs() < 1e-9);
    assert_eq!(v(Metric::Weight).len(), 1, "the good weight point is kept");
    assert!((v(Metric::Weight)[0] - 70.0).abs() < 1e-4);
    assert_eq!(v(Metric::Spo2), [97.0, 96.0]);
    assert!((v(Metric::BodyTemperature)[0] - 37.0).abs() < 1e-9);
    assert_eq!(v(Metric::BloodPressureSystolic), [121.0]);
    assert_eq!(v(Metric::BloodPressureDiastolic), [79.0]);
    assert!((v(Metric::BodyFat)[0] - 21.5).abs() < 1e-9);
    assert!(v(Metric::Steps).is_empty());
    let names: Vec<&str> = batch.skipped.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "weight_body_mass",
            "blood_oxygen_saturation",
            "step_count",
            "mystery_metric"
        ]
    );
}

#[test]
fn whole_payload_errors() {
    let d = device();
    assert!(matches!(decode_hae(&d, b"{", 0), Err(HaeError::NotJson(_))));
    assert_eq!(decode_hae(&d, b"[]", 0), Err(HaeError::NoData));
    assert_eq!(
        decode_hae(&d, br#"{"data":{"metrics":{}}}"#, 0),
        Err(HaeError::MetricsNotArray)
    );
    let empty = decode_hae(&d, br#"{"data":{}}"#, 0).expect("empty batch");
    assert_eq!(empty, HaeBatch::default());
}

#[test]
fn messages_fixture_matches_decoder() {
    let mut n = 0;
    for line in MESSAGES.lines().filter(|l| !l.trim().is_empty()) {
        let m: Value = serde_json::from_str(line).expect("jsonl line");
        let id = m["case"].as_str().expect("case");
        let received = m["received_at"].as_str().map_or(0, utc_ms);
        let batch = decode(&m["payload"], received);
        let expect = m["expect"].as_array().expect("expect");
        let total: usize = batch.readings.iter().map(|r| r.measurements.len()).sum();
        assert_eq!(total, expect.len(), "{id}");
        for e in expect {
            let metric = Metric::from_name(e["metric"].as_str().expect("metric")).expect("known");
            let want_at = utc_ms(e["at"].as_str().expect("at"));
            let want = e["value"].as_f64().expect("value");
            let hit = find(&batch, metric).into_iter().find(|(src, x)| {
                x.at.map(|a| a.utc_ms) == Some(want_at)
                    && *src == e["sub_source"].as_str().expect("src")
            });
            let (_, got) = hit.unwrap_or_else(|| panic!("{id}: {metric} at {want_at}"));
            assert!(
                (got.value - want).abs() < 1e-9,
                "{id}: {} != {want}",
                got.value
            );
            if let Some(off) = e["offset_s"].as_i64() {
                assert_eq!(
                    got.at.and_then(|a| a.offset_s).map(i64::from),
                    Some(off),
                    "{id}"
                );
            }
        }
        if let Some(names) = m["expect_skipped"].as_array() {
            let skipped: Vec<&str> = batch.skipped.iter().map(|(n, _)| n.as_str()).collect();
            let want: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
            assert_eq!(skipped, want, "{id}");
        }
        n += 1;
    }
    assert_eq!(n, 6, "one message per corpus case");
}
