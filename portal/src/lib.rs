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
//! - [`export`]: one person's data as a ZIP (JSON Lines, CSV, FHIR R4), for the
//!   download page and the daemon's scheduled backups.
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
pub mod export;
mod live;
mod ops;
mod pages;
mod security;
mod templates;
mod units;

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
    /// The address people reach the portal at (`https://health.example`), for
    /// links in invitations and emails; `None` takes it from each request.
    pub public_url: Option<String>,
    /// This server terminates TLS itself: cookies get `Secure` on every request.
    pub tls: bool,
    /// Send `Strict-Transport-Security`; ignored unless [`PortalOptions::tls`].
    pub hsts: bool,
}

impl PortalOptions {
    fn security(&self) -> security::Policy {
        security::Policy {
            hsts: self.tls && self.hsts,
        }
    }
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
    pub public_url: Option<Arc<str>>,
    pub tls: bool,
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
    let policy = options.security();
    let portal = Portal {
        dashboard_cache: Arc::new(pages::cache::DashboardCache::new(&state.live)),
        sessions: Arc::default(),
        limits: Arc::default(),
        public_url: options.public_url.map(Arc::from),
        app: state,
        clock: options.clock,
        stop: options.stop,
        dashboard: Arc::new(Dashboard::default_set()),
        jwt_key: Arc::default(),
        tls: options.tls,
    };
    let router = Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route(
            "/register",
            get(pages::register::form).post(pages::register::submit),
        )
        .route(
            "/onboarding",
            get(pages::account::onboarding).post(pages::account::save_profile),
        )
        .route("/account", get(pages::account::page))
        .route("/account/profile", post(pages::account::save_profile))
        .route("/account/password", post(pages::account::change_password))
        .route("/account/email", post(pages::account::change_email))
        .route(
            "/account/export",
            get(pages::export::page).post(pages::export::submit),
        )
        .route("/account/sessions", get(pages::sessions::page))
        .route("/account/sessions/end", post(pages::sessions::end_one))
        .route(
            "/account/sessions/end-others",
            post(pages::sessions::end_others),
        )
        .route("/account/sessions/end-all", post(pages::sessions::end_all))
        .route(
            "/account/tokens",
            get(pages::tokens::page).post(pages::tokens::create),
        )
        .route("/account/tokens/revoke", post(pages::tokens::revoke))
        .route("/admin/household", get(pages::admin::page))
        .route(
            "/admin/household/registration",
            post(pages::admin::set_open),
        )
        .route("/admin/household/invite", post(pages::admin::invite))
        .route("/admin/household/withdraw", post(pages::admin::withdraw))
        .route("/dashboard", get(pages::dashboard::page))
        .route("/devices", get(pages::devices::page))
        .route("/devices/claim", post(pages::devices::claim))
        .route("/devices/unclaim", post(pages::devices::unclaim))
        .route("/live", get(live::stream))
        .route("/static/{name}", get(assets::serve))
        .nest("/api/v1", api::router())
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .fallback(pages::not_found);
    security::layer(router, policy).with_state(portal)
}

/// Adds the portal's security headers (CSP, HSTS as `options` say, …) to every
/// response of another router, for routes merged beside the portal's.
pub fn with_security_headers(router: Router, options: &PortalOptions) -> Router {
    security::layer(router, options.security())
}
