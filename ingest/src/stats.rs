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
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let rows: [(&str, &str, &str, f64); 13] = [
            (
                "cohealth_readings_in_total",
                "counter",
                "Messages or frames received.",
                get(&self.readings_in) as f64,
            ),
            (
                "cohealth_samples_written_total",
                "counter",
                "Samples newly written.",
                get(&self.samples_written) as f64,
            ),
            (
                "cohealth_duplicates_total",
                "counter",
                "Samples already stored with the same key and value.",
                get(&self.duplicates) as f64,
            ),
            (
                "cohealth_rejected_values_total",
                "counter",
                "Values refused by range checks.",
                get(&self.rejected_values) as f64,
            ),
            (
                "cohealth_dead_letters_total",
                "counter",
                "Messages that could not be decoded.",
                get(&self.dead_letters) as f64,
            ),
            (
                "cohealth_batches_total",
                "counter",
                "Batches committed.",
                get(&self.batches) as f64,
            ),
            (
                "cohealth_batch_commit_seconds_sum",
                "counter",
                "Total time spent committing batches.",
                get(&self.commit_us_total) as f64 / 1e6,
            ),
            (
                "cohealth_batch_commit_seconds_max",
                "gauge",
                "Longest batch commit.",
                get(&self.commit_us_max) as f64 / 1e6,
            ),
            (
                "cohealth_ingest_lag_seconds",
                "gauge",
                "Age of the newest committed reading at commit.",
                get(&self.lag_ms) as f64 / 1e3,
            ),
            (
                "cohealth_mqtt_ack_delay_seconds",
                "gauge",
                "Receipt-to-ack time of the last batch's oldest message.",
                get(&self.ack_delay_ms) as f64 / 1e3,
            ),
            (
                "cohealth_pending_evicted_total",
                "counter",
                "Pending samples evicted (area full).",
                get(&self.pending_evicted) as f64,
            ),
            (
                "cohealth_pending_expired_total",
                "counter",
                "Pending samples expired unclaimed.",
                get(&self.pending_expired) as f64,
            ),
            (
                "cohealth_mqtt_connects_total",
                "counter",
                "MQTT connections established.",
                get(&self.mqtt_connects) as f64,
            ),
        ];
        let mut out = String::with_capacity(2048);
        for (name, kind, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}
