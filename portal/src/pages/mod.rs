//! Server-rendered pages. Each handler gathers data, builds a context and renders
//! one template; the layout (`base.html`) is shared.

pub(crate) mod account;
pub(crate) mod admin;
pub(crate) mod cache;
pub(crate) mod dashboard;
pub(crate) mod data;
pub(crate) mod devices;
pub(crate) mod export;
pub(crate) mod login;
pub(crate) mod recovery;
pub(crate) mod register;
pub(crate) mod sessions;
pub(crate) mod sharing;
pub(crate) mod tokens;
pub(crate) mod twofactor;

use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::TimeZone;
use chrono_tz::Tz;
use minijinja::Value;

use crate::PortalError;
use crate::auth::session::Session;

/// `GET /`: the dashboard for a signed-in person, else the sign-in page.
pub(crate) async fn home(session: Result<Session, PortalError>) -> Redirect {
    match session {
        Ok(_) => Redirect::to("/dashboard"),
        Err(_) => Redirect::to("/login"),
    }
}

/// Anything unrouted.
pub(crate) async fn not_found() -> PortalError {
    PortalError::NotFound
}

/// Renders `template` as an HTML response.
pub(crate) fn html(template: &str, context: Value) -> Result<Response, PortalError> {
    let body = crate::templates::render(template, context)?;
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response())
}

/// What the layout needs on every signed-in page.
pub(crate) fn chrome(session: &Session, nav: &str) -> Value {
    let deletion_due = session
        .deletion_due_ms
        .map(|ms| data::local_date(zone(&session.user.time_zone), ms));
    minijinja::context! {
        deletion_due => deletion_due,
        user => &session.user.display_name,
        csrf => &session.csrf,
        nav => nav,
        admin => session.user.role == cohealth_store::Role::Admin,
        asset_v => crate::assets::version(),
    }
}

/// The person's zone; UTC when the stored name is unknown.
pub(crate) fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// An instant on the person's clock: `14:05` today, else `Nov 3, 14:05`.
pub(crate) fn local_time(tz: Tz, ms: i64, now_ms: i64) -> String {
    let (Some(at), Some(now)) = (
        tz.timestamp_millis_opt(ms).earliest(),
        tz.timestamp_millis_opt(now_ms).earliest(),
    ) else {
        return String::new();
    };
    if at.date_naive() == now.date_naive() {
        at.format("%H:%M").to_string()
    } else {
        at.format("%b %-d %Y, %H:%M").to_string()
    }
}
