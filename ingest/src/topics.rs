//! Which decoder reads which MQTT topic.
//!
//! The mapping is data (`[[mqtt.topics]]` in `cohealth.toml`), so adding a source
//! format means adding a [`Format`] variant and its decoder, nothing in the MQTT loop.

use serde::{Deserialize, Serialize};

use crate::model::Reading;
use crate::native;

/// A payload format we can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// CoHealth's own JSON (see [`crate::native`]).
    Cohealth,
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
    vec![Route {
        filter: "cohealth/ingest/#".into(),
        format: Format::Cohealth,
    }]
}

/// Why a message could not be decoded; stored with the dead letter.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// No route matches the topic.
    #[error("no decoder is configured for this topic")]
    NoRoute,
    /// The native decoder refused the payload.
    #[error(transparent)]
    Native(#[from] native::NativeError),
}

/// Decodes messages, keeping whatever state decoders need across messages.
#[derive(Debug)]
pub struct Decoders {
    routes: Vec<Route>,
}

impl Decoders {
    /// Decoders for `routes`, tried in order.
    pub fn new(routes: Vec<Route>) -> Self {
        Decoders { routes }
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
    ) -> Result<Vec<Reading>, DecodeError> {
        let route = self
            .routes
            .iter()
            .find(|r| filter_matches(&r.filter, topic))
            .ok_or(DecodeError::NoRoute)?;
        match route.format {
            Format::Cohealth => Ok(vec![native::decode(topic, payload, received_ms)?]),
        }
    }
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
        assert!(filter_matches("home/+/BTtoMQTT/+", "home/gw1/BTtoMQTT/AABB"));
        assert!(!filter_matches("home/+/BTtoMQTT/+", "home/gw1/BTtoMQTT/AABB/x"));
        assert!(filter_matches("cohealth/ingest/#", "cohealth/ingest"));
        assert!(filter_matches("cohealth/ingest/#", "cohealth/ingest/a/b"));
        assert!(!filter_matches("cohealth/ingest", "cohealth/ingest/a"));
        assert!(!filter_matches("a/b", "a"));
    }
}
