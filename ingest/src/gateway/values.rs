//! Maps the health fields of a gateway's JSON onto measurements in our units.
//!
//! Field names are Theengs Decoder's (OpenMQTTGateway uses the same decoder):
//! `bpm` (heart-rate straps, Polar and XOSS adverts), `act_bpm` and `steps` (Mi Band /
//! Amazfit), `weight` + `unit` + `weighing_mode` + `impedance` (scales), `batt`.
//! Ranges are physical limits, not "healthy" limits: they only catch garbage.

use serde_json::{Map, Value};

use super::scale::{ScaleFrame, WeighingMode, raw_scale_flags};
use crate::model::{DeviceId, Measurement, Metric, Reading};

/// Heart rate a human heart can beat at, in bpm.
const HEART_RATE_BPM: (f64, f64) = (20.0, 300.0);
/// A day's step count, as a running total.
const DAILY_STEPS: (f64, f64) = (0.0, 500_000.0);
/// Body weight in kilograms (a newborn to the heaviest recorded humans).
const BODY_WEIGHT_KG: (f64, f64) = (1.0, 650.0);
/// Body impedance in ohms as bathroom scales measure it.
const IMPEDANCE_OHM: (f64, f64) = (1.0, 3000.0);
/// Battery level in percent.
const BATTERY_PCT: (f64, f64) = (0.0, 100.0);
/// One jin (市斤) in kilograms.
const KG_PER_JIN: f64 = 0.5;
/// One international avoirdupois pound in kilograms.
const KG_PER_LB: f64 = 0.453_592_37;

/// Adds the message's measurements to `reading`, explains dropped values in
/// `rejected`, and returns the scale state when the message carries a weight.
pub(super) fn decode_values(
    body: &Map<String, Value>,
    device: &DeviceId,
    received_ms: i64,
    reading: &mut Reading,
    rejected: &mut Vec<String>,
) -> Option<ScaleFrame> {
    let out = &mut reading.measurements;
    let heart = if body.contains_key("bpm") {
        "bpm"
    } else {
        "act_bpm"
    };
    if let Some(bpm) = number(body, heart, HEART_RATE_BPM, rejected) {
        out.push(Measurement::gauge(Metric::HeartRate, bpm));
    }
    if let Some(steps) = number(body, "steps", DAILY_STEPS, rejected) {
        if steps.fract() == 0.0 {
            out.push(Measurement::cumulative(Metric::Steps, steps));
        } else {
            rejected.push(format!("steps: {steps} is not a whole count"));
        }
    }
    if let Some(batt) = number(body, "batt", BATTERY_PCT, rejected) {
        out.push(Measurement::gauge(Metric::Battery, batt));
    }
    let scale = decode_scale(body, device, received_ms, rejected)?;
    if let Some(kg) = scale.weight_kg {
        out.push(Measurement::gauge(Metric::Weight, kg));
    }
    if let Some(ohm) = scale.impedance_ohm {
        out.push(Measurement::gauge(Metric::Impedance, ohm));
    }
    Some(scale)
}

/// Reads a scale's weight, unit, mode and impedance; `None` without a `weight` key.
fn decode_scale(
    body: &Map<String, Value>,
    device: &DeviceId,
    received_ms: i64,
    rejected: &mut Vec<String>,
) -> Option<ScaleFrame> {
    let raw = body.get("weight")?;
    let mode = match body.get("weighing_mode").or_else(|| body.get("mode")) {
        Some(Value::String(m)) if m == "person" => WeighingMode::Person,
        Some(Value::String(m)) if m == "object" => WeighingMode::Object,
        _ => WeighingMode::Unknown,
    };
    let (stabilised, load_removed) = raw_scale_flags(body);
    let mut frame = ScaleFrame {
        device: device.clone(),
        received_ms,
        mode,
        stabilised,
        load_removed,
        weight_kg: None,
        impedance_ohm: None,
    };
    if mode == WeighingMode::Object {
        rejected.push("weight: object weighing, not a body weight".to_string());
        return Some(frame);
    }
    if stabilised == Some(false) {
        rejected.push(format!(
            "weight: {raw} is an intermediate (not stabilised) frame"
        ));
        return Some(frame);
    }
    if !is_body_scale(body, mode) {
        rejected.push(format!(
            "weight: {raw} from a scale not known to weigh people ({})",
            super::text(body, "model_id")
                .or_else(|| super::text(body, "model"))
                .unwrap_or_else(|| "unknown model".into())
        ));
        return Some(frame);
    }
    let Some(factor) = unit_to_kg(body, rejected) else {
        return Some(frame);
    };
    frame.weight_kg = number(body, "weight", (f64::MIN, f64::MAX), rejected)
        .map(|w| w * factor)
        .and_then(|kg| in_range("weight (kg)", kg, BODY_WEIGHT_KG, rejected));
    frame.impedance_ohm = number(body, "impedance", IMPEDANCE_OHM, rejected);
    Some(frame)
}

/// Whether the weight is a person's: a declared `person` mode, or a Xiaomi body
/// scale (`XMTZC…`) known by model id or model (OpenMQTTGateway's older JSON).
fn is_body_scale(body: &Map<String, Value>, mode: WeighingMode) -> bool {
    if mode == WeighingMode::Person {
        return true;
    }
    ["model_id", "model"]
        .iter()
        .any(|key| super::text(body, key).is_some_and(|m| m.to_ascii_uppercase().contains("XMTZC")))
}

/// The factor from the message's `unit` to kilograms; absent means kg.
fn unit_to_kg(body: &Map<String, Value>, rejected: &mut Vec<String>) -> Option<f64> {
    match body.get("unit") {
        None => Some(1.0),
        Some(Value::String(u)) => match u.trim().to_ascii_lowercase().as_str() {
            "kg" => Some(1.0),
            "lb" | "lbs" => Some(KG_PER_LB),
            "jin" => Some(KG_PER_JIN),
            other => {
                rejected.push(format!("weight: unknown unit {other:?}"));
                None
            }
        },
        Some(other) => {
            rejected.push(format!("weight: unit {other} is not a string"));
            None
        }
    }
}

/// A numeric field within `range`; anything else present is explained in `rejected`.
fn number(
    body: &Map<String, Value>,
    key: &str,
    range: (f64, f64),
    rejected: &mut Vec<String>,
) -> Option<f64> {
    match body.get(key)? {
        Value::Number(n) => match n.as_f64() {
            Some(v) => in_range(key, v, range, rejected),
            None => {
                rejected.push(format!("{key}: {n} is not representable"));
                None
            }
        },
        other => {
            rejected.push(format!("{key}: {other} is not a number"));
            None
        }
    }
}

fn in_range(key: &str, v: f64, (lo, hi): (f64, f64), rejected: &mut Vec<String>) -> Option<f64> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Some(v)
    } else {
        rejected.push(format!("{key}: {v} is outside {lo}..={hi}"));
        None
    }
}
