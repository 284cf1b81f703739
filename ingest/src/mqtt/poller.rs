//! The poller: drives rumqttc's event loop (which also carries our acks out),
//! subscribes after every connect, and hands publishes to the batcher.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, Packet, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::Delivered;
use crate::stats::IngestStats;

pub(crate) async fn poll(
    mut eventloop: EventLoop,
    client: AsyncClient,
    filters: Vec<String>,
    tx: mpsc::UnboundedSender<Delivered>,
    epoch: Arc<AtomicU64>,
    stats: Arc<IngestStats>,
    stop: CancellationToken,
) {
    let mut connected_once = false;
    let mut failures: u32 = 0;
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                let current = epoch.fetch_add(1, Ordering::SeqCst) + 1;
                IngestStats::add(&stats.mqtt_connects, 1);
                failures = 0;
                info!(
                    mqtt.epoch = current,
                    mqtt.session_present = ack.session_present,
                    "connected to MQTT broker"
                );
                connected_once = true;
                for f in &filters {
                    if let Err(e) = client.subscribe(f.clone(), QoS::AtLeastOnce).await {
                        warn!(mqtt.filter = %f, error = %e, "subscribe request failed");
                    }
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) if publish.retain => {
                // A retained message replayed because we subscribed, not a new
                // reading: gateways time readings by receipt, so storing it would
                // invent a sample at every reconnect.
                IngestStats::add(&stats.retained_ignored, 1);
                debug!(mqtt.topic = %publish.topic, "ignoring a retained message");
                let _ = client.ack(&publish).await;
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let delivered = Delivered {
                    publish,
                    epoch: epoch.load(Ordering::SeqCst),
                    received_ms: now_ms(),
                };
                if tx.send(delivered).is_err() {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let refused = ack
                    .return_codes
                    .iter()
                    .filter(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                    .count();
                if refused > 0 {
                    warn!(
                        mqtt.refused = refused,
                        "the broker refused a subscription; check its ACLs"
                    );
                } else {
                    info!(mqtt.pkid = ack.pkid, "subscribed");
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(e) => {
                if !report_failure(&e, &mut failures, connected_once) {
                    return;
                }
                let delay = backoff(failures);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// Logs a connection failure without flooding; returns false when the loop should end.
fn report_failure(e: &ConnectionError, failures: &mut u32, connected_once: bool) -> bool {
    if matches!(e, ConnectionError::RequestsDone) {
        return false;
    }
    *failures += 1;
    if let ConnectionError::ConnectionRefused(code) = e {
        // Refusals do not heal by waiting: say so every time, but only every 10th try.
        if *failures % 10 == 1 {
            warn!(mqtt.refusal = ?code, "the MQTT broker refused us; check mqtt.username and the password");
        }
        return true;
    }
    if *failures == 1 {
        if connected_once {
            warn!(error = %e, "lost the MQTT broker; reconnecting with backoff");
        } else {
            info!(error = %e, "MQTT broker not reachable yet; retrying in the background");
        }
    } else {
        debug!(error = %e, attempt = *failures, "MQTT reconnect failed");
    }
    true
}

/// Exponential backoff from 100 ms to 30 s, with up to 25 % jitter.
pub(crate) fn backoff(failures: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << failures.min(9)).min(30_000);
    let jitter = (now_ms() as u64 % 1000) * base / 4000;
    Duration::from_millis(base + jitter)
}

/// Milliseconds since the Unix epoch, UTC.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff(1) < backoff(4));
        assert!(backoff(50) <= Duration::from_millis(37_500));
    }
}
