//! `cohealth serve` as a user first meets it.

use std::time::Duration;

use crate::harness::{App, Broker, eventually, free_port, http_get};

#[tokio::test]
async fn serve_answers_and_says_once_that_mqtt_is_not_there() {
    // Nobody listens on this port: the daemon must keep running and say so once.
    let dead_broker = format!("mqtt://127.0.0.1:{}", free_port());
    let mut app = App::start(&dead_broker, "");
    let (status, body) = http_get(app.addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = app.log();
    assert_eq!(
        log.matches("MQTT broker not reachable yet").count(),
        1,
        "{log}"
    );
    let (status, metrics) = http_get(app.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("cohealth_mqtt_connects_total 0"));
    assert!(app.terminate(), "clean exit on SIGTERM");
}

#[tokio::test]
async fn serve_says_once_that_mqtt_is_connected_and_counts() {
    let broker = Broker::start();
    let app = App::configure(&broker.url(), "");
    app.user_with_device("ann@example.org", "scale");
    let app = app.spawn_serve();
    eventually(Duration::from_secs(10), "connected", || async {
        app.log().contains("connected to MQTT broker")
    })
    .await;
    let publish = |payload: &str| {
        std::process::Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
            .args(["-t", "cohealth/ingest/scale", "-m", payload])
            .status()
            .unwrap()
    };
    assert!(publish(r#"{"metric":"weight","value":71.5}"#).success());
    assert!(publish("not json").success());
    eventually(Duration::from_secs(10), "counted", || async {
        let (_, m) = http_get(app.addr, "/metrics").await;
        m.contains("cohealth_samples_written_total 1")
            && m.contains("cohealth_dead_letters_total 1")
    })
    .await;
    assert_eq!(app.log().matches("connected to MQTT broker").count(), 1);
    let dead = app.cli(&["deadletters", "list"], "");
    assert!(
        dead.contains("cohealth/ingest/scale") && dead.contains("not a CoHealth reading"),
        "{dead}"
    );
    assert!(
        !app.log().contains("71.5"),
        "health values stay out of the log"
    );
}

#[tokio::test]
async fn retained_messages_replayed_on_subscribe_are_not_new_readings() {
    let broker = Broker::start();
    let publish = |retain: bool, bpm: u32| {
        let mut cmd = std::process::Command::new("mosquitto_pub");
        cmd.args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"]);
        if retain {
            cmd.arg("-r");
        }
        let payload =
            format!(r#"{{"id":"AA:BB:CC:DD:EE:07","brand":"Polar","model":"H10","bpm":{bpm}}}"#);
        cmd.args(["-t", "home/gw/BTtoMQTT/AABBCCDDEE07", "-m", &payload]);
        assert!(cmd.status().unwrap().success());
    };
    publish(true, 70);
    let app = App::configure(&broker.url(), "");
    app.user_with_device("ann@example.org", "AA:BB:CC:DD:EE:07");
    let app = app.spawn_serve();
    app.wait_subscribed(4);
    publish(false, 71);
    let (store, person) = app.store_and_person("ann@example.org").await;
    eventually(Duration::from_secs(10), "the live reading", || async {
        !store
            .samples(person, cohealth_ingest::Metric::HeartRate, 0, i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    })
    .await;
    let rows = store
        .samples(person, cohealth_ingest::Metric::HeartRate, 0, i64::MAX, 10)
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.value).collect::<Vec<_>>(), [71.0]);
    let (_, metrics) = http_get(app.addr, "/metrics").await;
    assert!(
        metrics.contains("cohealth_mqtt_retained_ignored_total 1"),
        "{metrics}"
    );
}
