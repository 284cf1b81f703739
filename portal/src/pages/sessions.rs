//! "Where you're signed in": the person's sessions, with a way to end any one
//! of them or all (ASVS 3.3.4). Rows are named by the first 16 hex digits of the
//! session's hash, never by anything that could be replayed as a cookie.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use crate::auth::session::{SESSION_COOKIE, Session, over_tls, set_cookie};
use crate::{Portal, PortalError};

/// A form naming one session.
#[derive(Debug, Deserialize)]
pub(crate) struct EndForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    session: String,
}

/// A form that only carries its CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Serialize)]
struct SessionView {
    handle: String,
    agent: String,
    address: String,
    started: String,
    last_seen: String,
    current: bool,
    waiting: bool,
}

/// `GET /account/sessions`.
pub(crate) async fn page(
    State(portal): State<Portal>,
    session: Session,
) -> Result<Response, PortalError> {
    let now = portal.clock.now_ms();
    let tz = super::zone(&session.user.time_zone);
    let rows = portal.app.store.sessions_of(session.user.id).await?;
    let views: Vec<SessionView> = rows
        .into_iter()
        .map(|row| SessionView {
            handle: row.id_hash.chars().take(16).collect(),
            agent: row
                .user_agent
                .unwrap_or_else(|| "Unknown browser".to_owned()),
            address: row.client_addr.unwrap_or_default(),
            started: super::local_time(tz, row.created_ms, now),
            last_seen: super::local_time(tz, row.last_seen_ms, now),
            current: row.id_hash == session.id_hash,
            waiting: row.stage != cohealth_store::SessionStage::Full,
        })
        .collect();
    let context = minijinja::context! {
        title => "Where you're signed in",
        sessions => minijinja::Value::from(minijinja::value::Serde(&views)),
        ..super::chrome(&session, "account")
    };
    super::html("sessions.html", context)
}

/// `POST /account/sessions/end`: ends one session (this one signs you out).
pub(crate) async fn end_one(
    State(portal): State<Portal>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<EndForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let ended = portal
        .app
        .store
        .end_session_by_handle(session.user.id, form.session.trim())
        .await?
        .ok_or(PortalError::NotFound)?;
    portal.sessions.forget(&ended);
    tracing::info!(
        user.id = session.user.id,
        "session ended from the session list"
    );
    if ended == session.id_hash {
        return Ok(signed_out(&portal, &headers));
    }
    Ok(Redirect::to("/account/sessions").into_response())
}

/// `POST /account/sessions/end-others`: every session but this one.
pub(crate) async fn end_others(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let store = &portal.app.store;
    let n = store
        .delete_sessions_of(session.user.id, Some(&session.id_hash))
        .await?;
    portal.sessions.forget_user(session.user.id);
    tracing::info!(user.id = session.user.id, ended = n, "other sessions ended");
    Ok(Redirect::to("/account/sessions").into_response())
}

/// `POST /account/sessions/end-all`: signed out everywhere, here too.
pub(crate) async fn end_all(
    State(portal): State<Portal>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let n = portal
        .app
        .store
        .delete_sessions_of(session.user.id, None)
        .await?;
    portal.sessions.forget_user(session.user.id);
    tracing::info!(
        user.id = session.user.id,
        ended = n,
        "signed out everywhere"
    );
    Ok(signed_out(&portal, &headers))
}

fn signed_out(portal: &Portal, headers: &HeaderMap) -> Response {
    let mut response = Redirect::to("/login").into_response();
    let cleared = set_cookie(SESSION_COOKIE, "", 0, over_tls(portal, headers));
    response.headers_mut().append(header::SET_COOKIE, cleared);
    response
}
