//! Signing in and out.
//!
//! Passwords are checked with argon2id off the async threads. An unknown login
//! costs the same hash as a wrong password, so timing does not reveal accounts.
//! The same message answers every failure.

use std::sync::LazyLock;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cohealth_store::{SessionStage, UserRow};
use serde::Deserialize;

use crate::auth::ClientAddr;
use crate::auth::limits::Action;
use crate::auth::password::{hash_password, needs_rehash, verify_password};
use crate::auth::session::{
    self, LOGIN_CSRF_COOKIE, OverTls, SESSION_COOKIE, Session, lifetime_s, set_cookie,
};
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

/// `GET /login`'s query: `?notice=…` names a message from another page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LoginQuery {
    #[serde(default)]
    notice: Option<String>,
}

/// `GET /login`.
pub(crate) async fn form(
    session: Result<Session, PortalError>,
    tls: OverTls,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PortalError> {
    if session.is_ok() {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    let notice = match query.notice.as_deref() {
        Some(super::recovery::PASSWORD_SET_NOTICE) => {
            Some("Your new password is set and every earlier session has ended. Sign in with it.")
        }
        _ => None,
    };
    login_page_with(&headers, tls, StatusCode::OK, "", None, notice)
}

/// `POST /login`.
pub(crate) async fn submit(
    State(portal): State<Portal>,
    headers: HeaderMap,
    client: ClientAddr,
    tls: OverTls,
    Form(form): Form<LoginForm>,
) -> Result<Response, PortalError> {
    session::check_anon_csrf(&headers, &form.csrf)?;
    let Some(user) = limited_check_password(&portal, client, &form.login, &form.password).await?
    else {
        return login_page(
            &headers,
            tls,
            StatusCode::UNAUTHORIZED,
            &form.login,
            Some(PortalError::BadCredentials),
        );
    };
    if user.totp_enabled_ms.is_some() {
        return super::twofactor::begin_challenge(&portal, &user, &headers, client).await;
    }
    let id = session::begin(&portal, user.id, SessionStage::Full, &headers, client).await?;
    tracing::info!(user.id = user.id, person.id = user.person_id, "signed in");

    let OverTls(secure) = tls;
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
    tls: OverTls,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    portal.sessions.forget(&session.id_hash);
    portal.app.store.delete_session(&session.id_hash).await?;
    tracing::info!(user.id = session.user.id, "signed out");
    let mut response = Redirect::to("/login").into_response();
    let cleared = set_cookie(SESSION_COOKIE, "", 0, tls.0);
    response.headers_mut().append(header::SET_COOKIE, cleared);
    Ok(response)
}

/// [`check_password`] behind the sign-in limiter: a locked account or address
/// gets [`PortalError::TooManyAttempts`] without its password being checked.
pub(crate) async fn limited_check_password(
    portal: &Portal,
    client: ClientAddr,
    login: &str,
    password: &str,
) -> Result<Option<UserRow>, PortalError> {
    let now = portal.clock.now_ms();
    let limits = &portal.limits;
    // Count per account, not per spelling: the user name and the email of one
    // account share one counter. Unknown logins count under what was typed.
    let key = match portal.app.store.user_by_login(login).await? {
        Some(user) => format!("user:{}", user.id),
        None => login.trim().to_lowercase(),
    };
    let login_key = key.as_str();
    if let Err(locked) = limits.check(Action::SignIn, Some(login_key), client.0, now) {
        tracing::warn!(retry_after_s = locked.retry_after_s, "sign-in locked");
        return Err(PortalError::TooManyAttempts {
            retry_after_s: locked.retry_after_s,
        });
    }
    let user = check_password(portal, login, password).await?;
    match &user {
        Some(_) => limits.succeeded(Action::SignIn, login_key),
        None => {
            tracing::info!("sign-in refused");
            limits.failed(Action::SignIn, Some(login_key), client.0, now);
        }
    }
    Ok(user)
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
    tls: OverTls,
    status: StatusCode,
    login: &str,
    error: Option<PortalError>,
) -> Result<Response, PortalError> {
    login_page_with(headers, tls, status, login, error, None)
}

/// [`login_page`] with a notice from another page (a password just reset).
fn login_page_with(
    headers: &HeaderMap,
    tls: OverTls,
    status: StatusCode,
    login: &str,
    error: Option<PortalError>,
    notice: Option<&str>,
) -> Result<Response, PortalError> {
    let token = session::anon_csrf_token(headers)?;
    let context = minijinja::context! {
        title => "Sign in",
        csrf => &token,
        login => login,
        error => error.map(|e| e.to_string()),
        notice => notice,
        asset_v => crate::assets::version(),
    };
    let mut response = super::html("login.html", context)?;
    *response.status_mut() = status;
    let cookie = session::anon_csrf_cookie(&token, tls.0);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}
