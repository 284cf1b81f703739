//! The live Bluetooth path through the real btleplug code against a BlueZ
//! stand-in on a private system bus, and `cohealth serve` without Bluetooth.

use std::time::Duration;

use cohealth_ingest::model::Metric;

use crate::bluez::BlueZ;
use crate::harness::{App, eventually, free_port};

const MINE: &str = "AA:BB:CC:00:00:01";
const NEIGHBOUR: &str = "AA:BB:CC:00:00:02";

/// Quick timers, so that reconnects happen within the test's patience.
const FAST_BLE: &str = "[ble]\nscan_interval_seconds = 1\nadapter_retry_seconds = 1\n\
                        backoff_min_seconds = 1\nbackoff_max_seconds = 2\nlinger_ms = 50\n";

fn dead_broker() -> String {
    format!("mqtt://127.0.0.1:{}", free_port())
}

async fn heart_rates(app: &App) -> usize {
    let store = app.store().await;
    let ann = store
        .user_by_login("ann@example.org")
        .await
        .unwrap()
        .unwrap();
    let samples = store
        .samples(ann.person_id, Metric::HeartRate, 0, i64::MAX, 100_000)
        .await
        .unwrap();
    store.close().await;
    samples.len()
}

#[tokio::test]
async fn a_claimed_strap_streams_into_the_store_and_survives_leaving() {
    let mut bluez = BlueZ::start();
    bluez.send(&format!("strap {MINE} Polar%20H10"));
    bluez.send(&format!("strap {NEIGHBOUR} Neighbours%20H9"));
    let app = App::configure(&dead_broker(), FAST_BLE);
    app.user_with_device("ann@example.org", MINE);
    let mut app = app
        .with_env("DBUS_SYSTEM_BUS_ADDRESS", &bluez.address)
        .with_env("RUST_LOG", "info,cohealth_ingest::ble=debug")
        .spawn_serve();

    eventually(Duration::from_secs(30), "connected and subscribed", || {
        let ok = bluez.subscribed(MINE);
        async move { ok }
    })
    .await;
    for bpm in [0x48, 0x49, 0x4a] {
        bluez.send(&format!("notify {MINE} 00{bpm:02x}"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let stored = async {
        while heart_rates(&app).await < 3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), stored)
        .await
        .is_err()
    {
        panic!("no heart rates stored: {}", app.log());
    }

    // The neighbour's strap is heard (claimable) but never connected.
    let devices = app.cli(&["device", "list"], "");
    assert!(devices.contains(NEIGHBOUR), "{devices}");
    assert!(devices.contains("Neighbours H9"), "{devices}");
    assert_eq!(
        bluez.send(&format!("state {NEIGHBOUR}")),
        "connected=0 notifying=0"
    );

    // The strap walks away, then comes back: the daemon reconnects by itself.
    bluez.send(&format!("vanish {MINE}"));
    eventually(Duration::from_secs(20), "the drop noticed", || async {
        app.log().contains("device connection failed") || app.log().contains("device disconnected")
    })
    .await;
    bluez.send(&format!("strap {MINE} Polar%20H10"));
    eventually(Duration::from_secs(30), "reconnected", || {
        let ok = bluez.subscribed(MINE);
        async move { ok }
    })
    .await;
    bluez.send(&format!("notify {MINE} 0050"));
    eventually(Duration::from_secs(10), "a fourth heart rate", || async {
        heart_rates(&app).await == 4
    })
    .await;

    assert_eq!(
        bluez.send(&format!("state {NEIGHBOUR}")),
        "connected=0 notifying=0"
    );
    let log = app.log();
    assert!(!log.contains("ERROR"), "{log}");
    assert!(!log.contains("bpm"), "health values stay out of the log");
    assert!(app.terminate(), "clean exit on SIGTERM: {}", app.log());
}

#[tokio::test]
async fn an_unplugged_adapter_is_found_again() {
    let mut bluez = BlueZ::start();
    bluez.send(&format!("strap {MINE} H10"));
    let app = App::configure(&dead_broker(), FAST_BLE);
    app.user_with_device("ann@example.org", MINE);
    let mut app = app
        .with_env("DBUS_SYSTEM_BUS_ADDRESS", &bluez.address)
        .spawn_serve();
    eventually(Duration::from_secs(30), "connected and subscribed", || {
        let ok = bluez.subscribed(MINE);
        async move { ok }
    })
    .await;

    bluez.send("unplug");
    eventually(Duration::from_secs(20), "the loss noticed", || async {
        app.log().contains("Bluetooth adapter lost")
    })
    .await;
    bluez.send("plug");
    bluez.send(&format!("strap {MINE} H10"));
    eventually(Duration::from_secs(30), "reconnected", || {
        let ok = bluez.subscribed(MINE);
        async move { ok }
    })
    .await;
    bluez.send(&format!("notify {MINE} 0050"));
    eventually(
        Duration::from_secs(10),
        "a heart rate after the re-plug",
        || async { heart_rates(&app).await == 1 },
    )
    .await;
    assert_eq!(app.log().matches("Bluetooth adapter found").count(), 2);
    assert!(app.terminate(), "clean exit on SIGTERM: {}", app.log());
}

#[tokio::test]
async fn a_recorded_session_replays_into_the_store() {
    let mut bluez = BlueZ::start();
    bluez.send(&format!("strap {MINE} Polar%20H10"));
    bluez.send(&format!("strap {NEIGHBOUR} H9"));
    let app = App::configure(&dead_broker(), FAST_BLE);
    app.user_with_device("ann@example.org", MINE);
    let file = app.data_dir.with_file_name("strap.replay");
    let file_arg = file.display().to_string();
    let record = app
        .command(&["ble", "record", &file_arg, "--seconds", "6"])
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bluez.address)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    eventually(Duration::from_secs(5), "recording connected", || {
        let ok = bluez.subscribed(MINE);
        async move { ok }
    })
    .await;
    for bpm in [0x48, 0x49] {
        bluez.send(&format!("notify {MINE} 00{bpm:02x}"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = tokio::task::spawn_blocking(move || record.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(heart_rates(&app).await, 0, "recording stores nothing");

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains(&format!("{MINE} 2a37 0048")), "{text}");
    assert!(text.contains(&format!("{NEIGHBOUR} adv name:H9")), "{text}");
    let replayed = app.cli(&["ble", "replay", &file_arg], "");
    assert!(replayed.contains("0 undecodable"), "{replayed}");
    assert_eq!(heart_rates(&app).await, 2);
}

#[tokio::test]
async fn serve_without_bluetooth_says_so_once_and_runs_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!("unix:path={}/no_bus_socket", dir.path().display());
    let mut app = App::configure(&dead_broker(), "[ble]\nadapter_retry_seconds = 1\n")
        .with_env("DBUS_SYSTEM_BUS_ADDRESS", &nowhere)
        .spawn_serve();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let log = app.log();
    assert_eq!(log.matches("no Bluetooth adapter").count(), 1, "{log}");
    let ble_lines = log
        .lines()
        .filter(|l| l.contains("Bluetooth") || l.contains("ble"))
        .count();
    assert!(ble_lines <= 3, "{log}");
    assert!(!log.contains("WARN") && !log.contains("ERROR"), "{log}");
    assert!(app.terminate(), "clean exit on SIGTERM");
}
