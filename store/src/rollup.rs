//! Minute, hour and day aggregates, kept current as samples arrive.
//!
//! A minute takes only the highest-priority source that has data in it (the
//! person's order, else direct BLE > gateway > phone > import; ties go to the older
//! source), so a strap and a phone never double a step count. Minutes are rebuilt
//! from raw samples for the span a batch touched; hours and days are rebuilt from
//! minutes. Hours are UTC hours; days are the person's local days, so a DST day has
//! 23 or 25 hours, and a change of time zone rebuilds every day ([`Store::set_time_zone`]).

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

use crate::ingest::Row;
use crate::tx::{Tx, on_tx};
use crate::{Result, Store};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

/// count, sum, min and max of one bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Agg {
    /// Samples counted.
    pub n: i64,
    /// Sum of values.
    pub total: f64,
    /// Smallest value.
    pub lo: f64,
    /// Largest value.
    pub hi: f64,
}

impl Agg {
    fn of(v: f64) -> Agg {
        Agg {
            n: 1,
            total: v,
            lo: v,
            hi: v,
        }
    }

    fn add(&mut self, v: f64) {
        self.n += 1;
        self.total += v;
        self.lo = self.lo.min(v);
        self.hi = self.hi.max(v);
    }
}

/// One raw sample as the minute builder sees it.
#[derive(Clone, Copy, Debug)]
pub struct RawPoint {
    /// Instant, UTC ms.
    pub ts_ms: i64,
    /// Value in the metric's unit.
    pub value: f64,
    /// Effective priority of its source (lower wins).
    pub priority: i64,
    /// Its source id (the tie-breaker).
    pub source_id: i64,
}

/// Aggregates points (sorted by time) per minute, one source per minute.
pub fn minute_aggregates(points: &[RawPoint]) -> Vec<(i64, Agg)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < points.len() {
        let bucket = points[start].ts_ms.div_euclid(MINUTE) * MINUTE;
        let end = start + points[start..].partition_point(|p| p.ts_ms < bucket + MINUTE);
        let minute = &points[start..end];
        let best = minute
            .iter()
            .map(|p| (p.priority, p.source_id))
            .min()
            .unwrap_or_default();
        let mut agg: Option<Agg> = None;
        for p in minute.iter().filter(|p| (p.priority, p.source_id) == best) {
            match &mut agg {
                Some(a) => a.add(p.value),
                None => agg = Some(Agg::of(p.value)),
            }
        }
        if let Some(a) = agg {
            out.push((bucket, a));
        }
        start = end;
    }
    out
}

/// Refreshes every rollup the rows (of one person) touched.
///
/// Only the minutes that received samples are rebuilt, grouped into runs: a batch
/// with one sample from 2000 and one from today rebuilds two minutes, not 26 years.
pub(crate) async fn refresh_rows(tx: &mut Tx, person: i64, rows: &[Row]) -> Result<()> {
    let mut minutes: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for r in rows {
        minutes
            .entry(r.metric_id)
            .or_default()
            .push(r.ts_ms.div_euclid(MINUTE) * MINUTE);
    }
    let tz = person_zone(tx, person).await?;
    for (metric, mut buckets) in minutes {
        buckets.sort_unstable();
        buckets.dedup();
        for (from, to) in runs(&buckets, HOUR) {
            refresh_span(tx, person, metric, from, to, tz).await?;
        }
    }
    Ok(())
}

/// Groups sorted instants into `(first, last)` runs whose neighbours are at most
/// `gap` apart.
fn runs(sorted: &[i64], gap: i64) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &t in sorted {
        match out.last_mut() {
            Some((_, last)) if t - *last <= gap => *last = t,
            _ => out.push((t, t)),
        }
    }
    out
}

/// Rebuilds minutes, hours and days covering `[from_ms, to_ms]` for one series.
pub(crate) async fn refresh_span(
    tx: &mut Tx,
    person: i64,
    metric: i64,
    from_ms: i64,
    to_ms: i64,
    tz: Tz,
) -> Result<()> {
    let from = from_ms.div_euclid(MINUTE) * MINUTE;
    let to = to_ms.div_euclid(MINUTE) * MINUTE + MINUTE;
    rebuild_minutes(tx, person, metric, from, to).await?;
    let (h_from, h_to) = (
        from.div_euclid(HOUR) * HOUR,
        (to + HOUR - 1).div_euclid(HOUR) * HOUR,
    );
    rebuild_hours(tx, person, metric, h_from, h_to).await?;
    for (day, start, end) in local_days(tz, from, to) {
        rebuild_day(tx, person, metric, &day, start, end).await?;
    }
    Ok(())
}

async fn rebuild_minutes(tx: &mut Tx, person: i64, metric: i64, from: i64, to: i64) -> Result<()> {
    let rows: Vec<(i64, f64, i64, i64)> = on_tx!(tx, t => sqlx::query_as(
        "SELECT s.ts_ms, s.value, COALESCE(sp.priority, src.priority), s.source_id
         FROM sample s
         JOIN source src ON src.id = s.source_id
         LEFT JOIN source_priority sp ON sp.person_id = s.person_id AND sp.kind = src.kind
         WHERE s.person_id = $1 AND s.metric_id = $2 AND s.ts_ms >= $3 AND s.ts_ms < $4
         ORDER BY s.ts_ms",
    )
    .bind(person).bind(metric).bind(from).bind(to)
    .fetch_all(&mut **t).await?);
    let points: Vec<RawPoint> = rows
        .into_iter()
        .map(|(ts_ms, value, priority, source_id)| RawPoint {
            ts_ms,
            value,
            priority,
            source_id,
        })
        .collect();
    let minutes = minute_aggregates(&points);

    on_tx!(tx, t => sqlx::query(
        "DELETE FROM rollup_minute WHERE person_id = $1 AND metric_id = $2
         AND bucket_ms >= $3 AND bucket_ms < $4",
    )
    .bind(person).bind(metric).bind(from).bind(to)
    .execute(&mut **t).await?.rows_affected());
    write_minutes(tx, person, metric, &minutes).await
}

/// Inserts computed minute aggregates (the caller cleared their span).
pub(crate) async fn write_minutes(
    tx: &mut Tx,
    person: i64,
    metric: i64,
    minutes: &[(i64, Agg)],
) -> Result<()> {
    for chunk in minutes.chunks(500) {
        on_tx!(tx, t => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO rollup_minute (person_id, metric_id, bucket_ms, n, total, lo, hi) ",
            );
            q.push_values(chunk, |mut b, (bucket, a)| {
                b.push_bind(person).push_bind(metric).push_bind(*bucket)
                    .push_bind(a.n).push_bind(a.total).push_bind(a.lo).push_bind(a.hi);
            });
            q.build().execute(&mut **t).await?.rows_affected()
        });
    }
    Ok(())
}

pub(crate) async fn rebuild_hours(
    tx: &mut Tx,
    person: i64,
    metric: i64,
    from: i64,
    to: i64,
) -> Result<()> {
    on_tx!(tx, t => {
        sqlx::query(
            "DELETE FROM rollup_hour WHERE person_id = $1 AND metric_id = $2
             AND bucket_ms >= $3 AND bucket_ms < $4",
        )
        .bind(person).bind(metric).bind(from).bind(to)
        .execute(&mut **t).await?;
        sqlx::query(
            "INSERT INTO rollup_hour (person_id, metric_id, bucket_ms, n, total, lo, hi)
             SELECT person_id, metric_id, (bucket_ms / 3600000) * 3600000,
                    SUM(n), SUM(total), MIN(lo), MAX(hi)
             FROM rollup_minute
             WHERE person_id = $1 AND metric_id = $2 AND bucket_ms >= $3 AND bucket_ms < $4
             GROUP BY person_id, metric_id, (bucket_ms / 3600000) * 3600000",
        )
        .bind(person).bind(metric).bind(from).bind(to)
        .execute(&mut **t).await?.rows_affected()
    });
    Ok(())
}

pub(crate) async fn rebuild_day(
    tx: &mut Tx,
    person: i64,
    metric: i64,
    day: &str,
    start: i64,
    end: i64,
) -> Result<()> {
    on_tx!(tx, t => {
        sqlx::query("DELETE FROM rollup_day WHERE person_id = $1 AND metric_id = $2 AND day = $3")
            .bind(person).bind(metric).bind(day)
            .execute(&mut **t).await?;
        sqlx::query(
            "INSERT INTO rollup_day (person_id, metric_id, day, start_ms, end_ms, n, total, lo, hi)
             SELECT $1, $2, $3, $4, $5, SUM(n), SUM(total), MIN(lo), MAX(hi)
             FROM rollup_minute
             WHERE person_id = $1 AND metric_id = $2 AND bucket_ms >= $4 AND bucket_ms < $5
             HAVING COUNT(*) > 0",
        )
        .bind(person).bind(metric).bind(day).bind(start).bind(end)
        .execute(&mut **t).await?.rows_affected()
    });
    Ok(())
}

/// The person's time zone; UTC when unset or unknown.
pub(crate) async fn person_zone(tx: &mut Tx, person: i64) -> Result<Tz> {
    let name: Option<String> = on_tx!(tx, t =>
        sqlx::query_scalar("SELECT time_zone FROM person WHERE id = $1")
            .bind(person)
            .fetch_optional(&mut **t).await?);
    Ok(name.and_then(|n| n.parse().ok()).unwrap_or(Tz::UTC))
}

/// The local days (name, start ms, end ms) that overlap `[from, to)`.
pub fn local_days(tz: Tz, from: i64, to: i64) -> Vec<(String, i64, i64)> {
    let Some(first) = tz.timestamp_millis_opt(from).single() else {
        return Vec::new();
    };
    let mut date = first.date_naive();
    let mut out = Vec::new();
    loop {
        let start = day_start(tz, date);
        let Some(next) = date.succ_opt() else { break };
        let end = day_start(tz, next);
        if start >= to {
            break;
        }
        out.push((date.format("%Y-%m-%d").to_string(), start, end));
        date = next;
    }
    out
}

/// The first instant of a local date, UTC ms (midnight, or the first hour after a
/// DST gap where a zone skips midnight).
pub fn day_start(tz: Tz, date: NaiveDate) -> i64 {
    for hour in 0..4 {
        if let Some(t) = date
            .and_hms_opt(hour, 0, 0)
            .and_then(|naive| tz.from_local_datetime(&naive).earliest())
        {
            return t.timestamp_millis();
        }
    }
    date.and_hms_opt(0, 0, 0)
        .map_or(0, |n| n.and_utc().timestamp_millis())
}

impl Store {
    /// Sets a person's IANA time zone and rebuilds their day rollups in it.
    pub async fn set_time_zone(&self, person: i64, zone: &str) -> Result<()> {
        let tz: Tz = zone
            .parse()
            .map_err(|_| crate::StoreError::Invalid(format!("time zone `{zone}`")))?;
        let mut tx = self.begin_write().await?;
        on_tx!(&mut tx, t => sqlx::query("UPDATE person SET time_zone = $1 WHERE id = $2")
            .bind(tz.name()).bind(person)
            .execute(&mut **t).await?.rows_affected());
        rebuild_all_days(&mut tx, person, tz).await?;
        tx.commit().await
    }
}

/// Replaces every day rollup of a person, computed in `tz`.
pub(crate) async fn rebuild_all_days(tx: &mut Tx, person: i64, tz: Tz) -> Result<()> {
    let spans: Vec<(i64, i64, i64)> = on_tx!(&mut *tx, t => {
        sqlx::query("DELETE FROM rollup_day WHERE person_id = $1")
            .bind(person).execute(&mut **t).await?;
        sqlx::query_as(
            "SELECT metric_id, MIN(bucket_ms), MAX(bucket_ms) FROM rollup_minute
             WHERE person_id = $1 GROUP BY metric_id",
        )
        .bind(person)
        .fetch_all(&mut **t).await?
    });
    for (metric, from, to) in spans {
        for (day, start, end) in local_days(tz, from, to + MINUTE) {
            rebuild_day(tx, person, metric, &day, start, end).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ts_ms: i64, value: f64, priority: i64, source_id: i64) -> RawPoint {
        RawPoint {
            ts_ms,
            value,
            priority,
            source_id,
        }
    }

    #[test]
    fn a_minute_takes_one_source() {
        let points = [
            p(0, 10.0, 30, 2),
            p(1_000, 100.0, 10, 1),
            p(2_000, 5.0, 30, 2),
            p(61_000, 7.0, 30, 2),
        ];
        let m = minute_aggregates(&points);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0],
            (
                0,
                Agg {
                    n: 1,
                    total: 100.0,
                    lo: 100.0,
                    hi: 100.0
                }
            )
        );
        assert_eq!(
            m[1],
            (
                60_000,
                Agg {
                    n: 1,
                    total: 7.0,
                    lo: 7.0,
                    hi: 7.0
                }
            )
        );
    }

    #[test]
    fn far_apart_samples_make_separate_runs() {
        assert_eq!(runs(&[0, 60_000, 120_000], HOUR), [(0, 120_000)]);
        assert_eq!(
            runs(&[0, 10 * HOUR, 10 * HOUR + MINUTE], HOUR),
            [(0, 0), (10 * HOUR, 10 * HOUR + MINUTE)]
        );
        assert!(runs(&[], HOUR).is_empty());
    }

    #[test]
    fn berlin_dst_days_have_23_and_25_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let spring = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let autumn = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let len = |d: NaiveDate| day_start(tz, d.succ_opt().unwrap()) - day_start(tz, d);
        assert_eq!(len(spring), 23 * HOUR);
        assert_eq!(len(autumn), 25 * HOUR);
        let days = local_days(tz, day_start(tz, spring), day_start(tz, spring) + 24 * HOUR);
        assert_eq!(days.len(), 2);
        assert_eq!(days[0].0, "2026-03-29");
    }
}
