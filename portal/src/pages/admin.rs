//! The household admin's page: who may join (open registration or single-use
//! invitation links) and who has joined. Only the admin role reaches it; the
//! admin gets no extra access to anyone's health data from it.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cohealth_store::{Member, Role};
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

/// The role form: one member's new role.
#[derive(Debug, Deserialize)]
pub(crate) struct RoleForm {
    #[serde(default)]
    csrf: String,
    user: i64,
    #[serde(default)]
    role: String,
}

/// A person without an account (a young child).
#[derive(Debug, Deserialize)]
pub(crate) struct PersonForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_zone: String,
}

/// Naming one member's account.
#[derive(Debug, Deserialize)]
pub(crate) struct MemberForm {
    #[serde(default)]
    csrf: String,
    user: i64,
}

/// Claiming a device for a member.
#[derive(Debug, Deserialize)]
pub(crate) struct ClaimForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    device: String,
    person: i64,
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
        .create_invitation(&cohealth_store::NewInvitation {
            token_hash: &hash_session_id(&token),
            household: session.user.household_id,
            role,
            email: email.as_deref(),
            created_by: session.user.id,
            now_ms: now,
            expires_ms: now + days * 86_400_000,
        })
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

/// The household member with account `user`; 404 for anyone else, so ids of
/// other households cannot be probed.
async fn member_account(portal: &Portal, household: i64, user: i64) -> Result<Member, PortalError> {
    portal
        .app
        .store
        .members(household)
        .await?
        .into_iter()
        .find(|m| m.user_id == Some(user))
        .ok_or(PortalError::NotFound)
}

/// The household member who is person `person` (with or without an account).
async fn member_person(
    portal: &Portal,
    household: i64,
    person: i64,
) -> Result<Member, PortalError> {
    portal
        .app
        .store
        .members(household)
        .await?
        .into_iter()
        .find(|m| m.person_id == person)
        .ok_or(PortalError::NotFound)
}

fn parse_role(name: &str) -> Option<Role> {
    match name {
        "adult" => Some(Role::Adult),
        "child" => Some(Role::Child),
        "caregiver" => Some(Role::Caregiver),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

/// `POST /admin/household/role`: changes a member's role. The member's
/// sessions end, so their next sign-in carries the new role (a session never
/// outlives a change of privilege).
pub(crate) async fn set_role(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<RoleForm>,
) -> Result<Response, PortalError> {
    require_admin(&session)?;
    session.check_csrf(&form.csrf)?;
    let store = &portal.app.store;
    let household = session.user.household_id;
    let role =
        parse_role(&form.role).ok_or_else(|| PortalError::BadRequest("unknown role".to_owned()))?;
    member_account(&portal, household, form.user).await?;
    if !store.set_role(form.user, role).await? {
        let error = Some("The household needs an admin: make someone else admin first.".to_owned());
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(&portal, &session, status, error, None).await;
    }
    store.delete_sessions_of(form.user, None).await?;
    portal.sessions.forget_user(form.user);
    tracing::info!(
        user.id = session.user.id,
        member.user = form.user,
        role = role.as_str(),
        "role changed"
    );
    Ok(Redirect::to("/admin/household").into_response())
}

/// `POST /admin/household/remove`: removes a member. Their account and data
/// are deleted after the same seven-day grace as a deletion they ask for
/// themselves (time to export their data); their sessions and tokens end now.
/// Only the admin can undo it.
pub(crate) async fn remove(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<MemberForm>,
) -> Result<Response, PortalError> {
    require_admin(&session)?;
    session.check_csrf(&form.csrf)?;
    let store = &portal.app.store;
    if form.user == session.user.id {
        let error = Some("To leave, delete your own account on the Your data page.".to_owned());
        return render(
            &portal,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            error,
            None,
        )
        .await;
    }
    let member = member_account(&portal, session.user.household_id, form.user).await?;
    let now = portal.clock.now_ms();
    store
        .request_deletion(member.person_id, Some(session.user.id), now)
        .await?;
    store.delete_sessions_of(form.user, None).await?;
    store.revoke_personal_tokens_of(form.user, now).await?;
    portal.sessions.forget_user(form.user);
    tracing::info!(
        user.id = session.user.id,
        member.user = form.user,
        "member removed; deletion scheduled"
    );
    Ok(Redirect::to("/admin/household").into_response())
}

/// `POST /admin/household/keep`: undoes a removal during its grace period.
pub(crate) async fn keep(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<MemberForm>,
) -> Result<Response, PortalError> {
    require_admin(&session)?;
    session.check_csrf(&form.csrf)?;
    let store = &portal.app.store;
    let member = member_account(&portal, session.user.household_id, form.user).await?;
    store.cancel_deletion(member.person_id).await?;
    tracing::info!(
        user.id = session.user.id,
        member.user = form.user,
        "member removal undone"
    );
    Ok(Redirect::to("/admin/household").into_response())
}

/// `POST /admin/household/person`: a person without an account, managed by
/// the household's adults (a young child whose band the admin claims).
pub(crate) async fn add_person(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<PersonForm>,
) -> Result<Response, PortalError> {
    require_admin(&session)?;
    session.check_csrf(&form.csrf)?;
    let zone = if form.time_zone.trim().is_empty() {
        session.user.time_zone.clone()
    } else {
        form.time_zone.trim().to_owned()
    };
    let now = portal.clock.now_ms();
    match portal
        .app
        .store
        .add_managed_person(
            session.user.household_id,
            &form.name,
            &zone,
            session.user.person_id,
            now,
        )
        .await
    {
        Ok(person) => {
            tracing::info!(
                user.id = session.user.id,
                person.id = person,
                "person without an account added"
            );
            Ok(Redirect::to("/admin/household").into_response())
        }
        Err(cohealth_store::StoreError::Invalid(why)) => {
            let error = Some(format!("Please check: {why}."));
            render(
                &portal,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                error,
                None,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/household/claim`: ties a device to a member of the household.
pub(crate) async fn claim_for(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<ClaimForm>,
) -> Result<Response, PortalError> {
    require_admin(&session)?;
    session.check_csrf(&form.csrf)?;
    let store = &portal.app.store;
    member_person(&portal, session.user.household_id, form.person).await?;
    let device = cohealth_ingest::DeviceId::parse(form.device.trim())
        .ok_or_else(|| PortalError::BadRequest("unknown device id".to_owned()))?;
    if !super::devices::claimable(&portal, &device).await? {
        return Err(PortalError::NotFound);
    }
    let now = portal.clock.now_ms();
    match store.claim_device(device.as_str(), form.person, now).await {
        Ok(outcome) => {
            tracing::info!(
                user.id = session.user.id,
                device.id = %device,
                person.id = form.person,
                moved = outcome.moved,
                "device claimed for a member"
            );
            Ok(Redirect::to("/admin/household").into_response())
        }
        Err(cohealth_store::StoreError::Conflict(_)) => {
            let error =
                Some("That device belongs to someone else; they must release it first.".to_owned());
            render(&portal, &session, StatusCode::CONFLICT, error, None).await
        }
        Err(e) => Err(e.into()),
    }
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
    let mut leaving = Vec::new();
    for m in &members {
        if let Some(pending) = store.deletion_request(m.person_id).await? {
            leaving.push((
                m.person_id.to_string(),
                super::local_time(tz, pending.due_ms, now),
            ));
        }
    }
    let devices = store.list_devices().await?;
    let unclaimed: Vec<String> = devices
        .into_iter()
        .filter(|d| d.person_id.is_none())
        .map(|d| d.id)
        .collect();
    let retention_days = store.retention_days(household).await?;
    let context = minijinja::context! {
        title => "Household",
        settings => minijinja::Value::from(minijinja::value::Serde(settings)),
        invitations => minijinja::Value::from(minijinja::value::Serde(&invitations)),
        members => minijinja::Value::from(minijinja::value::Serde(&members)),
        unclaimed => unclaimed,
        leaving => minijinja::Value::from(minijinja::value::Serde(
            leaving.into_iter().collect::<std::collections::BTreeMap<_, _>>()
        )),
        roles => ["adult", "child", "caregiver", "admin"],
        link => link,
        retention_days => retention_days,
        error => error,
        ..super::chrome(session, "admin")
    };
    let mut response = super::html("admin_household.html", context)?;
    *response.status_mut() = status;
    Ok(response)
}
