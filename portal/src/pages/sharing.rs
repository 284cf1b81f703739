//! Sharing: a person gives another member read access to chosen categories of
//! their data, optionally until a date, and revokes it at any time; sees what
//! was shared with them; and reads the audit log of who looked at their data.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use cohealth_store::{AuditEntry, Category, day_start};
use serde::{Deserialize, Serialize};

use crate::auth::access::{Access, authorize};
use crate::auth::session::Session;
use crate::{Portal, PortalError};

/// The new-grant form; ticked categories arrive as `vitals=1` and so on.
#[derive(Debug, Deserialize)]
pub(crate) struct GrantForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    grantee: Option<i64>,
    #[serde(default)]
    vitals: Option<String>,
    #[serde(default)]
    activity: Option<String>,
    #[serde(default)]
    records: Option<String>,
    #[serde(default)]
    appointments: Option<String>,
    /// The last day of access, `YYYY-MM-DD` in the owner's zone; empty for none.
    #[serde(default)]
    until: String,
}

/// The revoke form.
#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    id: i64,
}

#[derive(Debug, Serialize)]
struct GrantView {
    id: i64,
    who: String,
    who_id: i64,
    category: &'static str,
    until: Option<String>,
    given: String,
    status: &'static str,
}

#[derive(Debug, Serialize)]
struct AuditView {
    when: String,
    who: String,
    action: String,
    category: Option<String>,
    detail: Option<String>,
}

#[derive(Debug, Serialize)]
struct Candidate {
    person: i64,
    name: String,
    role: &'static str,
}

/// `GET /sharing`.
pub(crate) async fn page(
    State(portal): State<Portal>,
    session: Session,
) -> Result<Response, PortalError> {
    render(&portal, &session, StatusCode::OK, None).await
}

/// `POST /sharing/grant`.
pub(crate) async fn grant(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<GrantForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let user = &session.user;
    let me = user.person_id;
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let chosen: Vec<Category> = [
        (Category::Vitals, &form.vitals),
        (Category::Activity, &form.activity),
        (Category::Records, &form.records),
        (Category::Appointments, &form.appointments),
    ]
    .into_iter()
    .filter(|(_, ticked)| ticked.is_some())
    .map(|(c, _)| c)
    .collect();
    for &category in &chosen {
        authorize(&portal, user, me, category, Access::Share, "sharing").await?;
    }
    if chosen.is_empty() {
        let error = Some("Tick at least one kind of data to share.".to_owned());
        return render(&portal, &session, status, error).await;
    }
    let store = &portal.app.store;
    // Only members of the household with an account can be given access.
    let grantee = form.grantee.unwrap_or_default();
    let members = store.members(user.household_id).await?;
    let Some(target) = members
        .iter()
        .find(|m| m.person_id == grantee && m.user_id.is_some() && m.person_id != me)
    else {
        let error = Some("Choose a member of the household to share with.".to_owned());
        return render(&portal, &session, status, error).await;
    };
    let now = portal.clock.now_ms();
    let tz = super::zone(&user.time_zone);
    let until = match form.until.trim() {
        "" => None,
        text => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            // Access lasts through the chosen day, in the owner's zone.
            Ok(day) => match day.succ_opt().map(|next| day_start(tz, next)) {
                Some(end) if end > now => Some(end),
                _ => {
                    let error = Some("The last day of access must be today or later.".to_owned());
                    return render(&portal, &session, status, error).await;
                }
            },
            Err(_) => {
                let error = Some("The last day of access: YYYY-MM-DD, or empty.".to_owned());
                return render(&portal, &session, status, error).await;
            }
        },
    };
    for &category in &chosen {
        store
            .create_grant(me, target.person_id, category, until, user.id, now)
            .await?;
        store
            .audit(&AuditEntry {
                ts_ms: now,
                actor_user: Some(user.id),
                actor_person: Some(me),
                actor_name: &user.display_name,
                subject_person: me,
                action: "share",
                category: Some(category),
                detail: Some(&format!("with {}", target.display_name)),
            })
            .await?;
    }
    tracing::info!(
        user.id = user.id,
        grantee.person = target.person_id,
        categories = chosen.len(),
        "data shared"
    );
    Ok(Redirect::to("/sharing").into_response())
}

/// `POST /sharing/revoke`.
pub(crate) async fn revoke(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let user = &session.user;
    let store = &portal.app.store;
    let now = portal.clock.now_ms();
    let grant = store
        .grants_given(user.person_id)
        .await?
        .into_iter()
        .find(|g| g.id == form.id && g.revoked_ms.is_none())
        .ok_or(PortalError::NotFound)?;
    // No authorization beyond ownership: revoking only narrows who reads, so
    // a child may revoke what was shared before they became one.
    store.revoke_grant(user.person_id, grant.id, now).await?;
    store
        .audit(&AuditEntry {
            ts_ms: now,
            actor_user: Some(user.id),
            actor_person: Some(user.person_id),
            actor_name: &user.display_name,
            subject_person: user.person_id,
            action: "revoke",
            category: Some(grant.category),
            detail: Some(&format!("from {}", grant.grantee_name)),
        })
        .await?;
    tracing::info!(user.id = user.id, grant.id = grant.id, "grant revoked");
    Ok(Redirect::to("/sharing").into_response())
}

async fn render(
    portal: &Portal,
    session: &Session,
    status: StatusCode,
    error: Option<String>,
) -> Result<Response, PortalError> {
    let user = &session.user;
    let store = &portal.app.store;
    let now = portal.clock.now_ms();
    let tz = super::zone(&user.time_zone);
    let when = |ms: i64| super::local_time(tz, ms, now);
    let given: Vec<GrantView> = store
        .grants_given(user.person_id)
        .await?
        .into_iter()
        .map(|g| GrantView {
            status: if g.revoked_ms.is_some() {
                "revoked"
            } else if g.live(now) {
                "active"
            } else {
                "expired"
            },
            id: g.id,
            who: g.grantee_name,
            who_id: g.grantee_person,
            category: g.category.as_str(),
            until: g.until_ms.map(when),
            given: when(g.created_ms),
        })
        .collect();
    let received: Vec<GrantView> = store
        .grants_received(user.person_id, now)
        .await?
        .into_iter()
        .map(|g| GrantView {
            status: "active",
            id: g.id,
            who: g.owner_name,
            who_id: g.owner_person,
            category: g.category.as_str(),
            until: g.until_ms.map(when),
            given: when(g.created_ms),
        })
        .collect();
    let candidates: Vec<Candidate> = store
        .members(user.household_id)
        .await?
        .into_iter()
        .filter(|m| m.user_id.is_some() && m.person_id != user.person_id)
        .map(|m| Candidate {
            person: m.person_id,
            name: m.display_name,
            role: m.role.map_or("", |r| r.as_str()),
        })
        .collect();
    let audit: Vec<AuditView> = store
        .audit_log_of(user.person_id, 200)
        .await?
        .into_iter()
        .map(|a| AuditView {
            when: when(a.ts_ms),
            who: if a.actor_person == Some(user.person_id) {
                "You".to_owned()
            } else {
                a.actor_name
            },
            action: a.action,
            category: a.category,
            detail: a.detail,
        })
        .collect();
    let context = minijinja::context! {
        title => "Sharing",
        given => minijinja::Value::from(minijinja::value::Serde(&given)),
        received => minijinja::Value::from(minijinja::value::Serde(&received)),
        candidates => minijinja::Value::from(minijinja::value::Serde(&candidates)),
        audit => minijinja::Value::from(minijinja::value::Serde(&audit)),
        categories => Category::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        can_share => user.role != cohealth_store::Role::Child,
        error => error,
        ..super::chrome(session, "sharing")
    };
    let mut response = super::html("sharing.html", context)?;
    *response.status_mut() = status;
    Ok(response)
}
