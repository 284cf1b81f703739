//! Reading data: `GET /api/v1/samples`, `/series` and `/devices`.
//!
//! Times are RFC 3339 in and out. A query may name a `person`; anyone but the
//! caller's own person is refused with 403 until sharing grants exist.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, SecondsFormat, Utc};
use cohealth_ingest::Metric;
use cohealth_store::{Bucket, DeviceRow};
use serde::{Deserialize, Serialize};

use super::ApiUser;
use crate::auth::access::{Access, authorize};
use crate::auth::scopes::Scope;
use crate::{Portal, PortalError};
use cohealth_store::Category;

const MAX_SAMPLES: i64 = 100_000;
const MAX_SPAN_DAYS: i64 = 400;

/// `?metric=&from=&to=` plus optional `bucket`, `limit` and `person`.
#[derive(Debug, Deserialize)]
pub(crate) struct RangeQuery {
    metric: String,
    from: String,
    to: String,
    bucket: Option<String>,
    limit: Option<i64>,
    person: Option<i64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct SampleOut {
    time: String,
    value: f64,
    source: String,
    device: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct SamplesOut {
    metric: &'static str,
    unit: &'static str,
    samples: Vec<SampleOut>,
}

#[derive(Debug, Serialize)]
pub(crate) struct BucketOut {
    start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    day: Option<String>,
    count: i64,
    sum: f64,
    min: f64,
    max: f64,
    avg: f64,
}

#[derive(Debug, Serialize)]
pub(crate) struct SeriesOut {
    metric: &'static str,
    unit: &'static str,
    bucket: &'static str,
    time_zone: String,
    buckets: Vec<BucketOut>,
}

#[derive(Debug, Serialize)]
pub(crate) struct DeviceOut {
    id: String,
    name: Option<String>,
    model: Option<String>,
    last_seen: String,
    battery: Option<f64>,
    claimed_by_you: bool,
}

/// Checked parameters shared by samples and series.
struct Checked {
    person: i64,
    metric: Metric,
    from_ms: i64,
    to_ms: i64,
}

/// Checks the query and the caller's right to it: another person's data goes
/// through the authorization function (and its audit) like every page.
async fn check(
    portal: &Portal,
    user: &ApiUser,
    q: &RangeQuery,
    route: &str,
) -> Result<Checked, PortalError> {
    user.require(Scope::SamplesRead)?;
    let metric = Metric::from_name(&q.metric)
        .ok_or_else(|| PortalError::BadRequest(format!("unknown metric `{}`", q.metric)))?;
    let person = q.person.unwrap_or(user.user.person_id);
    let detail = format!("{route} {}", metric.as_str());
    authorize(
        portal,
        &user.user,
        person,
        Category::of(metric),
        Access::Read,
        &detail,
    )
    .await?;
    let (from_ms, to_ms) = (rfc3339(&q.from, "from")?, rfc3339(&q.to, "to")?);
    if to_ms <= from_ms || to_ms - from_ms > MAX_SPAN_DAYS * 86_400_000 {
        return Err(PortalError::BadRequest(format!(
            "`to` must follow `from` by at most {MAX_SPAN_DAYS} days"
        )));
    }
    Ok(Checked {
        person,
        metric,
        from_ms,
        to_ms,
    })
}

fn rfc3339(text: &str, name: &str) -> Result<i64, PortalError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| PortalError::BadRequest(format!("`{name}` must be an RFC 3339 time")))
}

fn to_rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// `GET /api/v1/samples`.
pub(crate) async fn samples(
    State(portal): State<Portal>,
    user: ApiUser,
    Query(q): Query<RangeQuery>,
) -> Result<Json<SamplesOut>, PortalError> {
    let c = check(&portal, &user, &q, "api samples").await?;
    let limit = q.limit.unwrap_or(10_000).clamp(1, MAX_SAMPLES);
    let rows = portal
        .app
        .store
        .samples(c.person, c.metric, c.from_ms, c.to_ms, limit)
        .await?;
    Ok(Json(SamplesOut {
        metric: c.metric.as_str(),
        unit: c.metric.unit(),
        samples: rows
            .into_iter()
            .map(|r| SampleOut {
                time: to_rfc3339(r.ts_ms),
                value: r.value,
                source: r.source,
                device: r.device,
            })
            .collect(),
    }))
}

/// `GET /api/v1/series`.
pub(crate) async fn series(
    State(portal): State<Portal>,
    user: ApiUser,
    Query(q): Query<RangeQuery>,
) -> Result<Json<SeriesOut>, PortalError> {
    let c = check(&portal, &user, &q, "api series").await?;
    let (bucket, name) = match q.bucket.as_deref().unwrap_or("hour") {
        "minute" => (Bucket::Minute, "minute"),
        "hour" => (Bucket::Hour, "hour"),
        "day" => (Bucket::Day, "day"),
        other => {
            return Err(PortalError::BadRequest(format!(
                "unknown bucket `{other}`: use minute, hour or day"
            )));
        }
    };
    let points = portal
        .app
        .store
        .series(c.person, c.metric, bucket, c.from_ms, c.to_ms)
        .await?;
    Ok(Json(SeriesOut {
        metric: c.metric.as_str(),
        unit: c.metric.unit(),
        bucket: name,
        // Day buckets are the subject's local days.
        time_zone: match portal.app.store.person(c.person).await? {
            Some(p) => p.time_zone,
            None => user.user.time_zone.clone(),
        },
        buckets: points
            .into_iter()
            .map(|p| BucketOut {
                start: to_rfc3339(p.start_ms),
                day: p.day,
                count: p.count,
                sum: p.sum,
                min: p.min,
                max: p.max,
                avg: p.sum / p.count.max(1) as f64,
            })
            .collect(),
    }))
}

/// `GET /api/v1/devices`: the caller's devices and unclaimed ones.
pub(crate) async fn devices(
    State(portal): State<Portal>,
    user: ApiUser,
) -> Result<Json<Vec<DeviceOut>>, PortalError> {
    user.require(Scope::SamplesRead)?;
    let person = user.user.person_id;
    let devices = crate::pages::devices::visible_to(portal.app.store.list_devices().await?, person);
    Ok(Json(
        devices
            .into_iter()
            .map(|d: DeviceRow| DeviceOut {
                claimed_by_you: d.person_id == Some(person),
                last_seen: to_rfc3339(d.last_seen_ms),
                battery: d.battery,
                id: d.id,
                name: d.name,
                model: d.model,
            })
            .collect(),
    ))
}
