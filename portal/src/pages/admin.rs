//! The household admin's page: who may join (open registration or single-use
//! invitation links) and who has joined. Only the admin role reaches it; the
//! admin gets no extra access to anyone's health data from it.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cohealth_store::Role;
use serde::{Deserialize, Serialize};

use crate::auth::session::{Session, over_tls};
use crate::auth::{hash_session_id, random_hex};
use crate::{Portal, PortalError};

/// How long an invitation link works unless the admin says otherwise.
const DEFAULT_INVITE_DAYS: i64 = 7;

/// The registration toggle.
#[derive(Debug, Deserialize)]
pub(crate) struct OpenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    open: Option<String>,
}

/// The new-invitation form.
#[derive(Debug, Deserialize)]
pub(crate) struct InviteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    days: String,
}

/// The raw-sample retention form: days, or empty to keep everything.
#[derive(Debug, Deserialize)]
pub(crate) struct RetentionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    days: String,
}

/// The withdraw form.
#[derive(Debug, Deserialize)]
pub(crate) struct WithdrawForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    invitation: String,
}

#[derive(Debug, Serialize)]
struct InvitationView {
    handle: String,
    role: &'static str,
    email: Option<String>,
    expires: String,
}

/// Refuses anyone but the household's admin.
pub(crate) fn require_admin(session: &Session) -> Result<(), PortalError> {
    if session.user.role == Role::Admin {
        Ok(())
    } else {
        Err(PortalError::Forbidden)
    }
}

/// `GET /admin/household`.
pub(crate) async fn page(
    State(portal): State<Portal>,
    session: Session,
) -> Result<Response, PortalError> {
    require_admin(&session)?;
    render(&portal, &session, StatusCode::OK, None, None).await
}

/// `POST /admin/household/registration`.
pub(crate) async fn set_open(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<OpenForm>,
) -> Result<Response, PortalError> {
    require_admin(&session)?;
    session.check_csrf(&form.csrf)?;
    let open = form.open.is_some();
    portal
        .app
        .store
        .set_open_registration(session.user.household_id, open)
        .await?;
    tracing::info!(
        user.id = session.user.id,
        open,
        "registration setting changed"
    );
    Ok(Redirect::to("/admin/household").into_response())
}

/// `POST /admin/household/retention`.
pub(crate) async fn set_retention(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<RetentionForm>,
) -> Result<Response, PortalError> {
    require_admin(&session)?;
    session.check_csrf(&form.csrf)?;
    let raw = form.days.trim();
    let max = cohealth_store::RETENTION_MAX_DAYS;
    let days = match raw.parse::<i64>() {
        _ if raw.is_empty() => None,
        Ok(d) if (1..=max).contains(&d) => Some(d),
        _ => {
            let message = format!("Keep raw readings for 1 to {max} days, or leave it empty.");
            return render(
                &portal,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(message),
                None,
            )
            .await;
        }
    };
    portal
        .app
        .store
        .set_retention_days(session.user.household_id, days)
        .await?;
    tracing::info!(
        user.id = session.user.id,
        retention_days = days,
        "retention changed"
    );
    Ok(Redirect::to("/admin/household").into_response())
}

/// `POST /admin/household/invite`: makes a single-use link and shows it once.
pub(crate) async fn invite(
    State(portal): State<Portal>,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Result<Response, PortalError> {
    require_admin(&session)?;
    session.check_csrf(&form.csrf)?;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let role = match form.role.as_str() {
        "adult" => Role::Adult,
        "child" => Role::Child,
        "caregiver" => Role::Caregiver,
        "admin" => Role::Admin,
        _ => {
            let error = Some("Choose the role the new member will have.".to_owned());
            return render(&portal, &session, status, error, None).await;
        }
    };
    let days = match form.days.trim() {
        "" => DEFAULT_INVITE_DAYS,
        d => match d.parse::<i64>() {
            Ok(d) if (1..=30).contains(&d) => d,
            _ => {
                let error = Some("An invitation lasts 1 to 30 days.".to_owned());
                return render(&portal, &session, status, error, None).await;
            }
        },
    };
    let email = form.email.trim().to_lowercase();
    let email = (!email.is_empty()).then_some(email);
    if email
        .as_deref()
        .is_some_and(|e| !super::register::plausible_email(e))
    {
        let error = Some("That email address does not look right.".to_owned());
        return render(&portal, &session, status, error, None).await;
    }
    let token = random_hex(32)?;
    let now = portal.clock.now_ms();
    portal
        .app
        .store
        .create_invitation(
            &hash_session_id(&token),
            session.user.household_id,
            role,
            email.as_deref(),
            session.user.id,
            now,
            now + days * 86_400_000,
        )
        .await?;
    tracing::info!(
        user.id = session.user.id,
        role = role.as_str(),
        days,
        "invitation made"
    );
    let link = format!("{}/register?invite={token}", base_url(&portal, &headers));
    render(&portal, &session, StatusCode::OK, None, Some(link)).await
}

/// `POST /admin/household/withdraw`.
pub(crate) async fn withdraw(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<WithdrawForm>,
) -> Result<Response, PortalError> {
    require_admin(&session)?;
    session.check_csrf(&form.csrf)?;
    if !portal
        .app
        .store
        .withdraw_invitation(session.user.household_id, form.invitation.trim())
        .await?
    {
        return Err(PortalError::NotFound);
    }
    Ok(Redirect::to("/admin/household").into_response())
}

/// Where links should point: the configured public address, else the address
/// this request came to.
pub(crate) fn base_url(portal: &Portal, headers: &HeaderMap) -> String {
    if let Some(url) = &portal.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = if over_tls(portal, headers) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

async fn render(
    portal: &Portal,
    session: &Session,
    status: StatusCode,
    error: Option<String>,
    link: Option<String>,
) -> Result<Response, PortalError> {
    let store = &portal.app.store;
    let household = session.user.household_id;
    let now = portal.clock.now_ms();
    let tz = super::zone(&session.user.time_zone);
    let settings = store.household_settings(household).await?;
    let invitations: Vec<InvitationView> = store
        .open_invitations(household, now)
        .await?
        .into_iter()
        .map(|i| InvitationView {
            handle: i.token_hash.chars().take(16).collect(),
            role: i.role.as_str(),
            email: i.email,
            expires: super::local_time(tz, i.expires_ms, now),
        })
        .collect();
    let members = store.members(household).await?;
    let retention_days = store.retention_days(household).await?;
    let context = minijinja::context! {
        title => "Household",
        settings => minijinja::Value::from(minijinja::value::Serde(settings)),
        invitations => minijinja::Value::from(minijinja::value::Serde(&invitations)),
        members => minijinja::Value::from(minijinja::value::Serde(&members)),
        link => link,
        retention_days => retention_days,
        error => error,
        ..super::chrome(session, "admin")
    };
    let mut response = super::html("admin_household.html", context)?;
    *response.status_mut() = status;
    Ok(response)
}
