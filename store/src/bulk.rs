//! Bulk loading: many samples of one series in one transaction, rolled up by the
//! same code as live ingest.
//!
//! Benchmarks and tests need a year of 1 Hz heart rate (31.5 M samples) in
//! minutes, not hours, so this path skips what makes `commit_batch` general —
//! decoding, counters, the pending area and the re-read of raw samples — and
//! computes minute aggregates in memory with [`minute_aggregates`] from the points
//! it was given. Hours and days come from the minutes through the rollup SQL, as
//! they do at ingest.
//!
//! It assumes the span holds samples of this one source only: a minute that also
//! holds another source's samples is rolled up from the loaded points alone.

use cohealth_ingest::{DeviceId, Metric, SourceKind};

use crate::ingest::{Row, insert_samples};
use crate::metrics::metric_id;
use crate::rollup::{self, RawPoint, local_days, minute_aggregates};
use crate::tx::{Tx, on_tx};
use crate::{Result, Store};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// What one bulk load wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BulkReport {
    /// Samples inserted or corrected.
    pub samples: u64,
    /// Minute aggregates written.
    pub minutes: u64,
    /// Local days rebuilt.
    pub days: u64,
}

impl Store {
    /// Loads `points` (UTC ms, value in the metric's unit) of `metric` from `device`
    /// into `person`'s data in one transaction, claiming the device for them, and
    /// rebuilds the minute, hour and day rollups the points cover.
    ///
    /// Call it once per slice (a day of 1 Hz data is a good size); a local day split
    /// across two slices is rebuilt whole by the second.
    pub async fn bulk_load(
        &self,
        person: i64,
        device: &DeviceId,
        kind: SourceKind,
        metric: Metric,
        points: &[(i64, f64)],
    ) -> Result<BulkReport> {
        let mut report = BulkReport::default();
        let (Some(from), Some(to)) = (
            points.iter().map(|p| p.0).min(),
            points.iter().map(|p| p.0).max(),
        ) else {
            return Ok(report);
        };
        let mut tx = self.begin_write().await?;
        let source_id = claimed_source(&mut tx, person, device, kind, to).await?;
        let metric_id = metric_id(metric);

        let mut rows: Vec<Row> = points
            .iter()
            .map(|&(ts_ms, value)| Row {
                source_id,
                metric_id,
                ts_ms,
                value,
                offset_s: None,
            })
            .collect();
        rows.sort_by_key(|r| r.ts_ms);
        report.samples = insert_samples(&mut tx, person, &rows).await?;

        let raw: Vec<RawPoint> = rows
            .iter()
            .map(|r| RawPoint {
                ts_ms: r.ts_ms,
                value: r.value,
                priority: 0,
                source_id,
            })
            .collect();
        let minutes = minute_aggregates(&raw);
        report.minutes = minutes.len() as u64;
        let (m_from, m_to) = (
            from.div_euclid(MINUTE) * MINUTE,
            to.div_euclid(MINUTE) * MINUTE + MINUTE,
        );
        clear_minutes(&mut tx, person, metric_id, m_from, m_to).await?;
        rollup::write_minutes(&mut tx, person, metric_id, &minutes).await?;

        let (h_from, h_to) = (
            m_from.div_euclid(HOUR) * HOUR,
            (m_to + HOUR - 1).div_euclid(HOUR) * HOUR,
        );
        rollup::rebuild_hours(&mut tx, person, metric_id, h_from, h_to).await?;
        let tz = rollup::person_zone(&mut tx, person).await?;
        for (day, start, end) in local_days(tz, m_from, m_to) {
            rollup::rebuild_day(&mut tx, person, metric_id, &day, start, end).await?;
            report.days += 1;
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// The source row for `device` and `kind`, with the device claimed by `person`.
async fn claimed_source(
    tx: &mut Tx,
    person: i64,
    device: &DeviceId,
    kind: SourceKind,
    seen_ms: i64,
) -> Result<i64> {
    let priority = i64::from(kind.default_priority());
    Ok(on_tx!(tx, t => {
        sqlx::query(
            "INSERT INTO device (id, first_seen_ms, last_seen_ms, person_id, claimed_ms)
             VALUES ($1, $2, $2, $3, $2)
             ON CONFLICT (id) DO UPDATE SET person_id = excluded.person_id",
        )
        .bind(device.as_str()).bind(seen_ms).bind(person)
        .execute(&mut **t).await?;
        sqlx::query(
            "INSERT INTO source (device_id, kind, sub_source, priority) VALUES ($1, $2, '', $3)
             ON CONFLICT (device_id, kind, sub_source) DO NOTHING",
        )
        .bind(device.as_str()).bind(kind.as_str()).bind(priority)
        .execute(&mut **t).await?;
        sqlx::query_scalar(
            "SELECT id FROM source WHERE device_id = $1 AND kind = $2 AND sub_source = ''",
        )
        .bind(device.as_str()).bind(kind.as_str())
        .fetch_one(&mut **t).await?
    }))
}

async fn clear_minutes(tx: &mut Tx, person: i64, metric: i64, from: i64, to: i64) -> Result<()> {
    on_tx!(tx, t => sqlx::query(
        "DELETE FROM rollup_minute WHERE person_id = $1 AND metric_id = $2
         AND bucket_ms >= $3 AND bucket_ms < $4",
    )
    .bind(person).bind(metric).bind(from).bind(to)
    .execute(&mut **t).await?.rows_affected());
    Ok(())
}
