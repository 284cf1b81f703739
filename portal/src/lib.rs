//! CoHealth's web portal and JSON API (axum).
//!
//! Pages are rendered on the server with minijinja and work without JavaScript;
//! one small static script adds live updates over server-sent events. Charts are
//! SVG drawn in Rust from the store's rollups, so a year draws as fast as a day.
//!
//! # Layout
//! - [`router`] / [`router_with`]: every route and the shared [`AppState`].
//! - `pages`: sign-in (with its second factor), dashboard, devices, the 2FA
//!   account page and the admin's security page; `api`: the JSON API under `/api/v1`.
//! - `auth`: passwords, browser sessions with CSRF tokens, bearer tokens (JWT).
//! - `chart`: server-rendered SVG trends; `dashboards`: which tiles and charts show.
//! - `templates`, `assets`, `security`: the skeleton every page reuses.
//! - [`PortalError`]: the one error type; 4xx render a page, 5xx are logged once.
//! - `ops`: health check and Prometheus counters.
//! - [`export`]: one person's data as a ZIP (JSON Lines, CSV, FHIR R4), for the
//!   download page and the daemon's scheduled backups.
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
pub mod export;
mod live;
pub mod mail;
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
    /// Outgoing mail; `None` when no SMTP server is configured (mail is off).
    /// Mail also needs `public_url`: links in emails are never built from a
    /// request's Host header, which a stranger controls.
    pub mailer: Option<mail::Mailer>,
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
    /// Outgoing mail, with the configured base for its links.
    pub mail: Option<(mail::Mailer, Arc<str>)>,
    pub tls: bool,
}

impl FromRef<Portal> for AppState {
    fn from_ref(portal: &Portal) -> AppState {
        portal.app.clone()
    }
}

/// Mail is on only with a configured public address to build links from.
fn mail_with_links(
    mailer: Option<mail::Mailer>,
    public_url: Option<&str>,
) -> Option<(mail::Mailer, Arc<str>)> {
    match (mailer, public_url) {
        (Some(mailer), Some(url)) => Some((mailer, Arc::from(url.trim_end_matches('/')))),
        (Some(_), None) => {
            tracing::error!("outgoing mail needs the portal's public address; mail is off");
            None
        }
        (None, _) => None,
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
        mail: mail_with_links(options.mailer, options.public_url.as_deref()),
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
        .route("/sharing", get(pages::sharing::page))
        .route("/sharing/grant", post(pages::sharing::grant))
        .route("/sharing/revoke", post(pages::sharing::revoke))
        .route("/account/data", get(pages::data::page))
        .route("/account/data/metric", post(pages::data::delete_metric))
        .route("/account/data/device", post(pages::data::delete_device))
        .route("/account/data/account", post(pages::data::delete_account))
        .route("/account/data/cancel", post(pages::data::cancel))
        .route("/admin/household", get(pages::admin::page))
        .route(
            "/admin/household/registration",
            post(pages::admin::set_open),
        )
        .route("/admin/household/invite", post(pages::admin::invite))
        .route(
            "/admin/household/retention",
            post(pages::admin::set_retention),
        )
        .route("/admin/household/withdraw", post(pages::admin::withdraw))
        .route("/admin/household/role", post(pages::admin::set_role))
        .route("/admin/household/person", post(pages::admin::add_person))
        .route("/admin/household/claim", post(pages::admin::claim_for))
        .route("/admin/household/remove", post(pages::admin::remove))
        .route("/admin/household/keep", post(pages::admin::keep))
        .route(
            "/login/2fa",
            get(pages::twofactor::challenge_form).post(pages::twofactor::challenge_submit),
        )
        .route("/account/2fa", get(pages::twofactor::account_page))
        .route("/account/2fa/start", post(pages::twofactor::start))
        .route("/account/2fa/confirm", post(pages::twofactor::confirm))
        .route("/account/2fa/recovery", post(pages::twofactor::regenerate))
        .route("/account/2fa/disable", post(pages::twofactor::disable))
        .route(
            "/admin/security",
            get(pages::twofactor::admin_page).post(pages::twofactor::admin_save),
        )
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
        .layer(axum::middleware::from_fn_with_state(
            portal.clone(),
            pages::twofactor::enforce_household_rule,
        ));
    security::layer(router, policy).with_state(portal)
}

/// Adds the portal's security headers (CSP, HSTS as `options` say, …) to every
/// response of another router, for routes merged beside the portal's.
pub fn with_security_headers(router: Router, options: &PortalOptions) -> Router {
    security::layer(router, options.security())
}
