//! Reading a person's data back: raw samples and bucketed series from rollups.

use serde::Serialize;

use cohealth_ingest::Metric;

use crate::metrics::metric_id;
use crate::{Result, Store, on_pool};

/// One stored sample.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct SampleRow {
    /// Instant, UTC ms.
    pub ts_ms: i64,
    /// Value in the metric's unit.
    pub value: f64,
    /// Original UTC offset, seconds, when the source gave one.
    pub offset_s: Option<i64>,
    /// Source path kind (`ble`, `gateway`, `phone`, `import`).
    pub source: String,
    /// The device it came from.
    pub device: String,
}

/// Bucket width for a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    /// One UTC minute.
    Minute,
    /// One UTC hour.
    Hour,
    /// One local day in the person's time zone.
    Day,
}

/// One bucket of a series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// Bucket start, UTC ms.
    pub start_ms: i64,
    /// Local date, for day buckets.
    pub day: Option<String>,
    /// Samples counted.
    pub count: i64,
    /// Sum of values.
    pub sum: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Store {
    /// A person's samples of `metric` in `[from_ms, to_ms)`, oldest first (at most `limit`).
    pub async fn samples(
        &self,
        person: i64,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<SampleRow>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT s.ts_ms, s.value, s.offset_s, src.kind AS source, src.device_id AS device
             FROM sample s JOIN source src ON src.id = s.source_id
             WHERE s.person_id = $1 AND s.metric_id = $2 AND s.ts_ms >= $3 AND s.ts_ms < $4
             ORDER BY s.ts_ms, s.source_id LIMIT $5",
        )
        .bind(person).bind(metric_id(metric)).bind(from_ms).bind(to_ms).bind(limit)
        .fetch_all(p).await?))
    }

    /// Number of samples a person has for `metric` (all time).
    pub async fn count_samples(&self, person: i64, metric: Metric) -> Result<i64> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM sample WHERE person_id = $1 AND metric_id = $2",
        ).bind(person).bind(metric_id(metric)).fetch_one(p).await?))
    }

    /// A person's series of `metric` in buckets starting in `[from_ms, to_ms)`.
    pub async fn series(
        &self,
        person: i64,
        metric: Metric,
        bucket: Bucket,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<SeriesPoint>> {
        let id = metric_id(metric);
        if bucket == Bucket::Day {
            let rows: Vec<(String, i64, i64, f64, f64, f64)> = on_pool!(self, p => sqlx::query_as(
                "SELECT day, start_ms, n, total, lo, hi FROM rollup_day
                 WHERE person_id = $1 AND metric_id = $2 AND start_ms >= $3 AND start_ms < $4
                 ORDER BY start_ms",
            ).bind(person).bind(id).bind(from_ms).bind(to_ms).fetch_all(p).await?);
            return Ok(rows
                .into_iter()
                .map(|(day, start_ms, count, sum, min, max)| SeriesPoint {
                    start_ms,
                    day: Some(day),
                    count,
                    sum,
                    min,
                    max,
                })
                .collect());
        }
        let sql = match bucket {
            Bucket::Minute => {
                "SELECT bucket_ms, n, total, lo, hi FROM rollup_minute
                 WHERE person_id = $1 AND metric_id = $2 AND bucket_ms >= $3 AND bucket_ms < $4
                 ORDER BY bucket_ms"
            }
            _ => {
                "SELECT bucket_ms, n, total, lo, hi FROM rollup_hour
                 WHERE person_id = $1 AND metric_id = $2 AND bucket_ms >= $3 AND bucket_ms < $4
                 ORDER BY bucket_ms"
            }
        };
        let rows: Vec<(i64, i64, f64, f64, f64)> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(person).bind(id).bind(from_ms).bind(to_ms).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(|(start_ms, count, sum, min, max)| SeriesPoint {
                start_ms,
                day: None,
                count,
                sum,
                min,
                max,
            })
            .collect())
    }
}
