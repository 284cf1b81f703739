//! The batcher: collects delivered messages, decodes them, commits the batch
//! through the sink, and acks only what the commit covered.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::AsyncClient;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::poller::{backoff, now_ms};
use super::{Batch, DEAD_LETTER_PAYLOAD_MAX, DeadLetter, Delivered, Sink};
use crate::stats::IngestStats;
use crate::topics::Decoders;

pub(crate) struct Batcher<S> {
    pub(crate) client: AsyncClient,
    pub(crate) sink: Arc<S>,
    pub(crate) stats: Arc<IngestStats>,
    pub(crate) decoders: Decoders,
    pub(crate) epoch: Arc<AtomicU64>,
    pub(crate) batch_max: usize,
    pub(crate) linger: Duration,
    pub(crate) warned: HashMap<String, i64>,
}

impl<S: Sink> Batcher<S> {
    pub(crate) async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<Delivered>,
        cancel: CancellationToken,
    ) {
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
