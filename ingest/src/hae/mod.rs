//! Decoder for the JSON that the iOS app Health Auto Export posts
//! (`{"data":{"metrics":[{"name","units","data":[{"qty","date","source"}]}],"workouts":[…]}}`).
//!
//! Pure (no I/O, no clock) and panic-free. The rules, and why:
//! - **One reading per `source` string.** The app writes which devices contributed
//!   to a point (`"Owner’s Apple Watch|Owner’s iPhone"`, sometimes `""`). Each
//!   distinct string becomes a reading whose `sub_source` is that string, exactly as
//!   sent, so two sources never overwrite each other in the store.
//! - **Every measurement carries the point's own date** ([`Instant`](crate::model::Instant) with the
//!   written offset). Nothing in the output except [`Reading::received_ms`] depends
//!   on the time of receipt, so a re-sent window (the app re-exports overlapping
//!   periods) yields identical measurements that the store's idempotent key
//!   (metric, instant, sub-source) de-duplicates, and late, back-dated points (a
//!   resting heart rate written to HealthKit hours after its timestamp) keep their
//!   date.
//! - **Amounts are increments.** `step_count`, `active_energy`,
//!   `basal_energy_burned` and `walking_running_distance` points are per-interval
//!   amounts (gauges), never running totals. Fractional steps are real (aggregated
//!   from partial samples) and kept.
//! - **Heart rate: `Avg` at the point's date.** Heart-rate points carry
//!   `Min`/`Avg`/`Max` over the point's interval. We store `Avg` as `heart_rate`
//!   (or `qty` when the app sends that instead): with the default per-second export
//!   the three are equal, and for aggregated exports the mean is what our own
//!   per-span summaries (min/mean/max) expect as input — storing `Min` and `Max` as
//!   separate heart-rate samples at the same instant would collide on the sample key
//!   and bias every average.
//! - **Nothing is guessed.** Unknown metric names and units, points without a usable
//!   date or value, and physically impossible values are reported in
//!   [`HaeBatch::skipped`]; the rest of the batch is kept.
//! - **Workouts are not imported** (no workout model yet); they are reported as
//!   skipped. Their `heartRateData` can even be the post-workout recovery series
//!   instead of the session (Health Auto Export issue #60), so it must not be
//!   mistaken for workout heart rate when workouts are added.

mod date;
mod metrics;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde_json::Value;

use crate::model::{DeviceId, Measurement, Metric, Reading, SourceKind};

pub use date::{HaeDateError, parse_hae_date};
use metrics::{Mapping, convert, field, mapping};

/// Why a Health Auto Export payload could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HaeError {
    /// The payload is not valid UTF-8 JSON.
    #[error("payload is not JSON: {0}")]
    NotJson(String),
    /// The payload is JSON but has no `data` object.
    #[error("payload has no `data` object (expected {{\"data\":{{\"metrics\":[…]}}}})")]
    NoData,
    /// `data.metrics` is present but not an array.
    #[error("`data.metrics` is not an array")]
    MetricsNotArray,
}

/// What one Health Auto Export payload decoded to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HaeBatch {
    /// One reading per distinct `source` string, in order of first appearance;
    /// source [`SourceKind::Phone`], every measurement dated by its point.
    pub readings: Vec<Reading>,
    /// `(metric name, reason)` for every metric, point or value not kept.
    pub skipped: Vec<(String, String)>,
}

/// Decodes a Health Auto Export JSON payload posted by `device`, received at
/// `received_ms` (UTC milliseconds; only copied into [`Reading::received_ms`]).
///
/// Values are converted to each metric's unit: bpm, count, kcal, m, kg, %, kg/m2,
/// degC, mmHg.
pub fn decode_hae(
    device: &DeviceId,
    payload: &[u8],
    received_ms: i64,
) -> Result<HaeBatch, HaeError> {
    let root: Value = serde_json::from_slice(payload)
        .map_err(|e| HaeError::NotJson(crate::json::describe(&e)))?;
    let data = root
        .get("data")
        .and_then(Value::as_object)
        .ok_or(HaeError::NoData)?;
    let metrics = match data.get("metrics") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(list)) => list.as_slice(),
        Some(_) => return Err(HaeError::MetricsNotArray),
    };

    let mut out = Collector {
        device,
        received_ms,
        batch: HaeBatch::default(),
        by_source: HashMap::new(),
    };
    for (i, metric) in metrics.iter().enumerate() {
        out.metric(i, metric);
    }
    for key in ["workouts", "stateOfMind", "medications", "symptoms", "ecg"] {
        let n = data.get(key).and_then(Value::as_array).map_or(0, Vec::len);
        if n > 0 {
            out.skip(
                key,
                format!("{n} {key} entries not imported: not supported"),
            );
        }
    }
    Ok(out.batch)
}

/// Longest `source` string kept as a sub-source, in bytes; longer ones are skipped
/// rather than cut, because cutting could merge two sources.
const MAX_SOURCE_LEN: usize = 256;

struct Collector<'a> {
    device: &'a DeviceId,
    received_ms: i64,
    batch: HaeBatch,
    /// Index into `batch.readings` per source string.
    by_source: HashMap<String, usize>,
}

impl Collector<'_> {
    fn skip(&mut self, name: &str, reason: String) {
        self.batch.skipped.push((name.to_string(), reason));
    }

    fn metric(&mut self, index: usize, metric: &Value) {
        let Some(obj) = metric.as_object() else {
            self.skip(&format!("metrics[{index}]"), "not an object".into());
            return;
        };
        let Some(name) = obj.get("name").and_then(Value::as_str) else {
            self.skip(&format!("metrics[{index}]"), "no `name`".into());
            return;
        };
        let name: String = name.chars().take(128).collect();
        let units = obj.get("units").and_then(Value::as_str).unwrap_or("");
        let points = obj.get("data").and_then(Value::as_array);
        match (mapping(&name), points) {
            (None, _) => self.skip(&name, format!("unknown metric (units {units:?})")),
            (Some(Mapping::Unsupported(why)), _) => self.skip(&name, why.to_string()),
            (Some(_), None) => self.skip(&name, "no `data` array".into()),
            (Some(map), Some(points)) => {
                for (i, point) in points.iter().enumerate() {
                    self.point(&name, units, map, i, point);
                }
            }
        }
    }

    fn point(&mut self, name: &str, units: &str, map: Mapping, i: usize, point: &Value) {
        let Some(point) = point.as_object() else {
            self.skip(name, format!("point {i}: not an object"));
            return;
        };
        let at = match point.get("date").and_then(Value::as_str) {
            Some(raw) => match parse_hae_date(raw) {
                Ok(at) => at,
                Err(e) => return self.skip(name, format!("point {i}: {e}")),
            },
            None => return self.skip(name, format!("point {i}: no `date`")),
        };
        let source = point.get("source").and_then(Value::as_str).unwrap_or("");
        if source.len() > MAX_SOURCE_LEN {
            return self.skip(
                name,
                format!("point {i}: source longer than {MAX_SOURCE_LEN} bytes"),
            );
        }
        let values: Vec<(Metric, Option<f64>)> = match map {
            Mapping::Single(Metric::HeartRate) => {
                vec![(
                    Metric::HeartRate,
                    field(point, "Avg").or(field(point, "qty")),
                )]
            }
            Mapping::Single(metric) => vec![(metric, field(point, "qty"))],
            Mapping::BloodPressure => vec![
                (Metric::BloodPressureSystolic, field(point, "systolic")),
                (Metric::BloodPressureDiastolic, field(point, "diastolic")),
            ],
            Mapping::Unsupported(_) => return,
        };
        let mut kept = Vec::with_capacity(values.len());
        for (metric, raw) in values {
            let Some(raw) = raw else {
                return self.skip(name, format!("point {i}: no value for {metric}"));
            };
            match convert(metric, units, raw) {
                Ok(v) => kept.push(Measurement::gauge_at(metric, v, at)),
                Err(e) => return self.skip(name, format!("point {i}: {e}")),
            }
        }
        if let [sys, dia] = kept.as_slice()
            && sys.value <= dia.value
        {
            return self.skip(name, format!("point {i}: systolic not above diastolic"));
        }
        self.reading(source).measurements.extend(kept);
    }

    fn reading(&mut self, source: &str) -> &mut Reading {
        let readings = &mut self.batch.readings;
        let pos = *self.by_source.entry(source.to_string()).or_insert_with(|| {
            let mut r = Reading::new(self.device.clone(), SourceKind::Phone, self.received_ms);
            r.sub_source = source.to_string();
            readings.push(r);
            readings.len() - 1
        });
        &mut readings[pos]
    }
}
