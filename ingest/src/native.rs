//! CoHealth's own JSON reading format, for scripts, phone shortcuts and tests.
//!
//! One message is one JSON object. It names the device (or the topic does, as its
//! last level) and carries either one value or a batch:
//!
//! ```json
//! {"device": "kitchen-scale", "metric": "weight", "value": 71.3,
//!  "time": "2026-03-29T07:12:00+02:00"}
//! {"device": "strap-1", "samples": [
//!   {"metric": "heart_rate", "value": 62, "time": "2026-03-29T07:12:00Z"},
//!   {"metric": "steps", "value": 5120, "cumulative": true}]}
//! ```
//!
//! `time` is RFC 3339 and optional (receipt time is used without it); `unit`, when
//! present, must be the metric's own unit, so a sender cannot silently mix pounds
//! into kilograms; `cumulative` marks running totals. Optional `name`, `model` and
//! `source` describe the device and a sub-source.

use chrono::DateTime;
use serde::Deserialize;

use crate::model::{DeviceId, Instant, Measurement, Metric, Reading, SourceKind, ValueKind};

/// Why a native message was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NativeError {
    /// The payload is not a JSON object of the documented shape.
    #[error("not a CoHealth reading: {0}")]
    Shape(String),
    /// Neither the payload nor the topic names a device.
    #[error("no device id in payload or topic")]
    NoDevice,
    /// The device id is empty, too long or has control characters.
    #[error("invalid device id")]
    BadDevice,
    /// A metric name is not in the registry.
    #[error("unknown metric `{0}`")]
    UnknownMetric(String),
    /// A unit differs from the metric's unit.
    #[error("metric `{metric}` is stored in `{expected}`, got `{got}`")]
    WrongUnit {
        /// The metric concerned.
        metric: &'static str,
        /// The unit we store it in.
        expected: &'static str,
        /// The unit the message gave.
        got: String,
    },
    /// A time is not RFC 3339.
    #[error("time `{0}` is not RFC 3339")]
    BadTime(String),
    /// The message carries no values.
    #[error("no samples in message")]
    Empty,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Message {
    device: Option<String>,
    name: Option<String>,
    model: Option<String>,
    source: Option<String>,
    metric: Option<String>,
    value: Option<f64>,
    time: Option<String>,
    unit: Option<String>,
    #[serde(default)]
    cumulative: bool,
    /// Entries are read one by one, so that one bad entry costs only itself.
    samples: Option<Vec<serde_json::Value>>,
}

impl Message {
    /// The top-level single value, when the message has one.
    fn single(&mut self) -> Result<Option<Entry>, NativeError> {
        match (self.metric.take(), self.value.take()) {
            (Some(metric), Some(value)) => Ok(Some(Entry {
                metric,
                value,
                time: self.time.take(),
                unit: self.unit.take(),
                cumulative: self.cumulative,
            })),
            (None, None) => Ok(None),
            _ => Err(NativeError::Shape(
                "`metric` and `value` go together".into(),
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    metric: String,
    value: f64,
    time: Option<String>,
    unit: Option<String>,
    #[serde(default)]
    cumulative: bool,
}

/// What a native message decoded to: the reading, and one reason per entry that
/// was refused (good entries beside a bad one are kept).
#[derive(Debug)]
pub struct NativeDecoded {
    /// The reading with every good entry.
    pub reading: Reading,
    /// Why each refused entry was refused.
    pub rejected: Vec<String>,
}

/// Decodes one native message received on `topic` at `received_ms`.
pub fn decode(topic: &str, payload: &[u8], received_ms: i64) -> Result<NativeDecoded, NativeError> {
    let mut msg: Message = serde_json::from_slice(payload)
        .map_err(|e| NativeError::Shape(crate::json::describe(&e)))?;
    let single = msg.single()?;
    let raw_device = match msg.device.as_deref() {
        Some(d) => d,
        None => topic_device(topic).ok_or(NativeError::NoDevice)?,
    };
    let device = DeviceId::parse(raw_device).ok_or(NativeError::BadDevice)?;

    let mut measurements = Vec::new();
    let mut refusals = Vec::new();
    if let Some(entry) = single {
        measurements.push(to_measurement(entry)?);
    }
    for (i, value) in msg.samples.unwrap_or_default().into_iter().enumerate() {
        let entry = serde_json::from_value::<Entry>(value)
            .map_err(|e| NativeError::Shape(crate::json::describe(&e)));
        match entry.and_then(to_measurement) {
            Ok(m) => measurements.push(m),
            Err(e) => refusals.push((i, e)),
        }
    }
    if measurements.is_empty() {
        return Err(refusals
            .into_iter()
            .next()
            .map_or(NativeError::Empty, |(_, e)| e));
    }

    let mut reading = Reading::new(device, SourceKind::Phone, received_ms);
    reading.sub_source = msg.source.unwrap_or_default();
    reading.name = msg.name;
    reading.model = msg.model;
    reading.measurements = measurements;
    let rejected = refusals
        .into_iter()
        .map(|(i, e)| format!("samples[{i}]: {e}"))
        .collect();
    Ok(NativeDecoded { reading, rejected })
}

/// The last topic level, when the topic has more than one (`cohealth/ingest/<device>`).
fn topic_device(topic: &str) -> Option<&str> {
    let (_, last) = topic.rsplit_once('/')?;
    (!last.is_empty()).then_some(last)
}

fn to_measurement(entry: Entry) -> Result<Measurement, NativeError> {
    let metric =
        Metric::from_name(&entry.metric).ok_or(NativeError::UnknownMetric(entry.metric))?;
    if let Some(unit) = entry.unit
        && unit != metric.unit()
    {
        return Err(NativeError::WrongUnit {
            metric: metric.as_str(),
            expected: metric.unit(),
            got: unit,
        });
    }
    let at = entry.time.map(|t| parse_time(&t)).transpose()?;
    let kind = if entry.cumulative {
        ValueKind::Cumulative
    } else {
        ValueKind::Gauge
    };
    Ok(Measurement {
        metric,
        value: entry.value,
        at,
        kind,
    })
}

/// Parses an RFC 3339 time, keeping its offset.
pub fn parse_time(text: &str) -> Result<Instant, NativeError> {
    let t = DateTime::parse_from_rfc3339(text).map_err(|_| NativeError::BadTime(text.into()))?;
    Ok(Instant {
        utc_ms: t.timestamp_millis(),
        offset_s: Some(t.offset().local_minus_utc()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_value_with_offset() {
        let p = br#"{"device":"aabbccddeeff","metric":"weight","value":71.3,
                    "time":"2026-03-29T07:12:00+02:00","unit":"kg"}"#;
        let r = decode("cohealth/ingest", p, 0).unwrap().reading;
        assert_eq!(r.device.as_str(), "AA:BB:CC:DD:EE:FF");
        let m = &r.measurements[0];
        assert_eq!(m.metric, Metric::Weight);
        assert_eq!(m.value, 71.3);
        let at = m.at.unwrap();
        assert_eq!(at.utc_ms, 1_774_761_120_000);
        assert_eq!(at.offset_s, Some(7200));
    }

    #[test]
    fn batch_with_device_from_topic() {
        let p = br#"{"samples":[{"metric":"heart_rate","value":62},
                    {"metric":"steps","value":5120,"cumulative":true}]}"#;
        let r = decode("cohealth/ingest/strap-1", p, 5).unwrap().reading;
        assert_eq!(r.device.as_str(), "strap-1");
        assert_eq!(r.measurements.len(), 2);
        assert_eq!(r.measurements[1].kind, ValueKind::Cumulative);
    }

    #[test]
    fn refusals_name_the_reason() {
        let cases: [(&[u8], NativeError); 4] = [
            (
                br#"{"metric":"pulse","value":1}"#,
                NativeError::UnknownMetric("pulse".into()),
            ),
            (br#"{"samples":[]}"#, NativeError::Empty),
            (
                br#"{"metric":"weight","value":1,"time":"yesterday"}"#,
                NativeError::BadTime("yesterday".into()),
            ),
            (
                br#"{"metric":"weight","value":150,"unit":"lb"}"#,
                NativeError::WrongUnit {
                    metric: "weight",
                    expected: "kg",
                    got: "lb".into(),
                },
            ),
        ];
        for (payload, want) in cases {
            assert_eq!(decode("cohealth/ingest/x", payload, 0).unwrap_err(), want);
        }
        assert!(matches!(decode("t", b"[1]", 0), Err(NativeError::Shape(_))));
        // A batch keeps its good entries and names the bad ones, without values.
        let p = br#"{"samples":[{"metric":"heart_rate","value":62},
                    {"metric":"weight","value":150,"unit":"lb"},
                    {"metric":"weight","value":"83.4 kg"}]}"#;
        let d = decode("cohealth/ingest/x", p, 0).unwrap();
        assert_eq!(d.reading.measurements.len(), 1);
        assert_eq!(d.rejected.len(), 2);
        assert!(d.rejected[0].starts_with("samples[1]: metric `weight` is stored in `kg`"));
        assert!(!d.rejected[1].contains("83.4"), "{}", d.rejected[1]);
        assert_eq!(
            decode("t", br#"{"metric":"weight","value":1}"#, 0).unwrap_err(),
            NativeError::NoDevice
        );
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(topic in ".{0,40}", payload in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode(&topic, &payload, 0);
        }

        #[test]
        fn good_values_round_trip(
            value in -1.0e12f64..1.0e12,
            ms in 946_684_800_000i64..4_102_444_800_000,
        ) {
            let time = chrono::DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339();
            let payload = format!(r#"{{"device":"d","metric":"heart_rate","value":{value},"time":"{time}"}}"#);
            let r = decode("t", payload.as_bytes(), 0).unwrap().reading;
            prop_assert_eq!(r.measurements[0].value, value);
            prop_assert_eq!(r.measurements[0].at.unwrap().utc_ms, ms);
        }
    }
}
