//! Two-factor sign-in pages: enrolment and management at `/account/2fa`, the
//! code prompt at `/login/2fa` that sits between the password and a signed-in
//! session, and the household rule that sends members without 2FA to enrol.
//!
//! The sign-in flow: once the password is right, an account with 2FA gets a
//! session in stage `mfa` (which no other page accepts) that lives at most
//! [`MFA_STAGE_MS`]. The right code ends it and starts a new session with a new
//! id, so an id seen before the second factor is worth nothing after it.

use axum::Form;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use cohealth_store::{SessionStage, UserRow};
use minijinja::Value;
use serde::Deserialize;

use crate::auth::second_factor::{limited_confirm, limited_verify};
use crate::auth::session::{
    self, LOGIN_CSRF_COOKIE, SESSION_COOKIE, Session, cookie, lifetime_s, over_tls, set_cookie,
};
use crate::auth::{ClientAddr, hash_session_id, recovery, same_secret, totp};
use crate::{Portal, PortalError};

/// How long a password-accepted session may wait for its second factor.
pub(crate) const MFA_STAGE_MS: i64 = 5 * 60 * 1000;

/// A form with a one-time code.
#[derive(Debug, Deserialize)]
pub(crate) struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

/// The form that switches 2FA off: password and code, both required.
#[derive(Debug, Deserialize)]
pub(crate) struct DisableForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    csrf: String,
}

/// A form that only carries its CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

// --- Sign-in: the second step -------------------------------------------------

/// A session whose password was accepted and whose second factor is owed.
pub(crate) struct PendingSignIn {
    user: UserRow,
    csrf: String,
}

impl FromRequestParts<Portal> for PendingSignIn {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, portal: &Portal) -> Result<Self, PortalError> {
        let id = cookie(&parts.headers, SESSION_COOKIE).ok_or(PortalError::SignIn)?;
        let id_hash = hash_session_id(id);
        let store = &portal.app.store;
        let row = store
            .session(&id_hash)
            .await?
            .filter(|row| row.stage == SessionStage::Mfa)
            .ok_or(PortalError::SignIn)?;
        if portal.clock.now_ms() - row.created_ms > MFA_STAGE_MS {
            store.delete_session(&id_hash).await?;
            return Err(PortalError::SignIn);
        }
        let user = store
            .user_by_id(row.user_id)
            .await?
            .filter(|u| u.totp_enabled_ms.is_some())
            .ok_or(PortalError::SignIn)?;
        Ok(PendingSignIn {
            user,
            csrf: row.csrf,
        })
    }
}

/// After the password: starts the `mfa` stage for an account with 2FA and
/// sends the browser to the code prompt.
pub(crate) async fn begin_challenge(
    portal: &Portal,
    user: &UserRow,
    headers: &HeaderMap,
    client: ClientAddr,
) -> Result<Response, PortalError> {
    let id = session::begin(portal, user.id, SessionStage::Mfa, headers, client).await?;
    tracing::info!(user.id = user.id, "password accepted; second factor owed");
    let secure = over_tls(portal, headers);
    let mut response = Redirect::to("/login/2fa").into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &id, MFA_STAGE_MS / 1000, secure),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure),
    );
    Ok(response)
}

/// `GET /login/2fa`.
pub(crate) async fn challenge_form(
    pending: Result<PendingSignIn, PortalError>,
) -> Result<Response, PortalError> {
    match pending {
        Ok(pending) => challenge_page(&pending, StatusCode::OK, None),
        Err(_) => Ok(Redirect::to("/login").into_response()),
    }
}

/// `POST /login/2fa`.
pub(crate) async fn challenge_submit(
    State(portal): State<Portal>,
    pending: PendingSignIn,
    headers: HeaderMap,
    client: ClientAddr,
    Form(form): Form<CodeForm>,
) -> Result<Response, PortalError> {
    if !same_secret(&pending.csrf, &form.csrf) {
        return Err(PortalError::Csrf);
    }
    if !limited_verify(&portal, client, &pending.user, &form.code).await? {
        let error = PortalError::BadSecondFactor;
        return challenge_page(&pending, error.status(), Some(error));
    }
    // `begin` ends the mfa session the browser came with and issues a new id.
    let user = &pending.user;
    let id = session::begin(&portal, user.id, SessionStage::Full, &headers, client).await?;
    tracing::info!(
        user.id = user.id,
        person.id = user.person_id,
        "signed in with a second factor"
    );
    let mut response = Redirect::to("/dashboard").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            &id,
            lifetime_s(),
            over_tls(&portal, &headers),
        ),
    );
    Ok(response)
}

fn challenge_page(
    pending: &PendingSignIn,
    status: StatusCode,
    error: Option<PortalError>,
) -> Result<Response, PortalError> {
    let context = minijinja::context! {
        title => "Two-factor sign-in",
        csrf => &pending.csrf,
        error => error.map(|e| e.to_string()),
        asset_v => crate::assets::version(),
    };
    let mut response = super::html("login_2fa.html", context)?;
    *response.status_mut() = status;
    Ok(response)
}

// --- The account page ---------------------------------------------------------

/// What one rendering of `/account/2fa` says beyond the account's state.
#[derive(Default)]
struct View {
    error: Option<String>,
    notice: Option<&'static str>,
    /// Fresh recovery codes, shown this once.
    codes: Option<Vec<String>>,
}

/// `GET /account/2fa`.
pub(crate) async fn account_page(
    State(portal): State<Portal>,
    session: Session,
) -> Result<Response, PortalError> {
    render_account(&portal, &session, View::default(), StatusCode::OK).await
}

/// `POST /account/2fa/start`: a new pending secret (replacing any earlier one).
pub(crate) async fn start(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let key =
        totp::new_secret().map_err(|e| PortalError::Internal(format!("no randomness: {e}")))?;
    let stored = portal
        .app
        .store
        .set_pending_totp_secret(session.user.id, &totp::base32_encode(&key))
        .await?;
    if stored {
        tracing::info!(user.id = session.user.id, "two-factor enrolment started");
    }
    Ok(Redirect::to("/account/2fa").into_response())
}

/// `POST /account/2fa/confirm`: the first code switches 2FA on.
pub(crate) async fn confirm(
    State(portal): State<Portal>,
    session: Session,
    client: ClientAddr,
    Form(form): Form<CodeForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    if session.user.totp_enabled_ms.is_some() {
        return Ok(Redirect::to("/account/2fa").into_response());
    }
    let codes = recovery::generate()?;
    let hashes = codes
        .iter()
        .map(|c| recovery::hash(c))
        .collect::<Result<Vec<_>, _>>()?;
    if !limited_confirm(&portal, client, &session.user, &form.code, &hashes).await? {
        return refused(&portal, &session).await;
    }
    // Sessions opened with the password alone end: from now on every session
    // of this account has passed the second factor.
    portal
        .app
        .store
        .delete_sessions_of(session.user.id, Some(&session.id_hash))
        .await?;
    portal.sessions.forget_user(session.user.id);
    tracing::info!(
        user.id = session.user.id,
        "two-factor sign-in switched on; other sessions ended"
    );
    let notice = crate::auth::email_token::Change::TwoFactorOn;
    crate::auth::email_token::notify_change(&portal, &session.user, &session.user.email, notice);
    let view = View {
        notice: Some("Two-factor sign-in is on."),
        codes: Some(codes),
        ..View::default()
    };
    render_account(&portal, &session, view, StatusCode::OK).await
}

/// `POST /account/2fa/recovery`: new recovery codes, after a current code.
pub(crate) async fn regenerate(
    State(portal): State<Portal>,
    session: Session,
    client: ClientAddr,
    Form(form): Form<CodeForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    if session.user.totp_enabled_ms.is_none() {
        return Ok(Redirect::to("/account/2fa").into_response());
    }
    if !limited_verify(&portal, client, &session.user, &form.code).await? {
        return refused(&portal, &session).await;
    }
    let codes = recovery::generate()?;
    let hashes = codes
        .iter()
        .map(|c| recovery::hash(c))
        .collect::<Result<Vec<_>, _>>()?;
    portal
        .app
        .store
        .replace_recovery_codes(session.user.id, &hashes, portal.clock.now_ms())
        .await?;
    tracing::info!(user.id = session.user.id, "recovery codes replaced");
    let notice = crate::auth::email_token::Change::RecoveryCodes;
    crate::auth::email_token::notify_change(&portal, &session.user, &session.user.email, notice);
    let view = View {
        notice: Some("New recovery codes made; the old ones no longer work."),
        codes: Some(codes),
        ..View::default()
    };
    render_account(&portal, &session, view, StatusCode::OK).await
}

/// `POST /account/2fa/disable`: needs the password and a current code.
pub(crate) async fn disable(
    State(portal): State<Portal>,
    session: Session,
    client: ClientAddr,
    Form(form): Form<DisableForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let user = &session.user;
    if user.totp_enabled_ms.is_none() {
        return Ok(Redirect::to("/account/2fa").into_response());
    }
    let store = &portal.app.store;
    if store
        .household_settings(user.household_id)
        .await?
        .require_2fa
    {
        let view = View {
            error: Some(
                "Your household requires two-factor sign-in, so it cannot be switched off.".into(),
            ),
            ..View::default()
        };
        return render_account(&portal, &session, view, StatusCode::FORBIDDEN).await;
    }
    let password_ok =
        super::login::limited_check_password(&portal, client, &user.email, &form.password)
            .await?
            .is_some_and(|u| u.id == user.id);
    if !password_ok || !limited_verify(&portal, client, user, &form.code).await? {
        let view = View {
            error: Some("Wrong password or code; two-factor sign-in is still on.".into()),
            ..View::default()
        };
        return render_account(&portal, &session, view, StatusCode::UNAUTHORIZED).await;
    }
    store.disable_totp(user.id).await?;
    portal.sessions.forget_user(user.id);
    tracing::info!(user.id = user.id, "two-factor sign-in switched off");
    let notice = crate::auth::email_token::Change::TwoFactorOff;
    crate::auth::email_token::notify_change(&portal, user, &user.email, notice);
    let view = View {
        notice: Some("Two-factor sign-in is off."),
        ..View::default()
    };
    render_account(&portal, &session, view, StatusCode::OK).await
}

async fn refused(portal: &Portal, session: &Session) -> Result<Response, PortalError> {
    let error = PortalError::BadSecondFactor;
    let status = error.status();
    let view = View {
        error: Some(error.to_string()),
        ..View::default()
    };
    render_account(portal, session, view, status).await
}

async fn render_account(
    portal: &Portal,
    session: &Session,
    view: View,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let user = &session.user;
    let store = &portal.app.store;
    let state = store.totp_state(user.id).await?;
    let enabled = state.as_ref().and_then(|s| s.enabled_ms);
    let pending = state
        .filter(|s| s.enabled_ms.is_none())
        .and_then(|s| s.secret);
    let (qr, secret) = match &pending {
        Some(secret) => {
            let account = user.username.as_deref().unwrap_or(&user.email);
            let uri = totp::otpauth_uri(secret, account);
            (
                Some(Value::from_safe_string(qr_svg(&uri)?)),
                Some(grouped(secret)),
            )
        }
        None => (None, None),
    };
    let required = enabled.is_none()
        && store
            .household_settings(user.household_id)
            .await?
            .require_2fa;
    let context = minijinja::context! {
        title => "Two-factor sign-in",
        enabled => enabled.is_some(),
        enabled_at => enabled.map(|ms| super::local_time(super::zone(&user.time_zone), ms, portal.clock.now_ms())),
        left => store.recovery_codes_left(user.id).await?,
        qr => qr,
        secret => secret,
        required => required,
        error => view.error,
        notice => view.notice,
        codes => view.codes,
        ..super::chrome(session, "2fa")
    };
    let mut response = super::html("account_2fa.html", context)?;
    *response.status_mut() = status;
    Ok(response)
}

/// `ABCD EFGH …`: the secret in blocks of four, for typing it in by hand.
fn grouped(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The QR code of `text` as an inline SVG: one path, colours as presentation
/// attributes, so the strict CSP (no inline style) needs no exception.
fn qr_svg(text: &str) -> Result<String, PortalError> {
    const QUIET: usize = 4;
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|e| PortalError::Internal(format!("QR code: {e}")))?;
    let width = code.width();
    let size = width + 2 * QUIET;
    let mut path = String::new();
    for (i, colour) in code.to_colors().iter().enumerate() {
        if *colour == qrcode::Color::Dark {
            let (x, y) = (i % width + QUIET, i / width + QUIET);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"qr\" width=\"240\" height=\"240\" \
         viewBox=\"0 0 {size} {size}\" shape-rendering=\"crispEdges\" role=\"img\" \
         aria-label=\"QR code for your authenticator app\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

// --- The household rule -------------------------------------------------------

/// Paths a member without 2FA may still reach when the household requires it.
fn exempt(path: &str) -> bool {
    path == "/account/2fa"
        || path.starts_with("/account/2fa/")
        || path == "/logout"
        || path == "/login"
        || path.starts_with("/login/")
        || path == "/forgot"
        || path.starts_with("/reset/")
        || path == "/verify"
        || path.starts_with("/verify/")
        || path.starts_with("/static/")
        || path.starts_with("/api/")
        || path == "/healthz"
        || path == "/metrics"
}

/// Middleware: when the household requires 2FA, a signed-in member without it
/// is sent to `/account/2fa` from every page but a few.
pub(crate) async fn enforce_household_rule(
    State(portal): State<Portal>,
    request: Request,
    next: Next,
) -> Response {
    if exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Ok(session) = Session::from_request_parts(&mut parts, &portal).await
        && session.user.totp_enabled_ms.is_none()
    {
        match portal
            .app
            .store
            .household_settings(session.user.household_id)
            .await
        {
            Ok(settings) if settings.require_2fa => {
                return Redirect::to("/account/2fa").into_response();
            }
            Ok(_) => {}
            Err(e) => return PortalError::from(e).into_response(),
        }
    }
    next.run(Request::from_parts(parts, body)).await
}

// --- Admin: the household's security settings ---------------------------------

/// The admin form's fields: a checkbox, absent when off.
#[derive(Debug, Deserialize)]
pub(crate) struct SecurityForm {
    #[serde(default)]
    require_2fa: Option<String>,
    #[serde(default)]
    csrf: String,
}

fn admin_only(session: &Session) -> Result<(), PortalError> {
    if session.user.role == cohealth_store::Role::Admin {
        Ok(())
    } else {
        Err(PortalError::Forbidden)
    }
}

/// `GET /admin/security`.
pub(crate) async fn admin_page(
    State(portal): State<Portal>,
    session: Session,
) -> Result<Response, PortalError> {
    admin_only(&session)?;
    render_admin(&portal, &session, None, StatusCode::OK).await
}

/// `POST /admin/security`.
pub(crate) async fn admin_save(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<SecurityForm>,
) -> Result<Response, PortalError> {
    admin_only(&session)?;
    session.check_csrf(&form.csrf)?;
    let required = form.require_2fa.is_some_and(|v| !v.is_empty());
    if required && session.user.totp_enabled_ms.is_none() {
        let error = "Switch on two-factor sign-in for your own account first.";
        return render_admin(&portal, &session, Some(error), StatusCode::CONFLICT).await;
    }
    let household = session.user.household_id;
    portal
        .app
        .store
        .set_household_requires_2fa(household, required)
        .await?;
    tracing::info!(
        user.id = session.user.id,
        household.id = household,
        required,
        "household two-factor requirement changed"
    );
    Ok(Redirect::to("/admin/security").into_response())
}

async fn render_admin(
    portal: &Portal,
    session: &Session,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, PortalError> {
    let required = portal
        .app
        .store
        .household_settings(session.user.household_id)
        .await?
        .require_2fa;
    let context = minijinja::context! {
        title => "Security",
        required => required,
        own_enabled => session.user.totp_enabled_ms.is_some(),
        error => error,
        ..super::chrome(session, "admin")
    };
    let mut response = super::html("admin_security.html", context)?;
    *response.status_mut() = status;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_a_plain_svg() {
        let uri = totp::otpauth_uri("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "ada@example.org");
        let svg = qr_svg(&uri).unwrap();
        if let Ok(path) = std::env::var("COHEALTH_QR_OUT") {
            std::fs::write(path, &svg).unwrap();
        }
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("style"));
        assert!(!svg.contains("<script"));
        assert!(svg.matches("h1v1h-1z").count() > 100);
    }

    #[test]
    fn secrets_are_shown_in_blocks_of_four() {
        assert_eq!(grouped("ABCDEFGHIJ"), "ABCD EFGH IJ");
    }

    #[test]
    fn only_enrolment_sign_in_and_assets_escape_the_household_rule() {
        for path in [
            "/account/2fa",
            "/account/2fa/confirm",
            "/logout",
            "/login/2fa",
            "/static/app.css",
            "/verify/abc",
            "/reset/abc",
        ] {
            assert!(exempt(path), "{path}");
        }
        for path in [
            "/",
            "/dashboard",
            "/devices",
            "/admin/security",
            "/account/2faX",
            "/live",
        ] {
            assert!(!exempt(path), "{path}");
        }
    }
}
