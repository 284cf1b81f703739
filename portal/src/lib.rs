//! CoHealth's web portal and JSON API (axum).
//!
//! Pages are rendered on the server with minijinja and work without JavaScript;
//! one small static script adds live updates over server-sent events. Charts are
//! SVG drawn in Rust from the store's rollups, so a year draws as fast as a day.
//!
//! # Layout
//! - [`router`] / [`router_with`]: every route and the shared [`AppState`].
//! - `pages`: sign-in, dashboard and devices; `api`: the JSON API under `/api/v1`.
//! - `auth`: passwords, browser sessions with CSRF tokens, bearer tokens (JWT).
//! - `chart`: server-rendered SVG trends; `dashboards`: which tiles and charts show.
//! - `templates`, `assets`, `security`: the skeleton every page reuses.
//! - [`PortalError`]: the one error type; 4xx render a page, 5xx are logged once.
//! - `ops`: health check and Prometheus counters.
//! - [`mail`]: outgoing email (reset and verification links), off without SMTP.
//!
//! The portal reads the same [`Store`] the daemon writes; it never talks to MQTT
//! or Bluetooth itself.

mod api;
mod assets;
pub mod auth;
pub mod chart;
mod clock;
mod dashboards;
mod error;
mod live;
pub mod mail;
mod ops;
mod pages;
mod security;
mod templates;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use cohealth_ingest::stats::IngestStats;
use cohealth_store::{LiveSample, Store};
use tokio_util::sync::CancellationToken;

pub use clock::Clock;
pub use dashboards::Dashboard;
pub use error::PortalError;

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

/// How a portal differs between production, tests and benches.
#[derive(Clone, Debug, Default)]
pub struct PortalOptions {
    /// Where "now" comes from; tests fix it for snapshots.
    pub clock: Clock,
    /// Cancelled at shutdown, so that open live streams end and the server can stop.
    pub stop: CancellationToken,
    /// Outgoing mail; `None` when no SMTP server is configured (mail is off).
    pub mailer: Option<mail::Mailer>,
    /// The portal's address as people reach it (`https://hub.example.org`), the
    /// base of links in emails.
    pub public_url: String,
}

/// The router's state: the shared [`AppState`] plus the portal's own parts.
#[derive(Clone)]
pub(crate) struct Portal {
    pub app: AppState,
    pub clock: Clock,
    pub stop: CancellationToken,
    pub dashboard: Arc<Dashboard>,
    pub jwt_key: Arc<tokio::sync::OnceCell<Vec<u8>>>,
    pub dashboard_cache: Arc<pages::cache::DashboardCache>,
    pub sessions: Arc<auth::session_cache::SessionCache>,
    pub limits: Arc<auth::limits::Limiter>,
    pub mail: Option<mail::Mailer>,
    pub public_url: Arc<str>,
}

impl FromRef<Portal> for AppState {
    fn from_ref(portal: &Portal) -> AppState {
        portal.app.clone()
    }
}

/// Builds the portal's router with the system clock.
pub fn router(state: AppState) -> Router {
    router_with(state, PortalOptions::default())
}

/// Builds the portal's router with explicit options.
pub fn router_with(state: AppState, options: PortalOptions) -> Router {
    let portal = Portal {
        dashboard_cache: Arc::new(pages::cache::DashboardCache::new(&state.live)),
        sessions: Arc::default(),
        limits: Arc::default(),
        app: state,
        clock: options.clock,
        stop: options.stop,
        dashboard: Arc::new(Dashboard::default_set()),
        jwt_key: Arc::default(),
        mail: options.mailer,
        public_url: options.public_url.into(),
    };
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route(
            "/forgot",
            get(pages::recovery::forgot_form).post(pages::recovery::forgot_submit),
        )
        .route(
            "/reset/{token}",
            get(pages::recovery::reset_form).post(pages::recovery::reset_submit),
        )
        .route("/verify", get(pages::recovery::verify_page))
        .route("/verify/resend", post(pages::recovery::verify_resend))
        .route("/verify/{token}", get(pages::recovery::verify_link))
        .route("/dashboard", get(pages::dashboard::page))
        .route("/devices", get(pages::devices::page))
        .route("/devices/claim", post(pages::devices::claim))
        .route("/devices/unclaim", post(pages::devices::unclaim))
        .route("/live", get(live::stream))
        .route("/static/{name}", get(assets::serve))
        .nest("/api/v1", api::router())
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .fallback(pages::not_found)
        .layer(axum::middleware::map_response(security::headers))
        .with_state(portal)
}
