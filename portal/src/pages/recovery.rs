//! Getting back in and proving an address: `/forgot`, `/reset/{token}` and
//! `/verify`.
//!
//! `/forgot` answers every request the same way, so it does not tell whether an
//! account exists; it is throttled per named account and per client address
//! (every request counts, so it cannot be used to flood someone's inbox). The
//! forms before sign-in carry the same double-submit CSRF token as the sign-in
//! form. A reset link that is unknown, used or expired gets one page that does
//! not say which.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cohealth_store::TokenPurpose;
use serde::Deserialize;

use crate::auth::ClientAddr;
use crate::auth::email_token::{self, token_hash, well_formed};
use crate::auth::limits::Action;
use crate::auth::password::{check_strength, hash_password};
use crate::auth::session::{self, SESSION_COOKIE, Session, over_tls, set_cookie};
use crate::{Portal, PortalError};

/// The `/login?notice=` value after a successful reset.
pub(crate) const PASSWORD_SET_NOTICE: &str = "password-set";

/// `POST /forgot`.
#[derive(Debug, Deserialize)]
pub(crate) struct ForgotForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /reset/{token}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    again: String,
    #[serde(default)]
    csrf: String,
}

/// A form that only carries its CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Renders `template` with a pre-session form token (and sets its cookie).
fn with_form_token(
    portal: &Portal,
    headers: &HeaderMap,
    status: StatusCode,
    template: &str,
    context: minijinja::Value,
) -> Result<Response, PortalError> {
    let token = session::anon_csrf_token(headers)?;
    let context = minijinja::context! { csrf => &token, ..context };
    let mut response = super::html(template, context)?;
    *response.status_mut() = status;
    let cookie = session::anon_csrf_cookie(&token, over_tls(portal, headers));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// A page with one message and one link onwards.
fn notice(
    status: StatusCode,
    title: &str,
    message: &str,
    next: (&str, &str),
) -> Result<Response, PortalError> {
    let context = minijinja::context! {
        title => title,
        message => message,
        status => status.is_success(),
        next_href => next.0,
        next_text => next.1,
        asset_v => crate::assets::version(),
    };
    let mut response = super::html("notice.html", context)?;
    *response.status_mut() = status;
    Ok(response)
}

/// The one answer to an unknown, used or expired link.
fn dead_link() -> Result<Response, PortalError> {
    notice(
        StatusCode::GONE,
        "This link does not work any more",
        "The link is unknown, was already used, or has expired. Ask for a new one.",
        ("/forgot", "Ask for a new link"),
    )
}

/// `GET /forgot`.
pub(crate) async fn forgot_form(
    State(portal): State<Portal>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let context = minijinja::context! {
        title => "Forgot your password?",
        mail_on => portal.mail.is_some(),
        sent => false,
        asset_v => crate::assets::version(),
    };
    with_form_token(&portal, &headers, StatusCode::OK, "forgot.html", context)
}

/// `POST /forgot`: mails a reset link if the account exists; the answer is the
/// same either way.
pub(crate) async fn forgot_submit(
    State(portal): State<Portal>,
    headers: HeaderMap,
    client: ClientAddr,
    Form(form): Form<ForgotForm>,
) -> Result<Response, PortalError> {
    session::check_anon_csrf(&headers, &form.csrf)?;
    let login = form.login.trim();
    if login.is_empty() || login.chars().count() > 320 {
        return Err(PortalError::BadRequest(
            "give the email address or user name of your account".into(),
        ));
    }
    let now = portal.clock.now_ms();
    if let Err(locked) = portal
        .limits
        .check(Action::Reset, Some(login), client.0, now)
    {
        tracing::warn!(
            retry_after_s = locked.retry_after_s,
            "reset requests locked"
        );
        return Err(PortalError::TooManyAttempts {
            retry_after_s: locked.retry_after_s,
        });
    }
    // Every request counts: a few links per account, then a growing wait.
    portal
        .limits
        .failed(Action::Reset, Some(login), client.0, now);
    if portal.mail.is_some() {
        match portal.app.store.user_by_login(login).await? {
            Some(user) => {
                email_token::send_reset(&portal, &user).await?;
                tracing::info!(user.id = user.id, "password reset link requested");
            }
            None => tracing::info!("password reset asked for an unknown account"),
        }
    }
    let context = minijinja::context! {
        title => "Forgot your password?",
        mail_on => portal.mail.is_some(),
        sent => portal.mail.is_some(),
        asset_v => crate::assets::version(),
    };
    with_form_token(&portal, &headers, StatusCode::OK, "forgot.html", context)
}

/// `GET /reset/{token}`: the new-password form, if the link is live.
pub(crate) async fn reset_form(
    State(portal): State<Portal>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PortalError> {
    if !well_formed(&token) {
        return dead_link();
    }
    let now = portal.clock.now_ms();
    let store = &portal.app.store;
    let Some(live) = store
        .live_email_token(&token_hash(&token), TokenPurpose::Reset, now)
        .await?
    else {
        return dead_link();
    };
    reset_page(&portal, &headers, StatusCode::OK, &token, &live.email, None)
}

fn reset_page(
    portal: &Portal,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    login: &str,
    error: Option<&str>,
) -> Result<Response, PortalError> {
    let context = minijinja::context! {
        title => "Choose a new password",
        token => token,
        login => login,
        error => error,
        asset_v => crate::assets::version(),
    };
    // The token is in the URL; the portal-wide Referrer-Policy (same-origin)
    // keeps it from other sites.
    with_form_token(portal, headers, status, "reset.html", context)
}

/// `POST /reset/{token}`: sets the new password, ends every session of the
/// account and sends the person to sign in.
pub(crate) async fn reset_submit(
    State(portal): State<Portal>,
    headers: HeaderMap,
    client: ClientAddr,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, PortalError> {
    session::check_anon_csrf(&headers, &form.csrf)?;
    let now = portal.clock.now_ms();
    let limits = &portal.limits;
    if let Err(locked) = limits.check(Action::Reset, None, client.0, now) {
        tracing::warn!(retry_after_s = locked.retry_after_s, "reset links locked");
        return Err(PortalError::TooManyAttempts {
            retry_after_s: locked.retry_after_s,
        });
    }
    let store = &portal.app.store;
    let hash = token_hash(&token);
    let live = if well_formed(&token) {
        store
            .live_email_token(&hash, TokenPurpose::Reset, now)
            .await?
    } else {
        None
    };
    let user = match live {
        Some(live) => store.user_by_id(live.user_id).await?,
        None => None,
    };
    let Some(user) = user else {
        limits.failed(Action::Reset, None, client.0, now);
        tracing::info!("dead reset link used");
        return dead_link();
    };
    if form.password != form.again {
        let message = "The two passwords differ; type the same one twice.";
        return reset_page(
            &portal,
            &headers,
            StatusCode::BAD_REQUEST,
            &token,
            &user.email,
            Some(message),
        );
    }
    let personal: Vec<&str> = [
        Some(user.display_name.as_str()),
        user.username.as_deref(),
        Some(user.email.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Err(message) = check_strength(&form.password, &personal) {
        return reset_page(
            &portal,
            &headers,
            StatusCode::BAD_REQUEST,
            &token,
            &user.email,
            Some(&message),
        );
    }
    let password = form.password;
    let new_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| PortalError::Internal(format!("password hash: {e}")))??;
    let Some(user_id) = store
        .reset_password_with_token(&hash, &new_hash, now)
        .await?
    else {
        // Spent by a concurrent request between the check and now.
        return dead_link();
    };
    portal.sessions.forget_user(user_id);
    // A reset is how an account is taken back: tokens made by whoever had it end too.
    let revoked = store.revoke_personal_tokens_of(user_id, now).await?;
    tracing::info!(
        user.id = user_id,
        tokens.revoked = revoked,
        "access tokens revoked by the reset"
    );
    limits.succeeded(Action::Reset, &user.email);
    if let Some(name) = &user.username {
        limits.succeeded(Action::Reset, name);
    }
    tracing::info!(user.id = user_id, "password reset; every session ended");
    let secure = over_tls(&portal, &headers);
    let mut response =
        Redirect::to(&format!("/login?notice={PASSWORD_SET_NOTICE}")).into_response();
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, secure),
    );
    Ok(response)
}

/// `GET /verify/{token}`: confirms the address the link was sent to.
pub(crate) async fn verify_link(
    State(portal): State<Portal>,
    Path(token): Path<String>,
) -> Result<Response, PortalError> {
    if !well_formed(&token) {
        return dead_verify_link();
    }
    let now = portal.clock.now_ms();
    match portal
        .app
        .store
        .verify_email_with_token(&token_hash(&token), now)
        .await?
    {
        Some(user_id) => {
            portal.sessions.forget_user(user_id);
            tracing::info!(user.id = user_id, "email address verified");
            notice(
                StatusCode::OK,
                "Address confirmed",
                "Thank you: your email address is confirmed.",
                ("/", "Go to CoHealth"),
            )
        }
        None => dead_verify_link(),
    }
}

fn dead_verify_link() -> Result<Response, PortalError> {
    notice(
        StatusCode::GONE,
        "This link does not work any more",
        "The link is unknown, was already used, or has expired. Sign in and ask for a new one.",
        ("/verify", "Ask for a new link"),
    )
}

/// `GET /verify`: whether the signed-in person's address is confirmed, with a
/// button to mail the link again.
pub(crate) async fn verify_page(
    State(portal): State<Portal>,
    session: Session,
) -> Result<Response, PortalError> {
    let context = minijinja::context! {
        title => "Your email address",
        verified => session.user.email_verified_ms.is_some(),
        mail_on => portal.mail.is_some(),
        ..super::chrome(&session, "")
    };
    super::html("verify.html", context)
}

/// `POST /verify/resend`: mails a fresh verification link.
pub(crate) async fn verify_resend(
    State(portal): State<Portal>,
    session: Session,
    client: ClientAddr,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let user = &session.user;
    if user.email_verified_ms.is_some() || portal.mail.is_none() {
        return Ok(Redirect::to("/verify").into_response());
    }
    let now = portal.clock.now_ms();
    let key = format!("verify:{}", user.id);
    if let Err(locked) = portal
        .limits
        .check(Action::Reset, Some(&key), client.0, now)
    {
        return Err(PortalError::TooManyAttempts {
            retry_after_s: locked.retry_after_s,
        });
    }
    portal
        .limits
        .failed(Action::Reset, Some(&key), client.0, now);
    email_token::send_verification(&portal, user).await?;
    tracing::info!(user.id = user.id, "verification link sent again");
    notice(
        StatusCode::OK,
        "Link sent",
        "We sent a new link to your address; it works once, for 24 hours.",
        ("/dashboard", "Back to the dashboard"),
    )
}
