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

mod batcher;
mod options;
mod poller;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use rumqttc::{AsyncClient, Publish};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::model::Reading;
use crate::stats::IngestStats;
use crate::topics::{Decoders, Route};

pub use poller::now_ms;

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

/// Largest message we decode, bytes; larger ones become dead letters. Health
/// Auto Export sends whole days of minute data in one message.
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

/// Any error a sink or claim source may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where batches go; the store implements it, tests and benches may too.
pub trait Sink: Send + Sync + 'static {
    /// Writes `batch` durably; returns only once it would survive a power cut.
    fn commit(&self, batch: &Batch) -> impl Future<Output = Result<(), BoxError>> + Send;
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

pub(crate) struct Delivered {
    pub(crate) publish: Publish,
    pub(crate) epoch: u64,
    pub(crate) received_ms: i64,
}

/// Checks an MQTT URL without connecting (for configuration checks).
pub fn validate_url(url: &str) -> Result<(), MqttError> {
    let settings = MqttSettings {
        url: url.to_owned(),
        client_id: "check".into(),
        username: None,
        password: None,
        ca_file: None,
        keep_alive: Duration::from_secs(30),
        batch_max: 1,
        linger: Duration::ZERO,
        routes: Vec::new(),
    };
    options::mqtt_options(&settings).map(|_| ())
}

/// Runs the MQTT source until `cancel` fires, then flushes and acks what it holds.
pub async fn run<S: Sink>(
    settings: MqttSettings,
    sink: Arc<S>,
    stats: Arc<IngestStats>,
    cancel: CancellationToken,
) -> Result<(), MqttError> {
    let options = options::mqtt_options(&settings)?;
    let (client, eventloop) = AsyncClient::new(options, 4096);
    let (tx, rx) = mpsc::unbounded_channel();
    let epoch = Arc::new(AtomicU64::new(0));
    let decoders = Decoders::new(settings.routes.clone());
    let filters: Vec<String> = decoders.filters().map(str::to_owned).collect();

    let poll_stop = CancellationToken::new();
    let poller = tokio::spawn(poller::poll(
        eventloop,
        client.clone(),
        filters,
        tx,
        epoch.clone(),
        stats.clone(),
        poll_stop.clone(),
    ));
    let batcher = batcher::Batcher {
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
