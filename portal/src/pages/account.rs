//! The person's own account: profile (contact details, body facts, a short
//! medical summary), onboarding right after registration, and changing the
//! email address or password.
//!
//! Changing the password or email asks for the current password again
//! (ASVS 2.1.5, 3.7.1): a session left open on a shared screen must not be
//! enough to take the account over. A new password ends every other session
//! and gives this one a new id.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cohealth_store::{BLOOD_TYPES, Profile, SessionStage, StoreError};
use serde::Deserialize;

use crate::auth::ClientAddr;
use crate::auth::password::{check_strength, hash_password, verify_password};
use crate::auth::session::{self, SESSION_COOKIE, Session, lifetime_s, over_tls, set_cookie};
use crate::{Portal, PortalError};

/// The profile form (also the onboarding form, which sends a subset).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ProfileForm {
    #[serde(default)]
    csrf: String,
    name: Option<String>,
    time_zone: Option<String>,
    units: Option<String>,
    date_of_birth: Option<String>,
    sex: Option<String>,
    height_cm: Option<String>,
    height_ft: Option<String>,
    height_in: Option<String>,
    phone: Option<String>,
    conditions: Option<String>,
    allergies: Option<String>,
    blood_type: Option<String>,
}

/// The change-password form.
#[derive(Debug, Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    password: String,
    confirm: String,
}

/// The change-email form.
#[derive(Debug, Deserialize)]
pub(crate) struct EmailForm {
    #[serde(default)]
    csrf: String,
    current: String,
    email: String,
}

/// Trimmed text, `None` when empty.
fn text(field: &Option<String>) -> Option<String> {
    field
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// Height from the form: centimetres, or feet and inches.
fn height(form: &ProfileForm) -> Result<Option<f64>, String> {
    let number = |field: &Option<String>, what: &str| -> Result<Option<f64>, String> {
        text(field)
            .map(|t| {
                t.replace(',', ".")
                    .parse::<f64>()
                    .map_err(|_| format!("{what}: a number, please"))
            })
            .transpose()
    };
    if let Some(cm) = number(&form.height_cm, "height")? {
        return Ok(Some(cm));
    }
    let (ft, inches) = (
        number(&form.height_ft, "feet")?,
        number(&form.height_in, "inches")?,
    );
    if ft.is_none() && inches.is_none() {
        return Ok(None);
    }
    let total_in = ft.unwrap_or(0.0) * 12.0 + inches.unwrap_or(0.0);
    Ok(Some((total_in * 2.54 * 10.0).round() / 10.0))
}

/// The form merged over what is stored; fields the form did not send stay.
fn merged(mut profile: Profile, form: &ProfileForm) -> Result<Profile, String> {
    if let Some(name) = text(&form.name) {
        profile.display_name = name;
    }
    if let Some(zone) = text(&form.time_zone) {
        profile.time_zone = zone;
    }
    if let Some(units) = text(&form.units) {
        profile.units = units;
    }
    if form.height_cm.is_some() || form.height_ft.is_some() || form.height_in.is_some() {
        profile.height_cm = height(form)?;
    }
    // The full profile form sends every field; an emptied one is cleared.
    if form.phone.is_some() {
        profile.date_of_birth = text(&form.date_of_birth);
        profile.sex = text(&form.sex);
        profile.phone = text(&form.phone);
        profile.conditions = text(&form.conditions);
        profile.allergies = text(&form.allergies);
        profile.blood_type = text(&form.blood_type);
    }
    Ok(profile)
}

/// What the last change did, for the notice on `/account`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    saved: Option<String>,
    password: Option<String>,
    email: Option<String>,
}

/// `GET /account`.
pub(crate) async fn page(
    State(portal): State<Portal>,
    session: Session,
    axum::extract::Query(done): axum::extract::Query<Done>,
) -> Result<Response, PortalError> {
    let notice = if done.password.is_some() {
        Some("Password changed. Every other session has been signed out.")
    } else if done.email.is_some() {
        Some("Email address changed.")
    } else if done.saved.is_some() {
        Some("Profile saved.")
    } else {
        None
    };
    render(
        &portal,
        &session,
        "account.html",
        StatusCode::OK,
        None,
        notice,
    )
    .await
}

/// `GET /onboarding`.
pub(crate) async fn onboarding(
    State(portal): State<Portal>,
    session: Session,
) -> Result<Response, PortalError> {
    render(
        &portal,
        &session,
        "onboarding.html",
        StatusCode::OK,
        None,
        None,
    )
    .await
}

/// `POST /account/profile` and `POST /onboarding`.
pub(crate) async fn save_profile(
    State(portal): State<Portal>,
    session: Session,
    uri: axum::http::Uri,
    Form(form): Form<ProfileForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let onboarding = uri.path() == "/onboarding";
    let template = if onboarding {
        "onboarding.html"
    } else {
        "account.html"
    };
    let store = &portal.app.store;
    let person = session.user.person_id;
    let mut profile = match merged(store.profile(person).await?, &form) {
        Ok(p) => p,
        Err(message) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render(&portal, &session, template, status, Some(message), None).await;
        }
    };
    profile.onboarded_ms = Some(portal.clock.now_ms());
    match store.update_profile(person, &profile).await {
        Ok(()) => {}
        Err(StoreError::Invalid(what)) => {
            let message = format!("Please check: {what}.");
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return render(&portal, &session, template, status, Some(message), None).await;
        }
        Err(e) => return Err(e.into()),
    }
    portal.sessions.forget_user(session.user.id);
    tracing::info!(person.id = person, "profile saved");
    Ok(Redirect::to(if onboarding {
        "/dashboard"
    } else {
        "/account?saved=1"
    })
    .into_response())
}

/// `POST /account/password`.
pub(crate) async fn change_password(
    State(portal): State<Portal>,
    session: Session,
    headers: HeaderMap,
    client: ClientAddr,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let fail = |message: &str| {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        render(
            &portal,
            &session,
            "account.html",
            status,
            Some(message.to_owned()),
            None,
        )
    };
    if !reauthenticate(&portal, &session, client, &form.current).await? {
        return fail("The current password is not right.").await;
    }
    if form.password != form.confirm {
        return fail("The two new passwords differ.").await;
    }
    let user = &session.user;
    let username = user.username.clone().unwrap_or_default();
    let personal = [
        user.display_name.as_str(),
        username.as_str(),
        user.email.as_str(),
    ];
    if let Err(message) = check_strength(&form.password, &personal) {
        return fail(&message).await;
    }
    let password = form.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| PortalError::Internal(format!("password hash: {e}")))??;
    let now = portal.clock.now_ms();
    portal
        .app
        .store
        .change_password(user.id, &hash, None, now)
        .await?;
    portal.sessions.forget_user(user.id);
    tracing::info!(user.id = user.id, "password changed; other sessions ended");
    let change = crate::auth::email_token::Change::Password;
    crate::auth::email_token::notify_change(&portal, user, &user.email, change);
    // Every session ended, this one included: carry on under a new id.
    let id = session::begin(&portal, user.id, SessionStage::Full, &headers, client).await?;
    let mut response = Redirect::to("/account?password=1").into_response();
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

/// `POST /account/email`.
pub(crate) async fn change_email(
    State(portal): State<Portal>,
    session: Session,
    client: ClientAddr,
    Form(form): Form<EmailForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    if !reauthenticate(&portal, &session, client, &form.current).await? {
        let message = Some("The current password is not right.".to_owned());
        return render(&portal, &session, "account.html", status, message, None).await;
    }
    let email = form.email.trim().to_lowercase();
    if !super::register::plausible_email(&email) {
        let message = Some("Enter an email address such as name@example.org.".to_owned());
        return render(&portal, &session, "account.html", status, message, None).await;
    }
    match portal.app.store.change_email(session.user.id, &email).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            let message = Some("Another account uses that email address.".to_owned());
            return render(&portal, &session, "account.html", status, message, None).await;
        }
        Err(e) => return Err(e.into()),
    }
    portal.sessions.forget_user(session.user.id);
    tracing::info!(user.id = session.user.id, "email changed");
    let change = crate::auth::email_token::Change::Email;
    crate::auth::email_token::notify_change(&portal, &session.user, &session.user.email, change);
    if let Some(user) = portal.app.store.user_by_id(session.user.id).await?
        && let Err(e) = crate::auth::email_token::send_verification(&portal, &user).await
    {
        tracing::warn!(user.id = user.id, error = %e, "could not queue the verification mail");
    }
    Ok(Redirect::to("/account?email=1").into_response())
}

/// Checks the signed-in person's password again, behind the sign-in limiter.
pub(crate) async fn reauthenticate(
    portal: &Portal,
    session: &Session,
    client: ClientAddr,
    password: &str,
) -> Result<bool, PortalError> {
    let now = portal.clock.now_ms();
    // The same counter as signing in to this account.
    let key = format!("user:{}", session.user.id);
    if let Err(locked) = portal.limits.check(
        crate::auth::limits::Action::SignIn,
        Some(&key),
        client.0,
        now,
    ) {
        return Err(PortalError::TooManyAttempts {
            retry_after_s: locked.retry_after_s,
        });
    }
    let stored = session.user.password_hash.clone();
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(|e| PortalError::Internal(format!("password check: {e}")))??;
    if !ok {
        let action = crate::auth::limits::Action::SignIn;
        portal.limits.failed(action, Some(&key), client.0, now);
    }
    Ok(ok)
}

async fn render(
    portal: &Portal,
    session: &Session,
    template: &str,
    status: StatusCode,
    error: Option<String>,
    notice: Option<&str>,
) -> Result<Response, PortalError> {
    let profile = portal.app.store.profile(session.user.person_id).await?;
    let imperial = profile.units == "imperial";
    let (feet, inches) = profile.height_cm.map_or((None, None), |cm| {
        let total = (cm / 2.54).round();
        (Some(total.div_euclid(12.0)), Some(total.rem_euclid(12.0)))
    });
    let zones: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    let context = minijinja::context! {
        title => if template == "onboarding.html" { "Welcome" } else { "Your account" },
        profile => minijinja::Value::from(minijinja::value::Serde(&profile)),
        imperial => imperial,
        height_ft => feet,
        height_in => inches,
        zones => zones,
        blood_types => BLOOD_TYPES,
        email => &session.user.email,
        email_verified => session.user.email_verified_ms.is_some(),
        two_factor => session.user.totp_enabled_ms.is_some(),
        role => session.user.role.as_str(),
        error => error,
        notice => notice,
        ..super::chrome(session, "account")
    };
    let mut response = super::html(template, context)?;
    *response.status_mut() = status;
    Ok(response)
}
