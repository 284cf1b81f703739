//! Turns readings into samples: picks each value's instant and refuses values that
//! cannot be physical.
//!
//! Timestamp policy (ARCHITECTURE.md): a device's own time stamp is used when the
//! frame carries one and it is plausible (not before 2000, not more than ten minutes
//! in our future); otherwise the time of receipt. Several RR intervals without their
//! own time stamps get instants counted back from receipt, the last one ending at
//! receipt, so that they never collide on one key.
//!
//! What the pipeline does *not* do: counter deltas and deduplication need the
//! store's memory of earlier readings, so the store does them inside the same
//! transaction that writes the samples.

use crate::model::{Metric, Reading, ValueKind};

/// Earliest device time we believe: 2000-01-01T00:00:00Z, in ms.
const EARLIEST_TRUSTED_MS: i64 = 946_684_800_000;
/// How far ahead of our clock a device clock may run before we ignore it, in ms.
const FUTURE_SLACK_MS: i64 = 10 * 60 * 1000;

/// One value ready for the store, still tied to its device rather than a person.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedSample {
    /// What was measured.
    pub metric: Metric,
    /// The instant, UTC ms.
    pub ts_ms: i64,
    /// The original UTC offset in seconds, when known.
    pub offset_s: Option<i32>,
    /// The value in the metric's unit.
    pub value: f64,
    /// Whether `value` is a running total the store must turn into an increment.
    pub kind: ValueKind,
}

/// A value the pipeline refused, with the reason (never the value itself in logs).
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    /// The metric concerned.
    pub metric: Metric,
    /// Why it was refused.
    pub reason: &'static str,
}

/// Prepares every measurement of `reading`; refused values are listed apart so
/// that one bad value never costs the good ones beside it.
pub fn prepare(reading: &Reading) -> (Vec<PreparedSample>, Vec<Rejected>) {
    let mut samples = Vec::with_capacity(reading.measurements.len());
    let mut rejected = Vec::new();
    let rr_back_offsets = rr_offsets(reading);

    for (i, m) in reading.measurements.iter().enumerate() {
        if let Err(reason) = check_range(m.metric, m.value) {
            rejected.push(Rejected {
                metric: m.metric,
                reason,
            });
            continue;
        }
        let trusted = m.at.filter(|at| plausible(at.utc_ms, reading.received_ms));
        let (ts_ms, offset_s) = match trusted {
            Some(at) => (at.utc_ms, at.offset_s),
            None => (reading.received_ms - rr_back_offsets[i], None),
        };
        samples.push(PreparedSample {
            metric: m.metric,
            ts_ms,
            offset_s,
            value: m.value,
            kind: m.kind,
        });
    }
    (samples, rejected)
}

/// For untimed RR intervals: how many ms before receipt each one ended.
fn rr_offsets(reading: &Reading) -> Vec<i64> {
    let mut offsets = vec![0; reading.measurements.len()];
    let mut back = 0.0_f64;
    for (i, m) in reading.measurements.iter().enumerate().rev() {
        if m.metric == Metric::RrInterval && m.at.is_none() && m.value.is_finite() {
            offsets[i] = back.round() as i64;
            back += m.value.max(0.0);
        }
    }
    offsets
}

fn plausible(ts_ms: i64, received_ms: i64) -> bool {
    ts_ms >= EARLIEST_TRUSTED_MS && ts_ms <= received_ms + FUTURE_SLACK_MS
}

/// Refuses values no human or device can produce, in the metric's unit.
pub fn check_range(metric: Metric, value: f64) -> Result<(), &'static str> {
    if !value.is_finite() {
        return Err("value is not a finite number");
    }
    let (lo, hi) = match metric {
        Metric::HeartRate | Metric::PulseRate | Metric::RestingHeartRate => (1.0, 300.0),
        Metric::RrInterval => (1.0, 5000.0),
        Metric::HrvRmssd => (0.0, 1000.0),
        Metric::Steps => (0.0, 1.0e6),
        Metric::ActiveEnergy | Metric::BasalEnergy => (0.0, 1.0e5),
        Metric::Distance => (0.0, 1.0e6),
        Metric::Speed => (0.0, 100.0),
        Metric::Cadence => (0.0, 1000.0),
        Metric::Weight | Metric::MuscleMass => (0.1, 700.0),
        Metric::BodyFat | Metric::Spo2 | Metric::Battery => (0.0, 100.0),
        Metric::Bmi => (1.0, 200.0),
        Metric::Impedance => (0.0, 1.0e5),
        Metric::BloodPressureSystolic
        | Metric::BloodPressureDiastolic
        | Metric::BloodPressureMean => (1.0, 400.0),
        Metric::BodyTemperature => (10.0, 50.0),
    };
    if value < lo || value > hi {
        return Err("value outside the physical range of its metric");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DeviceId, Instant, Measurement, SourceKind};

    fn reading(ms: Vec<Measurement>) -> Reading {
        let mut r = Reading::new(
            DeviceId::parse("d").unwrap(),
            SourceKind::Ble,
            1_000_000_000_000,
        );
        r.measurements = ms;
        r
    }

    #[test]
    fn rr_intervals_count_back_from_receipt() {
        let r = reading(vec![
            Measurement::gauge(Metric::HeartRate, 60.0),
            Measurement::gauge(Metric::RrInterval, 1000.0),
            Measurement::gauge(Metric::RrInterval, 500.0),
        ]);
        let (s, rej) = prepare(&r);
        assert!(rej.is_empty());
        assert_eq!(s[0].ts_ms, 1_000_000_000_000);
        assert_eq!(s[1].ts_ms, 1_000_000_000_000 - 500);
        assert_eq!(s[2].ts_ms, 1_000_000_000_000);
    }

    #[test]
    fn a_scale_that_says_1970_gets_receipt_time() {
        let r = reading(vec![Measurement::gauge_at(
            Metric::Weight,
            70.0,
            Instant::from_ms(0),
        )]);
        assert_eq!(prepare(&r).0[0].ts_ms, r.received_ms);
        let ok = Instant {
            utc_ms: r.received_ms - 60_000,
            offset_s: Some(3600),
        };
        let r = reading(vec![Measurement::gauge_at(Metric::Weight, 70.0, ok)]);
        assert_eq!(prepare(&r).0[0].ts_ms, ok.utc_ms);
        assert_eq!(prepare(&r).0[0].offset_s, Some(3600));
    }

    #[test]
    fn impossible_values_are_refused_alone() {
        let r = reading(vec![
            Measurement::gauge(Metric::HeartRate, f64::NAN),
            Measurement::gauge(Metric::HeartRate, 900.0),
            Measurement::gauge(Metric::Weight, 70.0),
        ]);
        let (s, rej) = prepare(&r);
        assert_eq!(s.len(), 1);
        assert_eq!(rej.len(), 2);
    }
}
