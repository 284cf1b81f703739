//! The MQTT source: a QoS 1 subscriber on a persistent session that acknowledges a
//! message only after the batch holding it is durably committed.
//!
//! Two tasks share the work. The *poller* drives rumqttc's event loop (which also
//! carries our acks out) and hands publishes over a channel; the *batcher* collects
//! them, decodes, commits through a [`Sink`], then acks. A crash anywhere before the
//! commit means the broker redelivers, and the store's idempotent keys make the
//! redelivery harmless: exactly once from broker to disk.
//!
//! Acks are tied to the connection that delivered the message. After a reconnect the
//! broker resends everything unacked under fresh packet ids, so acks of an older
//! connection are dropped rather than risk acknowledging a different message.
//!
//! How many messages one commit can cover is set by the broker: Mosquitto sends at
//! most `max_inflight_messages` unacked QoS 1 messages to one client (20 by default).
//! README.md ("Broker settings") gives the values a household's broker needs.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, Publish, QoS,
    TlsConfiguration, Transport,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::model::Reading;
use crate::stats::IngestStats;
use crate::topics::{Decoders, Route};

/// A message that could not be decoded, kept for inspection.
#[derive(Clone, Debug)]
pub struct DeadLetter {
    /// The topic it arrived on.
    pub topic: String,
    /// Why it was refused.
    pub error: String,
    /// The payload, cut to [`DEAD_LETTER_PAYLOAD_MAX`] bytes.
    pub payload: Vec<u8>,
    /// When it arrived, UTC ms.
    pub received_ms: i64,
}

/// Largest MQTT message we accept, bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// The most payload bytes a dead letter keeps.
pub const DEAD_LETTER_PAYLOAD_MAX: usize = 4096;

/// What one commit writes: decoded readings and undecodable messages alike.
#[derive(Debug, Default)]
pub struct Batch {
    /// Readings decoded from the batch's messages.
    pub readings: Vec<Reading>,
    /// Messages that could not be decoded.
    pub dead: Vec<DeadLetter>,
}

/// Where batches go; the store implements it, tests and benches may too.
pub trait Sink: Send + Sync + 'static {
    /// Writes `batch` durably; returns only once it would survive a power cut.
    fn commit(
        &self,
        batch: &Batch,
    ) -> impl Future<Output = Result<(), Box<dyn std::error::Error + Send + Sync>>> + Send;
}

/// Everything the MQTT source needs to know.
#[derive(Clone, Debug)]
pub struct MqttSettings {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    /// The client id; the broker keeps the persistent session under it.
    pub client_id: String,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// Password, if the broker wants one.
    pub password: Option<String>,
    /// Extra CA certificate (PEM) for `mqtts://`, besides the system roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Most messages in one commit.
    pub batch_max: usize,
    /// How long the batcher waits for more messages before committing.
    pub linger: Duration,
    /// Topic routes.
    pub routes: Vec<Route>,
}

/// Why the MQTT source could not start.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// The URL is not `mqtt://host[:port]` or `mqtts://host[:port]`.
    #[error("invalid MQTT URL `{0}`: expected mqtt://host[:port] or mqtts://host[:port]")]
    Url(String),
    /// TLS could not be set up.
    #[error("MQTT TLS setup: {0}")]
    Tls(String),
}

struct Delivered {
    publish: Publish,
    epoch: u64,
    received_ms: i64,
}

/// Runs the MQTT source until `cancel` fires, then flushes and acks what it holds.
pub async fn run<S: Sink>(
    settings: MqttSettings,
    sink: Arc<S>,
    stats: Arc<IngestStats>,
    cancel: CancellationToken,
) -> Result<(), MqttError> {
    let options = mqtt_options(&settings)?;
    let (client, eventloop) = AsyncClient::new(options, 4096);
    let (tx, rx) = mpsc::unbounded_channel();
    let epoch = Arc::new(AtomicU64::new(0));
    let decoders = Decoders::new(settings.routes.clone());
    let filters: Vec<String> = decoders.filters().map(str::to_owned).collect();

    let poll_stop = CancellationToken::new();
    let poller = tokio::spawn(poll(
        eventloop,
        client.clone(),
        filters,
        tx,
        epoch.clone(),
        stats.clone(),
        poll_stop.clone(),
    ));
    let batcher = Batcher {
        client: client.clone(),
        sink,
        stats,
        decoders,
        epoch,
        batch_max: settings.batch_max.max(1),
        linger: settings.linger,
        warned: HashMap::new(),
    };
    batcher.run(rx, cancel).await;

    // The acks are queued on the client; disconnecting after them lets the poller
    // write them out before the socket closes.
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), poller).await;
    poll_stop.cancel();
    Ok(())
}

fn mqtt_options(s: &MqttSettings) -> Result<MqttOptions, MqttError> {
    let (tls, rest) = if let Some(rest) = s.url.strip_prefix("mqtts://") {
        (true, rest)
    } else if let Some(rest) = s.url.strip_prefix("mqtt://") {
        (false, rest)
    } else {
        return Err(MqttError::Url(s.url.clone()));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse().map_err(|_| MqttError::Url(s.url.clone()))?),
        None => (rest, if tls { 8883 } else { 1883 }),
    };
    if host.is_empty() {
        return Err(MqttError::Url(s.url.clone()));
    }

    let mut o = MqttOptions::new(s.client_id.clone(), host, port);
    o.set_clean_session(false);
    o.set_manual_acks(true);
    o.set_keep_alive(s.keep_alive);
    // Health Auto Export sends whole days of minute data in one message. A message
    // larger than this would be refused and redelivered forever, so it is generous;
    // README tells households to cap it at the broker (`message_size_limit`).
    o.set_max_packet_size(MAX_MESSAGE_BYTES, 1 << 20);
    if let (Some(u), Some(p)) = (&s.username, &s.password) {
        o.set_credentials(u.clone(), p.clone());
    }
    if tls {
        let config = tls_config(s.ca_file.as_deref())?;
        o.set_transport(Transport::Tls(TlsConfiguration::Rustls(Arc::new(config))));
    }
    Ok(o)
}

fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, MqttError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let pem =
            std::fs::read(path).map_err(|e| MqttError::Tls(format!("{}: {e}", path.display())))?;
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let cert: rustls::pki_types::CertificateDer<'static> =
                cert.map_err(|e| MqttError::Tls(format!("{}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| MqttError::Tls(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MqttError::Tls(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

async fn poll(
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
fn backoff(failures: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << failures.min(9)).min(30_000);
    let jitter = (now_ms() as u64 % 1000) * base / 4000;
    Duration::from_millis(base + jitter)
}

/// Milliseconds since the Unix epoch, UTC.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

struct Batcher<S> {
    client: AsyncClient,
    sink: Arc<S>,
    stats: Arc<IngestStats>,
    decoders: Decoders,
    epoch: Arc<AtomicU64>,
    batch_max: usize,
    linger: Duration,
    warned: HashMap<String, i64>,
}

impl<S: Sink> Batcher<S> {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Delivered>, cancel: CancellationToken) {
        let mut held: Vec<Delivered> = Vec::with_capacity(self.batch_max);
        loop {
            let first = tokio::select! {
                _ = cancel.cancelled() => break,
                d = rx.recv() => d,
            };
            let Some(first) = first else { break };
            held.push(first);
            self.fill(&mut rx, &mut held).await;
            if !self.commit_and_ack(&mut held, &cancel).await {
                return;
            }
        }
        // Shutdown: whatever already arrived is committed and acked before we leave.
        while let Ok(d) = rx.try_recv() {
            held.push(d);
        }
        if !held.is_empty() {
            self.commit_and_ack(&mut held, &cancel).await;
        }
    }

    /// Takes more messages until the batch is full or `linger` has passed.
    async fn fill(&self, rx: &mut mpsc::UnboundedReceiver<Delivered>, held: &mut Vec<Delivered>) {
        let deadline = tokio::time::Instant::now() + self.linger;
        while held.len() < self.batch_max {
            match rx.try_recv() {
                Ok(d) => held.push(d),
                Err(_) => match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(d)) => held.push(d),
                    _ => break,
                },
            }
        }
    }

    /// Commits `held`, retrying while the store is unavailable; acks on success.
    /// Returns false when shutdown interrupted a retry (nothing is acked then).
    async fn commit_and_ack(
        &mut self,
        held: &mut Vec<Delivered>,
        cancel: &CancellationToken,
    ) -> bool {
        let batch = self.decode(held);
        let mut attempt = 0;
        loop {
            let started = std::time::Instant::now();
            match self.sink.commit(&batch).await {
                Ok(()) => {
                    self.stats
                        .record_commit(started.elapsed().as_micros() as u64);
                    break;
                }
                Err(e) => {
                    attempt += 1;
                    warn!(error = %e, attempt, "batch commit failed; retrying, nothing acked");
                    tokio::select! {
                        _ = cancel.cancelled() => return false,
                        _ = tokio::time::sleep(backoff(attempt)) => {}
                    }
                }
            }
        }
        self.ack(held).await;
        true
    }

    fn decode(&mut self, held: &[Delivered]) -> Batch {
        let mut batch = Batch::default();
        IngestStats::add(&self.stats.readings_in, held.len() as u64);
        for d in held {
            let topic = &d.publish.topic;
            match self
                .decoders
                .decode(topic, &d.publish.payload, d.received_ms)
            {
                Ok(decoded) => {
                    if !decoded.rejected.is_empty() {
                        debug!(mqtt.topic = %topic, reasons = ?decoded.rejected, "values not kept");
                    }
                    IngestStats::add(&self.stats.rejected_values, decoded.rejected.len() as u64);
                    batch.readings.extend(decoded.readings);
                }
                Err(e) => {
                    self.warn_dead_letter(topic, &e.to_string(), d.received_ms);
                    let cut = d.publish.payload.len().min(DEAD_LETTER_PAYLOAD_MAX);
                    batch.dead.push(DeadLetter {
                        topic: topic.clone(),
                        error: e.to_string(),
                        payload: d.publish.payload[..cut].to_vec(),
                        received_ms: d.received_ms,
                    });
                }
            }
        }
        IngestStats::add(&self.stats.dead_letters, batch.dead.len() as u64);
        batch
    }

    /// Warns at most once a minute per topic; never logs the payload.
    fn warn_dead_letter(&mut self, topic: &str, error: &str, now: i64) {
        if self.warned.len() > 1024 {
            self.warned.clear();
        }
        let last = self.warned.get(topic).copied().unwrap_or(i64::MIN);
        if now.saturating_sub(last) >= 60_000 {
            warn!(mqtt.topic = %topic, error, "undecodable message kept as a dead letter");
            self.warned.insert(topic.to_owned(), now);
        }
    }

    async fn ack(&self, held: &mut Vec<Delivered>) {
        let current = self.epoch.load(Ordering::SeqCst);
        if let Some(oldest) = held.iter().map(|d| d.received_ms).min() {
            let delay = (now_ms() - oldest).max(0) as u64;
            self.stats.ack_delay_ms.store(delay, Ordering::Relaxed);
        }
        for d in held.drain(..) {
            if d.epoch != current {
                debug!(mqtt.topic = %d.publish.topic, "not acking a message from an earlier connection");
                continue;
            }
            if let Err(e) = self.client.ack(&d.publish).await {
                debug!(error = %e, "ack could not be queued");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> MqttSettings {
        MqttSettings {
            url: url.into(),
            client_id: "t".into(),
            username: None,
            password: None,
            ca_file: None,
            keep_alive: Duration::from_secs(30),
            batch_max: 100,
            linger: Duration::from_millis(10),
            routes: vec![],
        }
    }

    #[test]
    fn urls() {
        assert!(mqtt_options(&settings("mqtt://127.0.0.1:1883")).is_ok());
        assert!(mqtt_options(&settings("mqtt://localhost")).is_ok());
        assert!(mqtt_options(&settings("http://x")).is_err());
        assert!(mqtt_options(&settings("mqtt://:1883")).is_err());
        assert!(mqtt_options(&settings("mqtt://h:notaport")).is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff(1) < backoff(4));
        assert!(backoff(50) <= Duration::from_millis(37_500));
    }
}
