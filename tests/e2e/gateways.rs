//! Real gateway and phone payloads (the corpus fixtures) through a real broker into
//! the store: claimed devices' values appear in our units; a neighbour's never do.

use std::time::Duration;

use cohealth_ingest::{DeviceId, Metric};
use serde_json::Value;

use crate::harness::{App, Broker, eventually};
use crate::publisher::publish_all;

const GATEWAY: &str = include_str!("../../ingest/tests/fixtures/gateway/messages.jsonl");
const HAE: &str = include_str!("../../ingest/tests/fixtures/hae/messages.jsonl");

struct Case {
    name: String,
    topic: String,
    payload: String,
    expect: Vec<(Metric, f64, Option<i64>)>,
}

fn cases(text: &str) -> Vec<Case> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let expect = v["expect"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    let metric = Metric::from_name(e["metric"].as_str().unwrap()).unwrap();
                    let at = e["at"].as_str().map(|t| {
                        chrono::DateTime::parse_from_rfc3339(t)
                            .unwrap()
                            .timestamp_millis()
                    });
                    (metric, e["value"].as_f64().unwrap(), at)
                })
                .collect();
            Case {
                name: v["case"].as_str().unwrap().to_owned(),
                topic: v["topic"].as_str().unwrap().to_owned(),
                payload: v["payload"].to_string(),
                expect,
            }
        })
        .collect()
}

/// Several corpus cases reuse one placeholder MAC; as one device their running
/// step totals would be read as one counter. Each case gets its own device here.
fn distinct_gateway_devices(mut all: Vec<Case>) -> Vec<Case> {
    let mut used = std::collections::HashSet::new();
    for (i, case) in all.iter_mut().enumerate() {
        if case.topic.starts_with("cohealth/hae/") || used.insert(device_of(&case.topic)) {
            continue;
        }
        let old = device_of(&case.topic);
        let new = format!("AA:BB:CC:EE:00:{i:02X}");
        case.topic = case
            .topic
            .replace(&old.replace(':', ""), &new.replace(':', ""));
        case.payload = case.payload.replace(&old, &new);
        used.insert(new);
    }
    all
}

/// The device a topic's messages are stored under.
fn device_of(topic: &str) -> String {
    let last = topic.rsplit('/').next().unwrap();
    if topic.starts_with("cohealth/hae/") {
        format!("hae:{last}")
    } else {
        DeviceId::parse(last).unwrap().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_payloads_reach_their_owner_in_our_units() {
    let broker = Broker::start();
    let app = App::configure(&broker.url(), "");
    app.cli(
        &["user", "add", "ann@example.org"],
        "a-long-enough-password\n",
    );
    let all = distinct_gateway_devices(cases(GATEWAY).into_iter().chain(cases(HAE)).collect());
    let mut devices: Vec<String> = all.iter().map(|c| device_of(&c.topic)).collect();
    devices.sort();
    devices.dedup();
    for d in &devices {
        app.cli(&["device", "claim", d, "ann@example.org"], "");
    }
    let app = app.spawn_serve();
    app.wait_subscribed(4);

    // A neighbour's strap, heard by the same gateway, never claimed.
    let neighbour = (
        "home/gw/BTtoMQTT/AABBCC000099".to_owned(),
        r#"{"id":"AA:BB:CC:00:00:99","name":"Polar H10","brand":"Polar","model":"Heart Rate Sensor","bpm":88}"#.to_owned(),
    );
    let mut messages: Vec<(String, String)> = all
        .iter()
        .map(|c| (c.topic.clone(), c.payload.clone()))
        .collect();
    messages.push(neighbour);
    publish_all(broker.port, "corpus-publisher", messages).await;

    let (store, ann_person) = app.store_and_person("ann@example.org").await;
    let expected_total: usize = all.iter().map(|c| c.expect.len()).sum();
    // The neighbour was published last: once it waits, everything before it is in.
    eventually(Duration::from_secs(20), "the neighbour seen", || async {
        let seen = store.list_devices().await.unwrap();
        seen.iter()
            .any(|d| d.id == "AA:BB:CC:00:00:99" && d.pending == 1)
    })
    .await;

    let mut found = 0;
    for case in &all {
        for &(metric, value, at) in &case.expect {
            let rows = store
                .samples(ann_person, metric, 0, i64::MAX, 100_000)
                .await
                .unwrap();
            let hit = rows.iter().any(|r| {
                (r.value - value).abs() < 1e-3 * value.abs().max(1.0)
                    && at.is_none_or(|t| t == r.ts_ms)
                    && r.device == device_of(&case.topic)
            });
            assert!(
                hit,
                "{}: no {metric} = {value} (at {at:?}) in {rows:?}\n{}",
                case.name,
                app.log()
            );
            found += 1;
        }
    }
    assert_eq!(found, expected_total);

    // The neighbour is listed as seen, waiting, and in nobody's data.
    let devices = store.list_devices().await.unwrap();
    let stranger = devices
        .iter()
        .find(|d| d.id == "AA:BB:CC:00:00:99")
        .unwrap();
    assert_eq!((stranger.person_id, stranger.pending), (None, 1));
    let hr = store
        .samples(ann_person, Metric::HeartRate, 0, i64::MAX, 100_000)
        .await
        .unwrap();
    assert!(hr.iter().all(|r| r.device != "AA:BB:CC:00:00:99"));
    let listing = app.cli(&["device", "list"], "");
    assert!(
        listing.contains("AA:BB:CC:00:00:99") && listing.contains("no (1 waiting)"),
        "{listing}"
    );
}
