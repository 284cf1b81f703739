//! Which Health Auto Export metrics we keep, in which units, and how one data point
//! becomes measurements.
//!
//! Names are the app's JSON `name`s (`step_count`, `heart_rate`, `weight_body_mass`,
//! …, as in its "API Export – JSON Format" wiki page and public ingesters). Units
//! are the `units` string the app sends with each metric; a unit we do not know is
//! skipped, never guessed. Ranges are physical limits that catch garbage, not
//! clinical limits.
//!
//! Deliberately not mapped: `heart_rate_variability` is Apple's SDNN, and our
//! [`Metric::HrvRmssd`] is RMSSD — a different statistic, so storing one as the other
//! would be wrong; `lean_body_mass` is not muscle mass. Both are skipped with that
//! reason until the model has a metric for them.

use serde_json::{Map, Value};

use crate::model::Metric;

const KCAL_PER_KJ: f64 = 1.0 / 4.184;
const M_PER_MI: f64 = 1609.344;
const KG_PER_LB: f64 = 0.453_592_37;

/// How one HAE metric maps onto ours.
#[derive(Debug, Clone, Copy)]
pub(super) enum Mapping {
    /// A `qty` field (or `Avg` for heart rate) in one metric.
    Single(Metric),
    /// `systolic` and `diastolic` fields.
    BloodPressure,
    /// Known, but deliberately not stored; the text says why.
    Unsupported(&'static str),
}

/// The mapping for an HAE metric name, `None` when the name is unknown.
pub(super) fn mapping(name: &str) -> Option<Mapping> {
    use Mapping::{BloodPressure, Single, Unsupported};
    Some(match name {
        "step_count" => Single(Metric::Steps),
        "heart_rate" => Single(Metric::HeartRate),
        "resting_heart_rate" => Single(Metric::RestingHeartRate),
        "active_energy" => Single(Metric::ActiveEnergy),
        "basal_energy_burned" => Single(Metric::BasalEnergy),
        "walking_running_distance" => Single(Metric::Distance),
        "weight_body_mass" => Single(Metric::Weight),
        "body_fat_percentage" => Single(Metric::BodyFat),
        "body_mass_index" => Single(Metric::Bmi),
        "blood_oxygen_saturation" => Single(Metric::Spo2),
        "body_temperature" => Single(Metric::BodyTemperature),
        "blood_pressure" => BloodPressure,
        "heart_rate_variability" => Unsupported(
            "Apple's heart-rate variability is SDNN; the store has RMSSD only (hrv_rmssd)",
        ),
        "lean_body_mass" => Unsupported("lean body mass is not muscle mass; no metric for it"),
        _ => return None,
    })
}

/// The factor from `units` to `metric`'s unit, or why the unit is refused.
///
/// Percentages are handled by [`percent`]; this returns 1 for them.
pub(super) fn unit_factor(metric: Metric, units: &str) -> Result<f64, String> {
    let u = units.trim();
    let factor = match (metric, u) {
        (Metric::Steps, "count") => 1.0,
        (Metric::HeartRate | Metric::RestingHeartRate, "count/min" | "bpm") => 1.0,
        (Metric::ActiveEnergy | Metric::BasalEnergy, "kcal" | "Cal") => 1.0,
        (Metric::ActiveEnergy | Metric::BasalEnergy, "kJ") => KCAL_PER_KJ,
        (Metric::Distance, "m") => 1.0,
        (Metric::Distance, "km") => 1000.0,
        (Metric::Distance, "mi") => M_PER_MI,
        (Metric::Weight, "kg") => 1.0,
        (Metric::Weight, "lb" | "lbs") => KG_PER_LB,
        (Metric::Weight, "g") => 0.001,
        (Metric::BodyFat | Metric::Spo2, "%") => 1.0,
        (Metric::Bmi, "count" | "kg/m2" | "kg/m^2" | "") => 1.0,
        (Metric::BodyTemperature, "degC") => 1.0,
        (Metric::BloodPressureSystolic | Metric::BloodPressureDiastolic, "mmHg") => 1.0,
        _ => {
            return Err(format!(
                "unit {u:?} is not one we convert to {} ({})",
                metric.unit(),
                metric
            ));
        }
    };
    Ok(factor)
}

/// Converts a value in `units` into `metric`'s unit (also °F → °C and 0–1
/// fractions → %) and checks it is physically possible.
pub(super) fn convert(metric: Metric, units: &str, raw: f64) -> Result<f64, String> {
    if !raw.is_finite() {
        return Err(format!("{raw} is not a finite number"));
    }
    let value = if metric == Metric::BodyTemperature && units.trim() == "degF" {
        (raw - 32.0) * 5.0 / 9.0
    } else {
        raw * unit_factor(metric, units)?
    };
    let value = percent(metric, value);
    let (lo, hi) = range(metric);
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{value} {} is outside {lo}..={hi} for {metric}",
            metric.unit()
        ))
    }
}

/// HealthKit stores percentages as 0–1 fractions and the app has exported both
/// forms; SpO2 or body fat at or below 1 % is impossible in a living person, so a
/// value in `0..=1` is read as a fraction.
fn percent(metric: Metric, value: f64) -> f64 {
    match metric {
        Metric::Spo2 | Metric::BodyFat if (0.0..=1.0).contains(&value) => value * 100.0,
        _ => value,
    }
}

/// Physically possible values per metric, in the metric's unit. Amounts (steps,
/// energy, distance) are per data point, which can be a whole day's aggregate.
fn range(metric: Metric) -> (f64, f64) {
    match metric {
        Metric::HeartRate => (20.0, 300.0),
        Metric::RestingHeartRate => (20.0, 250.0),
        Metric::Steps => (0.0, 200_000.0),
        Metric::ActiveEnergy | Metric::BasalEnergy => (0.0, 20_000.0),
        Metric::Distance => (0.0, 1_000_000.0),
        Metric::Weight => (1.0, 650.0),
        Metric::BodyFat => (1.0, 80.0),
        Metric::Bmi => (5.0, 200.0),
        Metric::Spo2 => (40.0, 100.0),
        Metric::BodyTemperature => (25.0, 45.0),
        Metric::BloodPressureSystolic => (40.0, 300.0),
        Metric::BloodPressureDiastolic => (20.0, 250.0),
        _ => (f64::MIN, f64::MAX),
    }
}

/// The number in `point[key]`, `None` when absent or not a number.
pub(super) fn field(point: &Map<String, Value>, key: &str) -> Option<f64> {
    point.get(key).and_then(Value::as_f64)
}
