//! Decoder for the JSON that Theengs Gateway and OpenMQTTGateway publish on
//! `<prefix>/<gateway>/BTtoMQTT/<id>`.
//!
//! These gateways already decode BLE advertisements; what reaches us is their JSON
//! (`{"id":"AA:BB:…","name":…,"rssi":-60,"brand":…,"model":…,"bpm":70}`). This module
//! only maps that JSON onto our model: one [`Reading`] per message, values converted
//! into each [`Metric`](crate::model::Metric)'s fixed unit, nothing else. It is pure
//! (no I/O, no clock) and never panics on any input.
//!
//! Why the rules are what they are:
//! - The id may be spelled `AABBCCDDEEFF` in the topic and `AA:BB:CC:DD:EE:FF` in the
//!   body; [`DeviceId::parse`] makes them one device. If both are present and name
//!   different devices the message is refused, because storing it under either id
//!   could attribute a stranger's values to the owner.
//! - A message from an unknown model, or one without health values, is a *seen
//!   device* (a reading without measurements), not an error: the gateway hears every
//!   advertiser in the house, and the daemon still wants to list them.
//! - A value that is not a finite number or outside a physically possible range is
//!   dropped and explained in [`GatewayFrame::rejected`]; we never substitute a value.
//! - Scale weights become body weight only for scales known to weigh people (a
//!   `weighing_mode` field or a Xiaomi `XMTZC…` model) and only in `person` mode:
//!   Theengs also decodes coffee scales (grams, negative while taring) and Xiaomi
//!   scales' `object` mode, neither of which is a body weight.
//! - Gateway JSON carries no trustworthy device clock (Xiaomi scales advertise a clock
//!   that is often never set), so measurements are timed by receipt (`at: None`).
//!
//! Scales repeat a weighing over many frames; [`WeighingFilter`] keeps one weight per
//! weighing (see [`scale`] for the rule).

pub mod scale;
mod values;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod weighing_tests;

use serde_json::{Map, Value};

use crate::model::{DeviceId, Reading, SourceKind};

pub use scale::{Admission, ScaleFrame, WeighingFilter, WeighingMode};

/// Why a gateway message could not become a [`Reading`] at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The topic is not `<prefix>/<gateway>/BTtoMQTT[/<id>]`.
    #[error("topic {0:?} is not a gateway topic: expected <prefix>/<gateway>/BTtoMQTT[/<id>]")]
    Topic(String),
    /// The payload is not valid UTF-8 JSON.
    #[error("payload is not JSON: {0}")]
    NotJson(String),
    /// The payload is JSON but not an object.
    #[error("payload is JSON but not an object (found {0})")]
    NotObject(&'static str),
    /// Neither the topic nor the payload's `id`/`mac` field names the device.
    #[error("no device id: neither the topic nor the payload's `id` names the device")]
    MissingId,
    /// The id given is empty, too long or contains control characters.
    #[error("device id {0:?} is not a usable id")]
    BadId(String),
    /// The topic and the payload name two different devices.
    #[error("topic names device {topic} but the payload names {body}")]
    IdMismatch {
        /// The id from the topic, normalised.
        topic: String,
        /// The id from the payload, normalised.
        body: String,
    },
}

/// Everything decoded from one gateway message.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayFrame {
    /// The reading (source [`SourceKind::Gateway`], sub-source = gateway name);
    /// its measurements are already in our units.
    pub reading: Reading,
    /// One human-readable reason per value that was present but not kept
    /// (not a number, out of range, object weighing, unknown unit, …).
    pub rejected: Vec<String>,
    /// Scale state for [`WeighingFilter`], when the message came from a scale.
    pub scale: Option<ScaleFrame>,
}

/// Decodes one gateway message into a [`Reading`].
///
/// `topic` is the MQTT topic, `payload` the message body, `received_ms` the time of
/// receipt in UTC milliseconds. Measurements: heart rate (`bpm`), cumulative daily
/// steps (`count`), body weight (`kg`), impedance (`ohm`) and battery (`%`); all are
/// timed by receipt. Unknown devices give a reading without measurements.
pub fn decode_gateway_message(
    topic: &str,
    payload: &[u8],
    received_ms: i64,
) -> Result<Reading, GatewayError> {
    decode_gateway_frame(topic, payload, received_ms).map(|frame| frame.reading)
}

/// Like [`decode_gateway_message`], but also returns the reasons for dropped values
/// and the scale state that [`WeighingFilter::filter`] needs.
pub fn decode_gateway_frame(
    topic: &str,
    payload: &[u8],
    received_ms: i64,
) -> Result<GatewayFrame, GatewayError> {
    let (gateway, topic_id) = parse_topic(topic)?;
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| GatewayError::NotJson(crate::json::describe(&e)))?;
    let Value::Object(body) = value else {
        return Err(GatewayError::NotObject(json_kind(&value)));
    };
    let device = resolve_device(topic_id, &body)?;

    let mut reading = Reading::new(device.clone(), SourceKind::Gateway, received_ms);
    reading.sub_source = gateway.to_string();
    reading.name = text(&body, "name");
    reading.model = model_label(&body);
    reading.rssi = body
        .get("rssi")
        .and_then(Value::as_i64)
        .and_then(|r| i16::try_from(r).ok())
        .filter(|r| (-127..=20).contains(r));

    let mut rejected = Vec::new();
    let scale = values::decode_values(&body, &device, received_ms, &mut reading, &mut rejected);
    Ok(GatewayFrame {
        reading,
        rejected,
        scale,
    })
}

/// Splits a topic into the gateway name and the optional id segment.
fn parse_topic(topic: &str) -> Result<(&str, Option<&str>), GatewayError> {
    let parts: Vec<&str> = topic.split('/').collect();
    let bad = || GatewayError::Topic(topic.to_string());
    let at = parts
        .iter()
        .position(|p| *p == "BTtoMQTT")
        .ok_or_else(bad)?;
    let gateway = match at.checked_sub(1).and_then(|i| parts.get(i)) {
        Some(name) if !name.is_empty() && !name.contains(['+', '#']) => *name,
        _ => return Err(bad()),
    };
    let id = match &parts[at + 1..] {
        [] | [""] => None,
        [id] => Some(*id),
        _ => return Err(bad()),
    };
    Ok((gateway, id))
}

/// Picks the device id from the topic and/or the body and checks they agree.
fn resolve_device(
    topic_id: Option<&str>,
    body: &Map<String, Value>,
) -> Result<DeviceId, GatewayError> {
    let parse = |raw: &str| DeviceId::parse(raw).ok_or_else(|| GatewayError::BadId(raw.into()));
    let from_topic = topic_id.map(parse).transpose()?;
    let body_raw = match body.get("id") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(GatewayError::BadId("non-string `id`".into())),
        None => body.get("mac").and_then(Value::as_str),
    };
    let from_body = body_raw.map(parse).transpose()?;
    match (from_topic, from_body) {
        (Some(t), Some(b)) if t != b => Err(GatewayError::IdMismatch {
            topic: t.to_string(),
            body: b.to_string(),
        }),
        (Some(t), _) => Ok(t),
        (None, Some(b)) => Ok(b),
        (None, None) => Err(GatewayError::MissingId),
    }
}

/// `brand model (model_id)`, from whichever of the three the gateway gave.
fn model_label(body: &Map<String, Value>) -> Option<String> {
    let brand = text(body, "brand");
    let model = text(body, "model");
    let model_id = text(body, "model_id");
    let mut label = [brand, model]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(id) = model_id {
        if label.is_empty() {
            label = id;
        } else if !label.contains(&id) {
            label = format!("{label} ({id})");
        }
    }
    (!label.is_empty()).then_some(label)
}

/// A non-empty, trimmed string field without control characters.
pub(crate) fn text(body: &Map<String, Value>, key: &str) -> Option<String> {
    let s = body.get(key)?.as_str()?.trim();
    (!s.is_empty() && s.len() <= 256 && !s.chars().any(char::is_control)).then(|| s.to_string())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
