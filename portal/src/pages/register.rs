//! Registration: the first account of a fresh install (which becomes the
//! household's admin), an invitation link, or open sign-up if the admin allows it.
//!
//! The store decides admission inside the transaction that creates the account;
//! this page only says beforehand whether the form is worth showing, and turns
//! refusals into sentences. Attempts are limited per client address.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cohealth_store::{NewUser, SessionStage, StoreError};
use serde::Deserialize;

use crate::auth::limits::Action;
use crate::auth::password::{check_strength, hash_password};
use crate::auth::session::{self, SESSION_COOKIE, Session, lifetime_s, over_tls, set_cookie};
use crate::auth::{ClientAddr, hash_session_id};
use crate::{Portal, PortalError};

/// `?invite=` on the registration link.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct InviteQuery {
    #[serde(default)]
    invite: Option<String>,
}

/// The registration form.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RegisterForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    invite: String,
    #[serde(default)]
    csrf: String,
}

/// Who may register right now, as far as the form is concerned.
enum Door {
    /// Fresh install: this account will be the admin.
    First,
    /// A live invitation, for this role.
    Invited(cohealth_store::Role),
    /// Open registration.
    Open,
    /// Nobody without a (valid) invitation.
    Closed(&'static str),
}

async fn door(portal: &Portal, invite: Option<&str>) -> Result<Door, PortalError> {
    let store = &portal.app.store;
    if let Some(token) = invite.filter(|t| !t.is_empty()) {
        return Ok(
            match store
                .invitation_role(&hash_session_id(token), portal.clock.now_ms())
                .await?
            {
                Some(role) => Door::Invited(role),
                None => {
                    Door::Closed("This invitation has been used or has expired; ask for a new one.")
                }
            },
        );
    }
    if store.count_users().await? == 0 {
        return Ok(Door::First);
    }
    Ok(if store.registration_open().await? {
        Door::Open
    } else {
        Door::Closed(
            "Registration here is by invitation. Ask the household's admin for an invitation link.",
        )
    })
}

/// `GET /register`.
pub(crate) async fn form(
    State(portal): State<Portal>,
    session: Result<Session, PortalError>,
    headers: HeaderMap,
    Query(query): Query<InviteQuery>,
) -> Result<Response, PortalError> {
    if session.is_ok() {
        return Ok(Redirect::to("/dashboard").into_response());
    }
    let invite = query.invite.unwrap_or_default();
    let form = RegisterForm {
        invite,
        ..Default::default()
    };
    page(&portal, &headers, &form, StatusCode::OK, None).await
}

/// `POST /register`.
pub(crate) async fn submit(
    State(portal): State<Portal>,
    headers: HeaderMap,
    client: ClientAddr,
    Form(form): Form<RegisterForm>,
) -> Result<Response, PortalError> {
    session::check_anon_csrf(&headers, &form.csrf)?;
    let now = portal.clock.now_ms();
    if let Err(locked) = portal.limits.check(Action::Register, None, client.0, now) {
        return Err(PortalError::TooManyAttempts {
            retry_after_s: locked.retry_after_s,
        });
    }
    let refuse = |message: String| async {
        portal.limits.failed(Action::Register, None, client.0, now);
        page(
            &portal,
            &headers,
            &form,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(message),
        )
        .await
    };
    if let Door::Closed(why) = door(&portal, Some(&form.invite)).await? {
        return refuse(why.to_owned()).await;
    }
    if let Err(message) = validate(&form) {
        return refuse(message).await;
    }
    let username = form.username.trim().to_lowercase();
    let email = form.email.trim().to_lowercase();
    let personal = [form.name.as_str(), username.as_str(), email.as_str()];
    if let Err(message) = check_strength(&form.password, &personal) {
        return refuse(message).await;
    }
    let password = form.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| PortalError::Internal(format!("password hash: {e}")))??;
    let invite_hash = (!form.invite.is_empty()).then(|| hash_session_id(&form.invite));
    let new = NewUser {
        email: &email,
        username: Some(&username),
        display_name: form.name.trim(),
        password_hash: &hash,
        time_zone: "UTC",
    };
    let user = match portal
        .app
        .store
        .register(&new, invite_hash.as_deref(), now)
        .await
    {
        Ok(user) => user,
        Err(StoreError::Conflict(_)) => {
            return refuse(
                "That email or user name is already registered. Sign in, or reset the password."
                    .to_owned(),
            )
            .await;
        }
        Err(StoreError::Invalid(why)) => return refuse(why).await,
        Err(e) => return Err(e.into()),
    };
    tracing::info!(
        user.id = user.id,
        person.id = user.person_id,
        role = user.role.as_str(),
        "account registered"
    );
    // With mail on, the address is confirmed by a link; the account works meanwhile.
    if let Err(e) = crate::auth::email_token::send_verification(&portal, &user).await {
        tracing::warn!(user.id = user.id, error = %e, "could not queue the verification mail");
    }
    let id = session::begin(&portal, user.id, SessionStage::Full, &headers, client).await?;
    let mut response = Redirect::to("/onboarding").into_response();
    let secure = over_tls(&portal, &headers);
    let h = response.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, &id, lifetime_s(), secure),
    );
    Ok(response)
}

/// Field checks before the password's: names, user name and email shape.
fn validate(form: &RegisterForm) -> Result<(), String> {
    if !cohealth_store::plain_name(&form.name) {
        return Err("Enter your name: up to 100 characters, no control characters.".to_owned());
    }
    let username = form.username.trim();
    let username_ok = (3..=32).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !username_ok {
        return Err(
            "Choose a user name of 3 to 32 letters, digits, dots, dashes or underscores."
                .to_owned(),
        );
    }
    if !plausible_email(form.email.trim()) {
        return Err("Enter an email address such as name@example.org.".to_owned());
    }
    if form.password != form.confirm {
        return Err("The two passwords differ.".to_owned());
    }
    Ok(())
}

/// An address we can send to: one `@`, something on each side, a dot in the
/// domain, no spaces, at most 254 characters (RFC 5321's path limit).
pub(crate) fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.contains(char::is_whitespace)
        && !domain.contains('@')
}

async fn page(
    portal: &Portal,
    headers: &HeaderMap,
    form: &RegisterForm,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PortalError> {
    let token = session::anon_csrf_token(headers)?;
    let (open, role, closed) = match door(portal, Some(&form.invite)).await? {
        Door::First => (true, Some("admin"), None),
        Door::Invited(role) => (true, Some(role.as_str()), None),
        Door::Open => (true, None, None),
        Door::Closed(why) => (false, None, Some(why)),
    };
    let context = minijinja::context! {
        title => "Create an account",
        csrf => &token,
        open => open,
        role => role,
        closed => closed,
        error => error,
        name => form.name.trim(),
        username => form.username.trim(),
        email => form.email.trim(),
        invite => &form.invite,
        min_length => crate::auth::password::MIN_LENGTH,
        asset_v => crate::assets::version(),
    };
    let mut response = super::html("register.html", context)?;
    *response.status_mut() = if open || status != StatusCode::OK {
        status
    } else {
        StatusCode::FORBIDDEN
    };
    let cookie = session::anon_csrf_cookie(&token, session::over_tls(portal, headers));
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(plausible_email("ada@example.org"));
        assert!(!plausible_email("ada@localhost"));
        assert!(!plausible_email("ada example@x.org"));
        assert!(!plausible_email("@x.org"));
        assert!(!plausible_email("a@b@x.org"));
    }
}
