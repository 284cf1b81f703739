//! Process-wide ingest counters, rendered in Prometheus text format at `/metrics`.
//!
//! Plain atomics rather than a metrics framework: a handful of counters does not
//! justify another dependency on a Raspberry Pi, and the text format is simple.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters shared by every source and the store.
#[derive(Debug, Default)]
pub struct IngestStats {
    /// Messages or frames received from any source.
    pub readings_in: AtomicU64,
    /// Samples newly written to the store (persons' data or the pending area).
    pub samples_written: AtomicU64,
    /// Samples already stored with the same key and value.
    pub duplicates: AtomicU64,
    /// Values refused by the range checks.
    pub rejected_values: AtomicU64,
    /// Messages that could not be decoded (kept as dead letters).
    pub dead_letters: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Sum of batch commit times, microseconds.
    pub commit_us_total: AtomicU64,
    /// Longest batch commit time seen, microseconds.
    pub commit_us_max: AtomicU64,
    /// Age of the newest committed reading's own time stamp at commit, ms.
    pub lag_ms: AtomicU64,
    /// Time from receipt of the oldest message in the last batch to its ack, ms.
    pub ack_delay_ms: AtomicU64,
    /// Pending-area samples evicted because the area was full.
    pub pending_evicted: AtomicU64,
    /// Pending-area samples dropped because they expired unclaimed.
    pub pending_expired: AtomicU64,
    /// MQTT connections established.
    pub mqtt_connects: AtomicU64,
    /// Retained messages replayed by the broker on subscribe, ignored.
    pub retained_ignored: AtomicU64,
}

impl IngestStats {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records one batch commit that took `us` microseconds.
    pub fn record_commit(&self, us: u64) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.commit_us_total.fetch_add(us, Ordering::Relaxed);
        self.commit_us_max.fetch_max(us, Ordering::Relaxed);
    }

    /// Renders all counters in Prometheus text exposition format.
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
        let counters = [
            (
                "readings_in_total",
                "Messages or frames received.",
                &self.readings_in,
            ),
            (
                "samples_written_total",
                "Samples newly written.",
                &self.samples_written,
            ),
            (
                "duplicates_total",
                "Samples already stored with the same key and value.",
                &self.duplicates,
            ),
            (
                "rejected_values_total",
                "Values refused by range checks.",
                &self.rejected_values,
            ),
            (
                "dead_letters_total",
                "Messages that could not be decoded.",
                &self.dead_letters,
            ),
            ("batches_total", "Batches committed.", &self.batches),
            (
                "pending_evicted_total",
                "Pending samples evicted (area full).",
                &self.pending_evicted,
            ),
            (
                "pending_expired_total",
                "Pending samples expired unclaimed.",
                &self.pending_expired,
            ),
            (
                "mqtt_retained_ignored_total",
                "Retained messages replayed on subscribe and ignored.",
                &self.retained_ignored,
            ),
            (
                "mqtt_connects_total",
                "MQTT connections established.",
                &self.mqtt_connects,
            ),
        ];
        let timings = [
            (
                "batch_commit_seconds_sum",
                "counter",
                "Total time spent committing batches.",
                get(&self.commit_us_total) / 1e6,
            ),
            (
                "batch_commit_seconds_max",
                "gauge",
                "Longest batch commit.",
                get(&self.commit_us_max) / 1e6,
            ),
            (
                "ingest_lag_seconds",
                "gauge",
                "Age of the newest committed reading at commit.",
                get(&self.lag_ms) / 1e3,
            ),
            (
                "mqtt_ack_delay_seconds",
                "gauge",
                "Receipt-to-ack time of the last batch's oldest message.",
                get(&self.ack_delay_ms) / 1e3,
            ),
        ];
        let rows = counters
            .into_iter()
            .map(|(name, help, c)| (name, "counter", help, get(c)))
            .chain(timings);
        let mut out = String::with_capacity(2048);
        for (name, kind, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP cohealth_{name} {help}\n# TYPE cohealth_{name} {kind}\ncohealth_{name} {value}"
            );
        }
        out
    }
}
