//! `/account/data`: a person deleting their own data — one metric over a span
//! of days, everything one of their devices recorded, or the whole account.
//!
//! Deleting the account asks for the password again and only schedules the
//! deletion ([`cohealth_store::DELETION_GRACE_MS`] out); every other session is
//! signed out at once, and a banner on every page offers to cancel until the
//! daemon carries it out. The store functions take the subject person
//! explicitly and every deletion asks [`authorize`] first; for now these pages
//! act on the signed-in person only.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use cohealth_ingest::{DeviceId, Metric};
use cohealth_store::{Category, Role, StoreError, day_start};
use serde::{Deserialize, Serialize};

use crate::auth::ClientAddr;
use crate::auth::access::{Access, authorize};
use crate::auth::session::Session;
use crate::{Portal, PortalError};

/// Deleting one metric over a span of local days.
#[derive(Debug, Deserialize)]
pub(crate) struct MetricForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    metric: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// Deleting everything one device recorded.
#[derive(Debug, Deserialize)]
pub(crate) struct DeviceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    confirm: Option<String>,
}

/// Scheduling the account's deletion.
#[derive(Debug, Deserialize)]
pub(crate) struct AccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
}

/// A form that carries only its CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// What the last action did, for the notice.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Done {
    deleted: Option<u64>,
    scheduled: Option<String>,
    cancelled: Option<String>,
}

#[derive(Debug, Serialize)]
struct MetricOption {
    value: &'static str,
    label: String,
}

#[derive(Debug, Serialize)]
struct DeviceOption {
    id: String,
    label: String,
}

/// A local date, as the banner and the page show it: `December 11, 2026`.
pub(crate) fn local_date(tz: Tz, ms: i64) -> String {
    tz.timestamp_millis_opt(ms)
        .earliest()
        .map(|t| t.format("%B %-d, %Y").to_string())
        .unwrap_or_default()
}

/// `GET /account/data`.
pub(crate) async fn page(
    State(portal): State<Portal>,
    session: Session,
    Query(done): Query<Done>,
) -> Result<Response, PortalError> {
    let notice = if let Some(n) = done.deleted {
        Some(format!("Deleted {n} readings."))
    } else if done.scheduled.is_some() {
        Some(
            "Your account is scheduled for deletion. Every other session has been signed out."
                .into(),
        )
    } else if done.cancelled.is_some() {
        Some("Deletion cancelled. Your account stays.".into())
    } else {
        None
    };
    render(&portal, &session, StatusCode::OK, None, notice).await
}

/// `POST /account/data/metric`.
pub(crate) async fn delete_metric(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<MetricForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let tz = super::zone(&session.user.time_zone);
    let parsed = (|| {
        let metric = Metric::from_name(&form.metric).ok_or("Choose a measurement.")?;
        let date = |s: &str| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
        let (Some(from), Some(to)) = (date(&form.from), date(&form.to)) else {
            return Err("Enter both dates as YYYY-MM-DD.");
        };
        if to < from {
            return Err("The last day comes before the first.");
        }
        let end = to.succ_opt().ok_or("The last day is out of range.")?;
        if form.confirm.is_none() {
            return Err("Tick the box to confirm the deletion.");
        }
        Ok((metric, day_start(tz, from), day_start(tz, end)))
    })();
    let (metric, from_ms, to_ms) = match parsed {
        Ok(p) => p,
        Err(message) => return invalid(&portal, &session, message).await,
    };
    let person = session.user.person_id;
    let category = Category::of(metric);
    authorize(
        &portal,
        &session.user,
        person,
        category,
        Access::Delete,
        "delete range",
    )
    .await?;
    let deleted = portal
        .app
        .store
        .delete_metric_range(person, metric, from_ms, to_ms)
        .await?;
    tracing::info!(
        person.id = person,
        metric = metric.as_str(),
        samples = deleted,
        "readings deleted over a date range"
    );
    Ok(Redirect::to(&format!("/account/data?deleted={deleted}")).into_response())
}

/// `POST /account/data/device`.
pub(crate) async fn delete_device(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<DeviceForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let Some(device) = DeviceId::parse(&form.device) else {
        return invalid(&portal, &session, "Choose one of your devices.").await;
    };
    if form.confirm.is_none() {
        return invalid(&portal, &session, "Tick the box to confirm the deletion.").await;
    }
    let person = session.user.person_id;
    delete_everything_allowed(&portal, &session, person, "delete device data").await?;
    let store = &portal.app.store;
    let mine = store
        .list_devices()
        .await?
        .iter()
        .any(|d| d.id == device.as_str() && d.person_id == Some(person));
    if !mine {
        return invalid(&portal, &session, "Choose one of your devices.").await;
    }
    let outcome = match store.delete_device_data(person, device.as_str()).await {
        Ok(o) => o,
        Err(StoreError::NotFound(_)) => {
            return invalid(&portal, &session, "Choose one of your devices.").await;
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(
        person.id = person,
        device.id = device.as_str(),
        samples = outcome.samples,
        forgotten = outcome.forgotten,
        "device data deleted"
    );
    Ok(Redirect::to(&format!("/account/data?deleted={}", outcome.samples)).into_response())
}

/// `POST /account/data/account`: schedules the account's deletion.
pub(crate) async fn delete_account(
    State(portal): State<Portal>,
    session: Session,
    client: ClientAddr,
    Form(form): Form<AccountForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    if !super::account::reauthenticate(&portal, &session, client, &form.current).await? {
        return invalid(&portal, &session, "The current password is not right.").await;
    }
    let user = &session.user;
    delete_everything_allowed(&portal, &session, user.person_id, "delete account").await?;
    let store = &portal.app.store;
    // The last admin leaving would strand the household's other members.
    if user.role == Role::Admin && store.admin_count(user.household_id).await? <= 1 {
        let others = store
            .members(user.household_id)
            .await?
            .iter()
            .any(|m| m.user_id.is_some_and(|id| id != user.id));
        if others {
            let message = "You are the household's only admin: make another member admin first.";
            return invalid(&portal, &session, message).await;
        }
    }
    let request = store
        .request_deletion(user.person_id, Some(user.id), portal.clock.now_ms())
        .await?;
    let ended = store
        .delete_sessions_of(user.id, Some(&session.id_hash))
        .await?;
    portal.sessions.forget_user(user.id);
    tracing::info!(
        user.id = user.id,
        due_ms = request.due_ms,
        sessions.ended = ended,
        "account deletion scheduled"
    );
    Ok(Redirect::to("/account/data?scheduled=1").into_response())
}

/// `POST /account/data/cancel`: the banner's button.
pub(crate) async fn cancel(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let user = &session.user;
    // A removal by the household's admin is theirs to undo, not the member's.
    if let Some(pending) = portal.app.store.deletion_request(user.person_id).await?
        && pending.requested_by.is_some_and(|by| by != user.id)
    {
        return Err(PortalError::Forbidden);
    }
    let was = portal.app.store.cancel_deletion(user.person_id).await?;
    portal.sessions.forget_user(user.id);
    tracing::info!(
        user.id = user.id,
        pending = was,
        "account deletion cancelled"
    );
    Ok(Redirect::to("/account/data?cancelled=1").into_response())
}

/// A deletion that spans categories (a device's data, an account) needs delete
/// access to every category.
async fn delete_everything_allowed(
    portal: &Portal,
    session: &Session,
    subject: i64,
    detail: &str,
) -> Result<(), PortalError> {
    for category in [
        Category::Vitals,
        Category::Activity,
        Category::Records,
        Category::Appointments,
    ] {
        authorize(
            portal,
            &session.user,
            subject,
            category,
            Access::Delete,
            detail,
        )
        .await?;
    }
    Ok(())
}

async fn invalid(
    portal: &Portal,
    session: &Session,
    message: &str,
) -> Result<Response, PortalError> {
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    render(portal, session, status, Some(message.to_owned()), None).await
}

async fn render(
    portal: &Portal,
    session: &Session,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Response, PortalError> {
    let person = session.user.person_id;
    let tz = super::zone(&session.user.time_zone);
    let metrics: Vec<MetricOption> = Metric::ALL
        .into_iter()
        .filter(|m| *m != Metric::Battery)
        .map(|m| MetricOption {
            value: m.as_str(),
            label: m.as_str().replace('_', " "),
        })
        .collect();
    let devices: Vec<DeviceOption> = portal
        .app
        .store
        .list_devices()
        .await?
        .into_iter()
        .filter(|d| d.person_id == Some(person))
        .map(|d| DeviceOption {
            label: match d.name.or(d.model) {
                Some(name) => format!("{name} ({})", d.id),
                None => d.id.clone(),
            },
            id: d.id,
        })
        .collect();
    let today = tz
        .timestamp_millis_opt(portal.clock.now_ms())
        .earliest()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    let context = minijinja::context! {
        title => "Your data",
        metrics => minijinja::Value::from(minijinja::value::Serde(&metrics)),
        devices => minijinja::Value::from(minijinja::value::Serde(&devices)),
        today => today,
        time_zone => tz.name(),
        grace_days => cohealth_store::DELETION_GRACE_MS / 86_400_000,
        error => error,
        notice => notice,
        ..super::chrome(session, "account")
    };
    let mut response = super::html("data.html", context)?;
    *response.status_mut() = status;
    Ok(response)
}
