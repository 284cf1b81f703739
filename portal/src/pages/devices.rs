//! Devices: what the hub has seen, and claiming or releasing one for yourself.
//!
//! A person sees their own devices and unclaimed ones; devices another member
//! claimed stay out of view (their names can say whose they are).

use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use cohealth_ingest::DeviceId;
use cohealth_store::DeviceRow;
use serde::{Deserialize, Serialize};

use crate::auth::session::Session;
use crate::{Portal, PortalError};

/// A claim or unclaim form.
#[derive(Debug, Deserialize)]
pub(crate) struct DeviceForm {
    device: String,
    #[serde(default)]
    csrf: String,
}

#[derive(Debug, Serialize)]
struct DeviceView {
    id: String,
    name: Option<String>,
    model: Option<String>,
    last_seen: String,
    battery: Option<String>,
    mine: bool,
    pending: i64,
}

/// The devices `person` may see: their own and unclaimed ones.
pub(crate) fn visible_to(devices: Vec<DeviceRow>, person: i64) -> Vec<DeviceRow> {
    devices
        .into_iter()
        .filter(|d| d.person_id.is_none() || d.person_id == Some(person))
        .collect()
}

/// `GET /devices`.
pub(crate) async fn page(
    State(portal): State<Portal>,
    session: Session,
) -> Result<Response, PortalError> {
    let now = portal.clock.now_ms();
    let tz = super::zone(&session.user.time_zone);
    let person = session.user.person_id;
    let devices: Vec<DeviceView> = visible_to(portal.app.store.list_devices().await?, person)
        .into_iter()
        .map(|d| DeviceView {
            mine: d.person_id == Some(person),
            last_seen: super::local_time(tz, d.last_seen_ms, now),
            battery: d.battery.map(|b| format!("{b:.0}")),
            id: d.id,
            name: d.name,
            model: d.model,
            pending: d.pending,
        })
        .collect();
    let context = minijinja::context! {
        title => "Devices",
        devices => minijinja::Value::from(minijinja::value::Serde(&devices)),
        time_zone => tz.name(),
        ..super::chrome(&session, "devices")
    };
    super::html("devices.html", context)
}

/// `POST /devices/claim`.
pub(crate) async fn claim(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<DeviceForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let device = parse_device(&form.device)?;
    if !claimable(&portal, &device).await? {
        return Err(PortalError::NotFound);
    }
    let person = session.user.person_id;
    let outcome = portal
        .app
        .store
        .claim_device(device.as_str(), person, portal.clock.now_ms())
        .await?;
    tracing::info!(
        device.id = device.as_str(),
        person.id = person,
        pending.moved = outcome.moved,
        "device claimed"
    );
    Ok(Redirect::to("/devices").into_response())
}

/// `POST /devices/unclaim`.
pub(crate) async fn unclaim(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<DeviceForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let device = parse_device(&form.device)?;
    let person = session.user.person_id;
    portal
        .app
        .store
        .unclaim_device(device.as_str(), person)
        .await?;
    tracing::info!(
        device.id = device.as_str(),
        person.id = person,
        "device released"
    );
    Ok(Redirect::to("/devices").into_response())
}

fn parse_device(raw: &str) -> Result<DeviceId, PortalError> {
    DeviceId::parse(raw)
        .ok_or_else(|| PortalError::BadRequest(format!("`{raw}` is not a device id")))
}

/// Devices the portal lets a member claim: ones the hub has heard and nobody
/// holds. Claiming an id never heard would reserve it (and, for a strap, make
/// the hub connect to it for the claimer); the devices named after a token
/// (`hae:token-…`) belong to the token's owner from its first post.
pub(crate) async fn claimable(portal: &Portal, device: &DeviceId) -> Result<bool, PortalError> {
    if device.as_str().starts_with("hae:token-") {
        return Ok(false);
    }
    Ok(portal
        .app
        .store
        .list_devices()
        .await?
        .iter()
        .any(|d| d.id == device.as_str() && d.person_id.is_none()))
}
