//! Which decoder reads which MQTT topic.
//!
//! The mapping is data (`[[mqtt.topics]]` in `cohealth.toml`), so adding a source
//! format means adding a [`Format`] variant and its decoder, nothing in the MQTT loop.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::ble::BleError;
use crate::ble::advert::{self, AdvertData};
use crate::ble::weighing::WeighingTracker;
use crate::gateway::{self, GatewayError, WeighingFilter};
use crate::hae::{self, HaeError};
use crate::model::{DeviceId, Reading, SourceKind};
use crate::native;

/// A payload format we can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// CoHealth's own JSON (see [`crate::native`]).
    Cohealth,
    /// Theengs Gateway / OpenMQTTGateway decoded JSON (`home/<gw>/BTtoMQTT/<id>`).
    Gateway,
    /// A gateway's raw advertisements (`home/<gw>/BTtoMQTT/undecoded`), decoded by us.
    GatewayRaw,
    /// Health Auto Export JSON (`cohealth/hae/<name>`; `<name>` becomes device `hae:<name>`).
    HealthAutoExport,
}

/// One topic filter and the format of what arrives on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// An MQTT topic filter (`+` and `#` wildcards allowed).
    pub filter: String,
    /// The decoder for messages matching `filter`.
    pub format: Format,
}

/// The routes used when the configuration names none.
pub fn default_routes() -> Vec<Route> {
    let route = |filter: &str, format| Route {
        filter: filter.into(),
        format,
    };
    vec![
        route("cohealth/ingest/#", Format::Cohealth),
        route("cohealth/hae/+", Format::HealthAutoExport),
        // Before the decoded route, which would match it too: first match wins.
        route("home/+/BTtoMQTT/undecoded", Format::GatewayRaw),
        route("home/+/BTtoMQTT/+", Format::Gateway),
    ]
}

/// Why a message could not be decoded; stored with the dead letter.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The message is larger than we decode.
    #[error("message of {0} bytes is larger than the 64 MiB we decode")]
    TooLarge(usize),
    /// No route matches the topic.
    #[error("no decoder is configured for this topic")]
    NoRoute,
    /// The native decoder refused the payload.
    #[error(transparent)]
    Native(#[from] native::NativeError),
    /// The gateway decoder refused the payload.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// A raw advertisement could not be read.
    #[error(transparent)]
    Advert(#[from] BleError),
    /// The Health Auto Export decoder refused the payload.
    #[error(transparent)]
    Hae(#[from] HaeError),
    /// The topic's last level is not a usable device name.
    #[error("topic `{0}` does not end in a usable device name")]
    TopicDevice(String),
}

/// What one message decoded to.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The readings (possibly without measurements: a device seen).
    pub readings: Vec<Reading>,
    /// Values present but not kept, with the reason (never the value).
    pub rejected: Vec<String>,
}

impl Decoded {
    fn one(reading: Reading) -> Decoded {
        Decoded {
            readings: vec![reading],
            rejected: Vec::new(),
        }
    }
}

/// Decodes messages, keeping whatever state decoders need across messages.
#[derive(Debug)]
pub struct Decoders {
    routes: Vec<Route>,
    weighings: WeighingFilter,
    raw_weighings: HashMap<DeviceId, WeighingTracker>,
}

impl Decoders {
    /// Decoders for `routes`, tried in order.
    pub fn new(routes: Vec<Route>) -> Self {
        Decoders {
            routes,
            weighings: WeighingFilter::new(),
            raw_weighings: HashMap::new(),
        }
    }

    /// The topic filters to subscribe to.
    pub fn filters(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|r| r.filter.as_str())
    }

    /// Decodes one message received at `received_ms`.
    pub fn decode(
        &mut self,
        topic: &str,
        payload: &[u8],
        received_ms: i64,
    ) -> Result<Decoded, DecodeError> {
        let route = self
            .routes
            .iter()
            .find(|r| filter_matches(&r.filter, topic))
            .ok_or(DecodeError::NoRoute)?;
        match route.format {
            Format::Cohealth => {
                let d = native::decode(topic, payload, received_ms)?;
                Ok(Decoded {
                    readings: vec![d.reading],
                    rejected: d.rejected,
                })
            }
            Format::Gateway => self.decode_gateway(topic, payload, received_ms),
            Format::GatewayRaw => self.decode_raw(topic, payload, received_ms),
            Format::HealthAutoExport => decode_hae(topic, payload, received_ms),
        }
    }

    fn decode_gateway(
        &mut self,
        topic: &str,
        payload: &[u8],
        now: i64,
    ) -> Result<Decoded, DecodeError> {
        let mut frame = gateway::decode_gateway_frame(topic, payload, now)?;
        self.weighings.filter(&mut frame);
        self.weighings.forget_before(now - 10 * 60 * 1000);
        Ok(Decoded {
            readings: vec![frame.reading],
            rejected: frame.rejected,
        })
    }

    /// Decodes a gateway's raw advert ourselves: the same readings its decoder would
    /// publish, and one weight per weighing for scales.
    fn decode_raw(
        &mut self,
        topic: &str,
        payload: &[u8],
        now: i64,
    ) -> Result<Decoded, DecodeError> {
        let value: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|e| BleError::BadJson(crate::json::describe(&e)))?;
        let adv = advert::advert_from_gateway_json(&value)?;
        let device = advert::gateway_device_id(&value).ok_or(GatewayError::MissingId)?;
        let mut reading = Reading::new(device.clone(), SourceKind::Gateway, now);
        reading.sub_source = topic.split('/').nth(1).unwrap_or_default().to_owned();
        reading.name = adv.name.clone();
        reading.rssi = adv.rssi;
        if let Some(decoded) = advert::decode_advert(&adv)? {
            reading.model = Some(decoded.model.clone());
            reading.measurements = match &decoded.data {
                AdvertData::XiaomiScale(frame) => {
                    if self.raw_weighings.len() > 256 {
                        self.raw_weighings.clear();
                    }
                    self.raw_weighings.entry(device).or_default().push(frame)
                }
                _ => decoded.measurements(),
            };
        }
        Ok(Decoded::one(reading))
    }
}

/// Health Auto Export: the topic's last level names the phone (`hae:<name>`).
fn decode_hae(topic: &str, payload: &[u8], now: i64) -> Result<Decoded, DecodeError> {
    let name = topic.rsplit('/').next().unwrap_or_default();
    let device = DeviceId::parse(&format!("hae:{name}"))
        .filter(|_| !name.is_empty())
        .ok_or_else(|| DecodeError::TopicDevice(topic.to_owned()))?;
    let batch = hae::decode_hae(&device, payload, now)?;
    let rejected = batch
        .skipped
        .into_iter()
        .map(|(metric, reason)| format!("{metric}: {reason}"))
        .collect();
    let mut readings = batch.readings;
    if readings.is_empty() {
        // An export with nothing we keep still shows the phone as seen.
        readings.push(Reading::new(device, SourceKind::Phone, now));
    }
    Ok(Decoded { readings, rejected })
}

/// Whether an MQTT topic filter matches a topic name (MQTT 3.1.1 §4.7).
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    let mut topic_levels = topic.split('/');
    for level in filter.split('/') {
        match (level, topic_levels.next()) {
            ("#", _) => return true,
            ("+", Some(_)) => {}
            (want, Some(got)) if want == got => {}
            _ => return false,
        }
    }
    topic_levels.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::filter_matches;

    #[test]
    fn wildcards() {
        assert!(filter_matches(
            "home/+/BTtoMQTT/+",
            "home/gw1/BTtoMQTT/AABB"
        ));
        assert!(!filter_matches(
            "home/+/BTtoMQTT/+",
            "home/gw1/BTtoMQTT/AABB/x"
        ));
        assert!(filter_matches("cohealth/ingest/#", "cohealth/ingest"));
        assert!(filter_matches("cohealth/ingest/#", "cohealth/ingest/a/b"));
        assert!(!filter_matches("cohealth/ingest", "cohealth/ingest/a"));
        assert!(!filter_matches("a/b", "a"));
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// No topic and no payload makes any route's decoder panic.
        #[test]
        fn any_message_decodes_or_fails_cleanly(
            route in 0usize..4,
            last in "[A-Za-z0-9:_-]{0,20}",
            payload in prop::collection::vec(any::<u8>(), 0..512),
        ) {
            let topics = ["cohealth/ingest/", "cohealth/hae/", "home/gw/BTtoMQTT/undecoded", "home/gw/BTtoMQTT/"];
            let topic = if route == 2 { topics[2].to_owned() } else { format!("{}{last}", topics[route]) };
            let mut d = Decoders::new(default_routes());
            let _ = d.decode(&topic, &payload, 1_780_000_000_000);
        }

        /// JSON-shaped noise gets further into the decoders than random bytes.
        #[test]
        fn json_shaped_messages_never_panic(
            route in 0usize..4,
            keys in prop::collection::vec("(metric|value|time|samples|device|id|servicedata|servicedatauuid|manufacturerdata|data|metrics|qty|date|bpm|weight|unit|steps)", 0..6),
            values in prop::collection::vec("(null|-1|0|1e309|\"x\"|\"2a\"|\\[\\]|\\{\\}|\"2026-01-01T00:00:00Z\"|72.5)", 0..6),
        ) {
            let body: Vec<String> = keys.iter().zip(values.iter()).map(|(k, v)| format!("\"{k}\":{v}")).collect();
            let payload = format!("{{{}}}", body.join(","));
            let topic = ["cohealth/ingest/d", "cohealth/hae/p", "home/gw/BTtoMQTT/undecoded", "home/gw/BTtoMQTT/AABBCCDDEEFF"][route];
            let mut d = Decoders::new(default_routes());
            let _ = d.decode(topic, payload.as_bytes(), 1_780_000_000_000);
        }
    }
}
