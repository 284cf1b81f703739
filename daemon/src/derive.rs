//! Derived metrics: HRV (RMSSD per 5-minute window) from RR intervals, and resting
//! heart rate per local day, computed from stored samples and stored back through
//! the same batch write as everything else.
//!
//! Only raw streams (our own BLE, gateways) feed the derivations: a phone exporter
//! already sends its own resting heart rate, and deriving a second one under the
//! same device would overwrite it. Derived samples are keyed by window or day start
//! and their device's source, so deriving again changes nothing unless the inputs
//! did.

use std::collections::BTreeMap;

use cohealth_ingest::derive::{HRV_WINDOW_MS, hrv_rmssd, resting_heart_rate};
use cohealth_ingest::mqtt::Batch;
use cohealth_ingest::{DeviceId, Instant, Measurement, Metric, Reading, SourceKind};
use cohealth_store::{CommitReport, Person, SampleRow, Store, local_days};

const MAX_ROWS: i64 = 2_000_000;

/// Derives HRV and resting heart rate for `person` over `[from_ms, to_ms)`.
pub async fn derive_span(
    store: &Store,
    person: &Person,
    from_ms: i64,
    to_ms: i64,
) -> anyhow::Result<CommitReport> {
    let mut readings: BTreeMap<(String, &'static str), Reading> = BTreeMap::new();

    let rr = store
        .samples(
            person.id,
            Metric::RrInterval,
            from_ms - HRV_WINDOW_MS,
            to_ms,
            MAX_ROWS,
        )
        .await?;
    for (device, points) in raw_by_device(&rr) {
        for w in hrv_rmssd(&points)
            .into_iter()
            .filter(|w| w.start_ms + HRV_WINDOW_MS <= to_ms)
        {
            let m =
                Measurement::gauge_at(Metric::HrvRmssd, w.rmssd_ms, Instant::from_ms(w.start_ms));
            push(&mut readings, &device, to_ms, m);
        }
    }

    let tz: chrono_tz::Tz = person.time_zone.parse().unwrap_or(chrono_tz::Tz::UTC);
    for (_, start, end) in local_days(tz, from_ms, to_ms) {
        let hr = store
            .samples(person.id, Metric::HeartRate, start, end, MAX_ROWS)
            .await?;
        let Some((device, points)) = raw_by_device(&hr).into_iter().max_by_key(|(_, p)| p.len())
        else {
            continue;
        };
        if let Some(bpm) = resting_heart_rate(&points) {
            let m = Measurement::gauge_at(Metric::RestingHeartRate, bpm, Instant::from_ms(start));
            push(&mut readings, &device, to_ms, m);
        }
    }

    let batch = Batch {
        readings: readings
            .into_values()
            .filter(|r| !r.measurements.is_empty())
            .collect(),
        dead: Vec::new(),
    };
    if batch.readings.is_empty() {
        return Ok(CommitReport::default());
    }
    Ok(store.commit_batch(&batch).await?)
}

/// Samples from raw streams, grouped by (device, source kind).
fn raw_by_device(rows: &[SampleRow]) -> BTreeMap<(String, &'static str), Vec<(i64, f64)>> {
    let mut out: BTreeMap<(String, &'static str), Vec<(i64, f64)>> = BTreeMap::new();
    for r in rows {
        let kind = match SourceKind::from_name(&r.source) {
            Some(k @ (SourceKind::Ble | SourceKind::Gateway)) => k.as_str(),
            _ => continue,
        };
        out.entry((r.device.clone(), kind))
            .or_default()
            .push((r.ts_ms, r.value));
    }
    out
}

/// Adds a derived value to the reading of its device, creating it on first use.
fn push(
    readings: &mut BTreeMap<(String, &'static str), Reading>,
    key: &(String, &'static str),
    now_ms: i64,
    m: Measurement,
) {
    if !readings.contains_key(key) {
        let Some(device) = DeviceId::parse(&key.0) else {
            return;
        };
        let kind = SourceKind::from_name(key.1).unwrap_or(SourceKind::Ble);
        readings.insert(key.clone(), Reading::new(device, kind, now_ms));
    }
    if let Some(r) = readings.get_mut(key) {
        r.measurements.push(m);
    }
}
