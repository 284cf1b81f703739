//! A QoS 1 publisher that keeps going through broker restarts, for bursts.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// Publishes every message at QoS 1 and returns once the broker acked them all.
/// Unacked messages are re-sent after a reconnect, so the broker may see a few
/// twice: exactly what the daemon's idempotent keys must absorb.
pub async fn publish_all(port: u16, client_id: &str, messages: Vec<(String, String)>) {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options.set_clean_session(false);
    options.set_keep_alive(Duration::from_secs(5));
    options.set_inflight(200);
    let (client, mut eventloop) = AsyncClient::new(options, 1000);
    let total = messages.len();
    let sender = tokio::spawn(async move {
        for (topic, payload) in messages {
            client
                .publish(topic, QoS::AtLeastOnce, false, payload)
                .await
                .expect("queue a publish");
        }
        client
    });
    let mut acked = 0;
    while acked < total {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let client = sender.await.expect("sender task");
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while eventloop.poll().await.is_ok() {}
    })
    .await;
}

/// One native heart-rate message every `step_ms` from `t0_ms`, on `topic`.
pub fn heart_rate_burst(topic: &str, t0_ms: i64, n: usize, step_ms: i64) -> Vec<(String, String)> {
    (0..n as i64)
        .map(|i| {
            let time = chrono::DateTime::from_timestamp_millis(t0_ms + i * step_ms)
                .expect("time")
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let payload = format!(
                r#"{{"metric":"heart_rate","value":{},"time":"{time}"}}"#,
                60 + i % 60
            );
            (topic.to_owned(), payload)
        })
        .collect()
}
