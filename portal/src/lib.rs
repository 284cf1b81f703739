//! CoHealth's web portal and JSON API (axum).
//!
//! # Layout
//! - [`router`]: every route and the shared [`AppState`].
//! - `ops`: health check and Prometheus counters.
//!
//! The portal reads the same [`Store`] the daemon writes; it never talks to MQTT
//! or Bluetooth itself.

pub mod auth;
mod ops;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use cohealth_ingest::stats::IngestStats;
use cohealth_store::{LiveSample, Store};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The shared store.
    pub store: Store,
    /// Ingest counters, shown at `/metrics`.
    pub stats: Arc<IngestStats>,
    /// Samples as they are committed, for live pages (SSE).
    pub live: tokio::sync::broadcast::Sender<LiveSample>,
}

/// Builds the portal's router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .with_state(state)
}
