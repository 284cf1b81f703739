//! The durable batch write behind every source.
//!
//! One transaction per batch: devices seen, sources, counter increments, samples of
//! claimed devices, the pending area for unclaimed ones, dead letters and the
//! rollups they touch. The daemon acks the messages only after [`Store::commit_batch`]
//! returns, and on SQLite the commit is fsync'd (`synchronous=FULL`), so an acked
//! reading survives a power cut. Sample keys make every retry harmless.

use std::collections::{BTreeMap, HashMap};

use cohealth_ingest::mqtt::Batch;
use cohealth_ingest::pipeline::{self, PreparedSample};
use cohealth_ingest::{Metric, Reading, ValueKind};

use crate::counters::{self, CounterState};
use crate::metrics::metric_id;
use crate::tx::{Tx, on_tx};
use crate::{Result, SourceKey, Store, rollup};

/// What one batch commit did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommitReport {
    /// Samples newly written (or corrected) for persons.
    pub written: u64,
    /// Samples that were already stored with the same key and value.
    pub duplicates: u64,
    /// Samples parked in the pending area (unclaimed devices).
    pub pending: u64,
    /// Values refused by range checks.
    pub rejected: u64,
    /// Undecodable messages kept as dead letters.
    pub dead: u64,
    /// Pending samples evicted to keep the area bounded.
    pub evicted: u64,
    /// Newest sample instant in the batch, UTC ms.
    pub newest_ms: Option<i64>,
    /// Persons' samples the batch wrote, for live views (at most [`LIVE_MAX`]).
    pub live: Vec<LiveSample>,
}

/// Most samples a commit reports for live views; a bulk import shows up on reload.
pub const LIVE_MAX: usize = 256;

/// A sample just committed for a person, as live views announce it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LiveSample {
    /// Whose sample.
    pub person_id: i64,
    /// What was measured.
    pub metric: Metric,
    /// Instant, UTC ms.
    pub ts_ms: i64,
    /// Value in the metric's unit.
    pub value: f64,
}

/// A sample on its way in, keyed by source.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row {
    pub source_id: i64,
    pub metric_id: i64,
    pub ts_ms: i64,
    pub value: f64,
    pub offset_s: Option<i64>,
}

const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    /// Writes a batch durably and idempotently; see the module docs.
    pub async fn commit_batch(&self, batch: &Batch) -> Result<CommitReport> {
        let mut report = CommitReport::default();
        let mut tx = self.begin_write().await?;
        let mut new_sources = Vec::new();

        let mut by_person: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
        let mut pending: Vec<(String, Row, i64)> = Vec::new();
        let mut counter_cache: HashMap<(i64, i64), Option<CounterState>> = HashMap::new();

        // One device row write and one claim lookup per device, not per reading: a
        // batch is usually many readings from a few devices.
        let mut owners: HashMap<&str, Option<i64>> = HashMap::new();
        for (device, seen) in devices_seen(&batch.readings) {
            upsert_device(&mut tx, device, &seen).await?;
            owners.insert(device, device_owner(&mut tx, device).await?);
        }

        for reading in &batch.readings {
            let (prepared, rejected) = pipeline::prepare(reading);
            report.rejected += rejected.len() as u64;
            let source_id = self.source_id(&mut tx, reading, &mut new_sources).await?;
            let owner = owners.get(reading.device.as_str()).copied().flatten();
            for s in prepared {
                let Some(row) = to_row(&mut tx, &mut counter_cache, source_id, &s).await? else {
                    continue;
                };
                report.newest_ms = report.newest_ms.max(Some(row.ts_ms));
                match owner {
                    Some(person) => by_person.entry(person).or_default().push(row),
                    None => pending.push((reading.device.to_string(), row, reading.received_ms)),
                }
            }
        }

        save_counters(&mut tx, &counter_cache).await?;
        for (person, rows) in &by_person {
            let written = insert_samples(&mut tx, *person, rows).await?;
            report.written += written;
            report.duplicates += rows.len() as u64 - written;
            rollup::refresh_rows(&mut tx, *person, rows).await?;
            let room = LIVE_MAX.saturating_sub(report.live.len());
            report
                .live
                .extend(rows.iter().rev().take(room).filter_map(|r| {
                    Some(LiveSample {
                        person_id: *person,
                        metric: crate::metrics::metric_from_id(r.metric_id)?,
                        ts_ms: r.ts_ms,
                        value: r.value,
                    })
                }));
        }
        report.pending = insert_pending(&mut tx, &pending).await?;
        report.duplicates += pending.len() as u64 - report.pending;
        if report.pending > 0 {
            report.evicted = self.evict_pending(&mut tx).await?;
        }
        report.dead = self.insert_dead_letters(&mut tx, &batch.dead).await?;

        tx.commit().await?;
        self.remember_sources(new_sources);
        Ok(report)
    }

    async fn source_id(
        &self,
        tx: &mut Tx,
        reading: &Reading,
        new_sources: &mut Vec<(SourceKey, i64)>,
    ) -> Result<i64> {
        let key = (
            reading.device.to_string(),
            reading.source.as_str().to_owned(),
            reading.sub_source.clone(),
        );
        if let Some(id) = self.cached_source(&key) {
            return Ok(id);
        }
        if let Some((_, id)) = new_sources.iter().find(|(k, _)| *k == key) {
            return Ok(*id);
        }
        let priority = reading.source.default_priority() as i64;
        let id: i64 = on_tx!(tx, t => {
            sqlx::query(
                "INSERT INTO source (device_id, kind, sub_source, priority) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (device_id, kind, sub_source) DO NOTHING",
            )
            .bind(&key.0).bind(&key.1).bind(&key.2).bind(priority)
            .execute(&mut **t).await?;
            sqlx::query_scalar(
                "SELECT id FROM source WHERE device_id = $1 AND kind = $2 AND sub_source = $3",
            )
            .bind(&key.0).bind(&key.1).bind(&key.2)
            .fetch_one(&mut **t).await?
        });
        new_sources.push((key, id));
        Ok(id)
    }

    fn cached_source(&self, key: &SourceKey) -> Option<i64> {
        self.sources.lock().ok()?.get(key).copied()
    }

    /// Sources created inside a transaction are cached only once it committed.
    fn remember_sources(&self, new_sources: Vec<(SourceKey, i64)>) {
        if let Ok(mut cache) = self.sources.lock() {
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.extend(new_sources);
        }
    }
}

/// What a batch says about one device: the latest of each detail.
#[derive(Default)]
struct DeviceSeen<'a> {
    name: Option<&'a str>,
    model: Option<&'a str>,
    last_seen_ms: i64,
    battery: Option<f64>,
    rssi: Option<i64>,
}

fn devices_seen(readings: &[Reading]) -> BTreeMap<&str, DeviceSeen<'_>> {
    let mut out: BTreeMap<&str, DeviceSeen<'_>> = BTreeMap::new();
    for r in readings {
        let seen = out.entry(r.device.as_str()).or_default();
        seen.name = r.name.as_deref().or(seen.name);
        seen.model = r.model.as_deref().or(seen.model);
        seen.last_seen_ms = seen.last_seen_ms.max(r.received_ms);
        seen.rssi = r.rssi.map(i64::from).or(seen.rssi);
        let battery = r.measurements.iter().rev().find(|m| {
            m.metric == Metric::Battery && pipeline::check_range(m.metric, m.value).is_ok()
        });
        seen.battery = battery.map(|m| m.value).or(seen.battery);
    }
    out
}

async fn upsert_device(tx: &mut Tx, device: &str, seen: &DeviceSeen<'_>) -> Result<()> {
    on_tx!(tx, t => sqlx::query(
        "INSERT INTO device (id, name, model, first_seen_ms, last_seen_ms, battery, rssi)
         VALUES ($1, $2, $3, $4, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET
           name = COALESCE(excluded.name, device.name),
           model = COALESCE(excluded.model, device.model),
           last_seen_ms = CASE WHEN excluded.last_seen_ms > device.last_seen_ms
                          THEN excluded.last_seen_ms ELSE device.last_seen_ms END,
           battery = COALESCE(excluded.battery, device.battery),
           rssi = COALESCE(excluded.rssi, device.rssi)",
    )
    .bind(device)
    .bind(seen.name)
    .bind(seen.model)
    .bind(seen.last_seen_ms)
    .bind(seen.battery)
    .bind(seen.rssi)
    .execute(&mut **t).await?.rows_affected());
    Ok(())
}

async fn device_owner(tx: &mut Tx, device: &str) -> Result<Option<i64>> {
    let owner: Option<Option<i64>> = on_tx!(tx, t =>
        sqlx::query_scalar("SELECT person_id FROM device WHERE id = $1")
            .bind(device)
            .fetch_optional(&mut **t).await?);
    Ok(owner.flatten())
}

/// Turns a prepared sample into a row, applying counter logic to running totals.
async fn to_row(
    tx: &mut Tx,
    cache: &mut HashMap<(i64, i64), Option<CounterState>>,
    source_id: i64,
    s: &PreparedSample,
) -> Result<Option<Row>> {
    let metric_id = metric_id(s.metric);
    let mut value = s.value;
    if s.kind == ValueKind::Cumulative {
        let key = (source_id, metric_id);
        if let std::collections::hash_map::Entry::Vacant(e) = cache.entry(key) {
            let loaded = load_counter(tx, key).await?;
            e.insert(loaded);
        }
        let state = cache.entry(key).or_default();
        match counters::advance(state, s.value, s.ts_ms) {
            Some(delta) => value = delta,
            None => return Ok(None),
        }
    }
    Ok(Some(Row {
        source_id,
        metric_id,
        ts_ms: s.ts_ms,
        value,
        offset_s: s.offset_s.map(i64::from),
    }))
}

async fn load_counter(tx: &mut Tx, (source, metric): (i64, i64)) -> Result<Option<CounterState>> {
    let row: Option<(f64, i64)> = on_tx!(tx, t => sqlx::query_as(
        "SELECT last_value, last_ts_ms FROM counter_state WHERE source_id = $1 AND metric_id = $2",
    )
    .bind(source).bind(metric)
    .fetch_optional(&mut **t).await?);
    Ok(row.map(|(value, ts_ms)| CounterState { value, ts_ms }))
}

async fn save_counters(
    tx: &mut Tx,
    cache: &HashMap<(i64, i64), Option<CounterState>>,
) -> Result<()> {
    for (&(source, metric), state) in cache {
        let Some(state) = state else { continue };
        on_tx!(tx, t => sqlx::query(
            "INSERT INTO counter_state (source_id, metric_id, last_value, last_ts_ms)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (source_id, metric_id) DO UPDATE SET
               last_value = excluded.last_value, last_ts_ms = excluded.last_ts_ms",
        )
        .bind(source).bind(metric).bind(state.value).bind(state.ts_ms)
        .execute(&mut **t).await?.rows_affected());
    }
    Ok(())
}

/// Inserts or corrects samples; returns how many rows changed.
///
/// Rows with one key inside the batch keep the last value: PostgreSQL refuses to
/// touch a row twice in one statement, and the last word is the freshest.
pub(crate) async fn insert_samples(tx: &mut Tx, person: i64, rows: &[Row]) -> Result<u64> {
    let unique = last_per_key(rows, |r| (r.metric_id, r.ts_ms, r.source_id));

    let mut changed = 0;
    for chunk in unique.chunks(ROWS_PER_STATEMENT) {
        changed += on_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO sample (person_id, metric_id, ts_ms, source_id, value, offset_s) ",
            );
            q.push_values(chunk, |mut b, r| {
                b.push_bind(person).push_bind(r.metric_id).push_bind(r.ts_ms)
                    .push_bind(r.source_id).push_bind(r.value).push_bind(r.offset_s);
            });
            q.push(
                " ON CONFLICT (person_id, metric_id, ts_ms, source_id) DO UPDATE SET
                  value = excluded.value, offset_s = excluded.offset_s
                  WHERE sample.value <> excluded.value",
            );
            q.build().execute(&mut **t).await?.rows_affected()
        });
    }
    Ok(changed)
}

async fn insert_pending(tx: &mut Tx, rows: &[(String, Row, i64)]) -> Result<u64> {
    let unique = last_per_key(rows, |(_, r, _)| (r.source_id, r.metric_id, r.ts_ms));
    let mut changed = 0;
    for chunk in unique.chunks(ROWS_PER_STATEMENT) {
        changed += on_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO pending_sample
                 (source_id, metric_id, ts_ms, device_id, value, offset_s, received_ms) ",
            );
            q.push_values(chunk, |mut b, (device, r, received)| {
                b.push_bind(r.source_id).push_bind(r.metric_id).push_bind(r.ts_ms)
                    .push_bind(device.as_str()).push_bind(r.value).push_bind(r.offset_s)
                    .push_bind(*received);
            });
            q.push(
                " ON CONFLICT (source_id, metric_id, ts_ms) DO UPDATE SET value = excluded.value
                  WHERE pending_sample.value <> excluded.value",
            );
            q.build().execute(&mut **t).await?.rows_affected()
        });
    }
    Ok(changed)
}

/// Keeps, for each key, only the last item with it (in the original order).
fn last_per_key<T: Clone, K: std::hash::Hash + Eq>(items: &[T], key: impl Fn(&T) -> K) -> Vec<T> {
    let mut last = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        last.insert(key(item), i);
    }
    if last.len() == items.len() {
        return items.to_vec();
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| items[i].clone()).collect()
}
