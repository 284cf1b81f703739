//! Exactly once from broker to disk: a 20 000-message QoS 1 burst survives kill -9
//! of the daemon, and a broker restart, with exactly 20 000 samples stored.

use std::time::Duration;

use cohealth_ingest::Metric;

use crate::harness::{App, Broker, eventually};
use crate::publisher::{heart_rate_burst, publish_all};

const N: usize = 20_000;
const T0: i64 = 1_780_000_000_000;

async fn person_samples(app: &App) -> i64 {
    let (store, person) = app.store_and_person("ann@example.org").await;
    let n = store
        .count_samples(person, Metric::HeartRate)
        .await
        .unwrap();
    store.close().await;
    n
}

async fn wait_for_exactly_n(app: &App) {
    eventually(Duration::from_secs(180), "all samples stored", || async {
        person_samples(app).await >= N as i64
    })
    .await;
    // Late redeliveries must not add anything.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(person_samples(app).await, N as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_burst_loses_and_doubles_nothing() {
    let broker = Broker::start();
    let app = App::configure(&broker.url(), "");
    app.user_with_device("ann@example.org", "strap-1");
    let mut app = app.spawn_serve();
    app.wait_subscribed(4);

    let burst = heart_rate_burst("cohealth/ingest/strap-1", T0, N, 1000);
    let port = broker.port;
    let publisher = tokio::spawn(async move { publish_all(port, "burst-kill", burst).await });

    eventually(Duration::from_secs(120), "a first part stored", || async {
        person_samples(&app).await > 2_000
    })
    .await;
    app.kill9();
    let stored_at_kill = person_samples(&app).await;
    assert!(
        stored_at_kill < N as i64,
        "the kill came too late to test anything"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.restart();

    publisher.await.unwrap();
    wait_for_exactly_n(&app).await;
    assert!(app.terminate(), "clean exit on SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_burst_loses_and_doubles_nothing() {
    let mut broker = Broker::start();
    let app = App::configure(&broker.url(), "");
    app.user_with_device("ann@example.org", "strap-1");
    let app = app.spawn_serve();
    app.wait_subscribed(4);

    let burst = heart_rate_burst("cohealth/ingest/strap-1", T0, N, 1000);
    let port = broker.port;
    let publisher = tokio::spawn(async move { publish_all(port, "burst-restart", burst).await });

    eventually(Duration::from_secs(120), "a first part stored", || async {
        person_samples(&app).await > 2_000
    })
    .await;
    broker.restart();

    publisher.await.unwrap();
    wait_for_exactly_n(&app).await;
    assert!(
        app.log().contains("lost the MQTT broker"),
        "the restart was noticed"
    );
}
