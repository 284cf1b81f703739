//! `cohealth ble replay`: a recorded strap session becomes heart rate, RR, HRV and
//! resting heart rate in the store, and replaying it again changes nothing.
//!
//! The session is built so that the expected values follow from the definitions,
//! not from our code: RR alternates between 820 and 840 units of 1/1024 s, so every
//! successive difference is 20/1024 s and RMSSD is exactly 19.53125 ms; the first
//! ten minutes report 90 bpm and the last thirty 74 bpm, so the lowest 30-minute
//! mean is 74 bpm.

use std::fmt::Write;

use cohealth_ingest::Metric;

use crate::harness::{App, free_port};

const START_MS: i64 = 1_780_000_200_000; // 2026-05-28T20:30:00Z, a 5-minute boundary

fn session() -> (String, usize) {
    let mut text = String::from("# chest strap, 40 minutes at rest\nstart 2026-05-28T20:30:00Z\n");
    let mut t_1024: i64 = 0;
    let mut frames = 0;
    while t_1024 * 1000 / 1024 < 40 * 60_000 {
        let rr: i64 = if frames % 2 == 0 { 820 } else { 840 };
        t_1024 += rr;
        let offset_ms = t_1024 * 1000 / 1024;
        let bpm: u8 = if offset_ms < 10 * 60_000 { 90 } else { 74 };
        // flags 0x16: uint8 bpm, contact detected, RR present
        let hex = format!("16{bpm:02x}{:02x}{:02x}", rr & 0xff, rr >> 8);
        writeln!(text, "{offset_ms} AA:BB:CC:DD:EE:42 2a37 {hex}").unwrap();
        frames += 1;
    }
    (text, frames)
}

#[tokio::test]
async fn a_strap_session_replays_into_the_right_samples_once() {
    let app = App::configure(&format!("mqtt://127.0.0.1:{}", free_port()), "");
    app.user_with_device("ann@example.org", "aa:bb:cc:dd:ee:42");
    let (text, frames) = session();
    let file = app.data_dir.with_file_name("session.replay");
    std::fs::write(&file, text).unwrap();
    let file = file.display().to_string();

    let first = app.cli(&["ble", "replay", &file], "");
    assert!(first.contains(&format!("{frames} events")), "{first}");

    let (store, ann_person) = app.store_and_person("ann@example.org").await;
    let all = |m| store.samples(ann_person, m, 0, i64::MAX, 1_000_000);
    assert_eq!(all(Metric::HeartRate).await.unwrap().len(), frames);
    let rr = all(Metric::RrInterval).await.unwrap();
    assert_eq!(rr.len(), frames);
    assert!(
        rr.iter()
            .all(|s| s.value == 820_000.0 / 1024.0 || s.value == 840_000.0 / 1024.0)
    );

    let hrv = all(Metric::HrvRmssd).await.unwrap();
    assert_eq!(
        hrv.len(),
        8,
        "complete 5-minute windows in 40 minutes: {hrv:?}"
    );
    assert!(
        hrv.iter().all(|s| (s.value - 19.53125).abs() < 1e-9),
        "{hrv:?}"
    );
    assert!(hrv.iter().all(|s| (s.ts_ms - START_MS) % 300_000 == 0));

    let resting = all(Metric::RestingHeartRate).await.unwrap();
    assert_eq!(resting.len(), 1);
    assert!((resting[0].value - 74.0).abs() < 1e-9, "{resting:?}");

    let again = app.cli(&["ble", "replay", &file], "");
    assert!(again.contains(" 0 samples written"), "{again}");
    assert_eq!(all(Metric::HeartRate).await.unwrap().len(), frames);
    assert_eq!(all(Metric::HrvRmssd).await.unwrap().len(), 8);
}

#[tokio::test]
async fn ble_decode_prints_spec_values_and_refuses_bad_frames() {
    let app = App::configure("mqtt://127.0.0.1:1", "");
    // Heart Rate Measurement, uint16 bpm 257, energy 306 kJ, RR 1, 258, 65535 (1/1024 s).
    let out = app.cli(&["ble", "decode", "2a37", "1F0101320101000201FFFF"], "");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decoded"]["bpm"], 257);
    assert_eq!(v["decoded"]["energy_expended_kj"], 306);
    assert_eq!(v["decoded"]["rr_1024"], serde_json::json!([1, 258, 65535]));

    let bad = std::process::Command::new(crate::harness::BIN)
        .args(["ble", "decode", "0x2A19", "65"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("101"),
        "{bad:?}"
    );
}
