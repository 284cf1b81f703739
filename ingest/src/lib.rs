//! Everything between a source and the store: the sample model, the decoders, the
//! pipeline and the MQTT source.
//!
//! # Layout
//! - [`model`]: metrics, measurements, readings, device ids (the shared words).
//! - [`native`]: CoHealth's own JSON reading format.
//! - [`pipeline`]: turns readings into timestamped, range-checked samples.
//! - [`mqtt`]: the QoS 1 subscriber that acks only after the store commits.
//! - [`stats`]: counters exported at `GET /metrics`.
//!
//! This crate does not know SQL: the store is reached through the [`mqtt::Sink`]
//! trait, so the ingest path can be tested and benchmarked against any store.

pub mod ble;
pub mod derive;
pub mod gateway;
pub mod hae;
pub mod json;
pub mod model;
pub mod mqtt;
pub mod native;
pub mod pipeline;
pub mod stats;
pub mod topics;

pub use model::{DeviceId, Instant, Measurement, Metric, Reading, SourceKind, ValueKind};
