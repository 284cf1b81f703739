//! Durable ingest against the broker's own ceiling, in one run.
//!
//! For each broker setting, N QoS 1 messages are queued for a persistent session
//! while the consumer is away, then drained: once by a bare rumqttc subscriber that
//! acks at once (the ceiling), once by `cohealth serve`, which acks only after the
//! SQLite commit is fsync'd. Reported: the ratio of the two rates, bytes per sample
//! on disk, start-up time to the first HTTP answer, and RSS idle and under load.
//! The messages are a 1 Hz heart-rate stream (one reading per second of device
//! time) replayed as fast as the broker delivers it.
//! Run with `cargo bench --bench ingest` (`COHEALTH_BENCH_N` sets N).

#![expect(clippy::unwrap_used, reason = "a bench fails loudly")]
#![allow(missing_docs, dead_code)]

#[path = "../tests/e2e/harness.rs"]
mod harness;
#[path = "../tests/e2e/publisher.rs"]
mod publisher;

use std::time::{Duration, Instant};

use cohealth_ingest::Metric;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

use harness::{App, Broker, http_get};
use publisher::{heart_rate_burst, publish_all};

const TOPIC: &str = "cohealth/ingest/strap-1";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("COHEALTH_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    println!("cohealth ingest bench: {n} QoS 1 messages per run\n");
    startup_time().await;
    for inflight in [1000, 20] {
        let broker = Broker::start_with(inflight);
        let bare = bare_subscriber_rate(&broker, n).await;
        let daemon = daemon_rate(&broker, n).await;
        println!("broker max_inflight_messages {inflight}:");
        println!("  bare subscriber (acks at once): {bare:>9.0} msg/s");
        println!(
            "  cohealth (acks after fsync):    {:>9.0} msg/s  = {:.2}x the bare subscriber",
            daemon.rate,
            daemon.rate / bare
        );
        println!(
            "  mean messages per commit:       {:>9.1}",
            daemon.mean_batch
        );
        println!(
            "  bytes per sample on disk:       {:>9.1}",
            daemon.bytes_per_sample
        );
        println!(
            "  RSS idle / peak under load:     {:>6} KiB / {} KiB\n",
            daemon.rss_idle_kib, daemon.rss_peak_kib
        );
    }
}

async fn startup_time() {
    let broker = Broker::start();
    let app = App::configure(&broker.url(), "");
    app.cli(&["migrate"], "");
    let started = Instant::now();
    let mut child = std::process::Command::new(harness::BIN)
        .args(["serve", "--listen", &app.addr.to_string(), "--data-dir"])
        .arg(&app.data_dir)
        .args(["--mqtt", &broker.url()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    loop {
        if std::net::TcpStream::connect(app.addr).is_ok()
            && http_get(app.addr, "/healthz").await.0 == 200
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    println!(
        "start-up to first HTTP answer: {} ms\n",
        started.elapsed().as_millis()
    );
    let _ = child.kill();
    let _ = child.wait();
}

async fn bare_subscriber_rate(broker: &Broker, n: usize) -> f64 {
    let connect = || {
        let mut o = MqttOptions::new("bench-bare", "127.0.0.1", broker.port);
        o.set_clean_session(false);
        o.set_keep_alive(Duration::from_secs(30));
        AsyncClient::new(o, 1000)
    };
    // Create the session and its subscription, then leave.
    let (client, mut el) = connect();
    client.subscribe(TOPIC, QoS::AtLeastOnce).await.unwrap();
    while !matches!(el.poll().await.unwrap(), Event::Incoming(Packet::SubAck(_))) {}
    client.disconnect().await.unwrap();
    while el.poll().await.is_ok() {}

    publish_all(
        broker.port,
        "bench-pub-bare",
        heart_rate_burst(TOPIC, 1_780_000_000_000, n, 1000),
    )
    .await;

    let (_client, mut el) = connect();
    let started = Instant::now();
    let mut got = 0;
    while got < n {
        if let Event::Incoming(Packet::Publish(_)) = el.poll().await.unwrap() {
            got += 1;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

struct DaemonRun {
    rate: f64,
    mean_batch: f64,
    bytes_per_sample: f64,
    rss_idle_kib: u64,
    rss_peak_kib: u64,
}

async fn count(store: &cohealth_store::Store) -> i64 {
    let user = store
        .user_by_login("ann@example.org")
        .await
        .unwrap()
        .unwrap();
    store
        .count_samples(user.person_id, Metric::HeartRate)
        .await
        .unwrap()
}

fn db_bytes(app: &App) -> u64 {
    ["cohealth.db", "cohealth.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(app.data_dir.join(f)).ok())
        .map(|m| m.len())
        .sum()
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn daemon_rate(broker: &Broker, n: usize) -> DaemonRun {
    let app = App::configure(&broker.url(), "");
    app.user_with_device("ann@example.org", "strap-1");
    let mut app = app.spawn_serve();
    app.wait_subscribed(4);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle_kib = rss_kib(app.pid().unwrap(), "VmRSS:");
    assert!(app.terminate());
    let empty = db_bytes(&app);

    publish_all(
        broker.port,
        "bench-pub-daemon",
        heart_rate_burst(TOPIC, 1_780_000_000_000, n, 1000),
    )
    .await;

    let store = app.store().await;
    let started = Instant::now();
    app.restart();
    let mut peak = 0;
    while count(&store).await < n as i64 {
        peak = peak.max(rss_kib(app.pid().unwrap(), "VmHWM:"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    store.close().await;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let (_, metrics) = http_get(app.addr, "/metrics").await;
    let counter = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let mean_batch =
        counter("cohealth_readings_in_total ") / counter("cohealth_batches_total ").max(1.0);
    peak = peak.max(rss_kib(app.pid().unwrap(), "VmHWM:"));
    assert!(app.terminate());
    let bytes_per_sample = db_bytes(&app).saturating_sub(empty) as f64 / n as f64;
    DaemonRun {
        rate,
        mean_batch,
        bytes_per_sample,
        rss_idle_kib,
        rss_peak_kib: peak,
    }
}
