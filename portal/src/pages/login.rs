//! Signing in and out.
//!
//! Passwords are checked with argon2id off the async threads. An unknown login
//! costs the same hash as a wrong password, so timing does not reveal accounts.
//! The same message answers every failure.

use std::sync::LazyLock;

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cohealth_store::UserRow;
use serde::Deserialize;

use crate::auth::password::{hash_password, needs_rehash, verify_password};
use crate::auth::session::{
    LOGIN_CSRF_COOKIE, SESSION_COOKIE, Session, cookie, lifetime_s, over_tls, set_cookie,
};
use crate::auth::{hash_session_id, random_hex, same_secret};
use crate::{Portal, PortalError};

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

/// A form that only carries its CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `GET /login`.
pub(crate) async fn form(
    session: Result<Session, PortalError>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    if session.is_ok() {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    login_page(&headers, StatusCode::OK, "", None)
}

/// `POST /login`.
pub(crate) async fn submit(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PortalError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(expected, &form.csrf) {
        return Err(PortalError::Csrf);
    }
    let Some(user) = check_password(&portal, &form.login, &form.password).await? else {
        tracing::info!("sign-in refused");
        return login_page(
            &headers,
            StatusCode::UNAUTHORIZED,
            &form.login,
            Some(PortalError::BadCredentials),
        );
    };
    let id = random_hex(32)?;
    let now = portal.clock.now_ms();
    portal
        .app
        .store
        .create_session(&hash_session_id(&id), user.id, &random_hex(32)?, now)
        .await?;
    tracing::info!(user.id = user.id, person.id = user.person_id, "signed in");

    let secure = over_tls(&headers);
    let mut response = Redirect::to("/dashboard").into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &id, lifetime_s(), secure),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure),
    );
    Ok(response)
}

/// `POST /logout`.
pub(crate) async fn logout(
    State(portal): State<Portal>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    portal.sessions.forget(&session.id_hash);
    portal.app.store.delete_session(&session.id_hash).await?;
    tracing::info!(user.id = session.user.id, "signed out");
    let mut response = Redirect::to("/login").into_response();
    let cleared = set_cookie(SESSION_COOKIE, "", 0, over_tls(&headers));
    response.headers_mut().append(header::SET_COOKIE, cleared);
    Ok(response)
}

/// Finds the account and checks the password; `None` for any mismatch.
pub(crate) async fn check_password(
    portal: &Portal,
    login: &str,
    password: &str,
) -> Result<Option<UserRow>, PortalError> {
    static DECOY: LazyLock<String> =
        LazyLock::new(|| hash_password("decoy password").unwrap_or_default());
    let user = portal.app.store.user_by_login(login).await?;
    let stored = user
        .as_ref()
        .map_or_else(|| DECOY.clone(), |u| u.password_hash.clone());
    let password = password.to_owned();
    let (matches, password) = tokio::task::spawn_blocking(move || {
        let ok = verify_password(&password, &stored).unwrap_or(false);
        (ok, password)
    })
    .await
    .map_err(|e| PortalError::Internal(format!("password check: {e}")))?;
    let Some(user) = user.filter(|_| matches) else {
        return Ok(None);
    };
    if needs_rehash(&user.password_hash) {
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|e| PortalError::Internal(format!("password rehash: {e}")))??;
        portal.app.store.set_password_hash(user.id, &hash).await?;
    }
    Ok(Some(user))
}

/// The sign-in page, with a fresh form token unless the browser holds one.
fn login_page(
    headers: &HeaderMap,
    status: StatusCode,
    login: &str,
    error: Option<PortalError>,
) -> Result<Response, PortalError> {
    let token = match cookie(headers, LOGIN_CSRF_COOKIE) {
        Some(t) if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) => t.to_owned(),
        _ => random_hex(32)?,
    };
    let context = minijinja::context! {
        title => "Sign in",
        csrf => &token,
        login => login,
        error => error.map(|e| e.to_string()),
        asset_v => crate::assets::version(),
    };
    let mut response = super::html("login.html", context)?;
    *response.status_mut() = status;
    let cookie = set_cookie(LOGIN_CSRF_COOKIE, &token, 3600, over_tls(headers));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}
