//! The dashboard: today's figures in tiles, then one trend chart per panel of the
//! dashboard definition, all for the signed-in person in their own time zone.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::TimeZone;
use chrono_tz::Tz;
use cohealth_store::{Bucket, Category, Store, day_start};
use serde::{Deserialize, Serialize};

use super::cache::Parts;
use crate::auth::access::{Access, authorize, decide, viewable};
use crate::auth::session::Session;
use crate::chart::{self, Range, Trend};
use crate::dashboards::{Dashboard, Figure};
use crate::{Portal, PortalError};

/// `?range=day|week|month|year`.
#[derive(Debug, Deserialize)]
pub(crate) struct RangeQuery {
    range: Option<String>,
    /// Whose dashboard: another person's, by id, if the viewer may see it.
    person: Option<i64>,
}

/// Whose data a dashboard shows, in which units, and which categories of it.
struct View {
    person: i64,
    units: String,
    allowed: Vec<Category>,
}

impl View {
    fn shows(&self, metric: cohealth_ingest::Metric) -> bool {
        self.allowed.contains(&Category::of(metric))
    }
}

/// One tile as the template shows it.
#[derive(Debug, Serialize)]
struct TileView {
    metric: &'static str,
    label: String,
    value: Option<String>,
    unit: &'static str,
    scale: f64,
    offset: f64,
    at: Option<String>,
    show: &'static str,
    decimals: usize,
}

/// One chart as the template shows it: the SVG is ours, escaped as it was drawn.
#[derive(Debug, Serialize)]
struct ChartView {
    title: String,
    metric: &'static str,
    svg: String,
}

/// `GET /dashboard`.
pub(crate) async fn page(
    State(portal): State<Portal>,
    session: Session,
    Query(query): Query<RangeQuery>,
) -> Result<Response, PortalError> {
    let range = match query.range.as_deref() {
        None => Range::Day,
        Some(name) => Range::parse(name)
            .ok_or_else(|| PortalError::BadRequest(format!("unknown range `{name}`")))?,
    };
    if session.user.onboarded_ms.is_none() {
        return Ok(axum::response::Redirect::to("/onboarding").into_response());
    }
    let now = portal.clock.now_ms();
    let user = &session.user;
    let own = query.person.is_none_or(|p| p == user.person_id);
    let (view, zone_name, whose) = if own {
        let view = View {
            person: user.person_id,
            units: user.units.clone(),
            allowed: Category::ALL.to_vec(),
        };
        (view, user.time_zone.clone(), None)
    } else {
        let subject = query.person.unwrap_or(user.person_id);
        let mut allowed = Vec::new();
        for category in [Category::Vitals, Category::Activity] {
            if decide(&portal, user, subject, category, Access::Read)
                .await?
                .is_some()
            {
                authorize(&portal, user, subject, category, Access::Read, "dashboard").await?;
                allowed.push(category);
            }
        }
        if allowed.is_empty() {
            tracing::info!(
                user.id = user.id,
                subject.person = subject,
                "dashboard refused"
            );
            return Err(PortalError::Forbidden);
        }
        let person = portal
            .app
            .store
            .person(subject)
            .await?
            .ok_or(PortalError::Forbidden)?;
        let view = View {
            person: subject,
            units: user.units.clone(),
            allowed,
        };
        (view, person.time_zone, Some(person.display_name))
    };
    let tz = super::zone(&zone_name);
    let cache = &portal.dashboard_cache;
    let (person, range_name, id_hash) = (view.person, range.as_str(), &session.id_hash);
    // The cache keys on how the page is drawn: zone, units and what may be seen.
    let seen: Vec<&str> = view.allowed.iter().map(|c| c.as_str()).collect();
    let look = format!("{}|{}|{}", tz.name(), view.units, seen.join(","));
    if let Some(page) = cache.page(person, range_name, &look, now, id_hash) {
        return Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response());
    }
    let parts = match portal
        .dashboard_cache
        .get(view.person, range.as_str(), &look, now)
    {
        Some(parts) => parts,
        None => {
            let store = &portal.app.store;
            let tiles = tiles(store, &portal.dashboard, &view, tz, now).await?;
            let charts = charts(store, &portal.dashboard, &view, tz, range, now).await?;
            let parts = Parts {
                tiles: minijinja::Value::from(minijinja::value::Serde(&tiles)),
                charts: minijinja::Value::from(minijinja::value::Serde(&charts)),
            };
            portal
                .dashboard_cache
                .put(user.person_id, range.as_str(), &look, now, parts.clone());
            parts
        }
    };
    let ranges: Vec<_> = Range::ALL.iter().map(|r| r.as_str()).collect();
    let viewable_now = viewable(&portal, user).await?;
    let context = minijinja::context! {
        title => "Dashboard",
        tiles => parts.tiles,
        charts => parts.charts,
        range => range.as_str(),
        ranges => ranges,
        time_zone => tz.name(),
        whose => whose,
        subject => view.person,
        viewable => minijinja::Value::from(minijinja::value::Serde(&viewable_now)),
        ..super::chrome(&session, "dashboard")
    };
    let page = Bytes::from(crate::templates::render("dashboard.html", context)?);
    cache.put_page(person, range_name, &look, now, id_hash, page.clone());
    Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
}

async fn tiles(
    store: &Store,
    dashboard: &Dashboard,
    view: &View,
    tz: Tz,
    now: i64,
) -> Result<Vec<TileView>, PortalError> {
    let today = tz
        .timestamp_millis_opt(now)
        .earliest()
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let midnight = day_start(tz, today);
    let mut out = Vec::with_capacity(dashboard.tiles.len());
    for tile in dashboard.tiles.iter().filter(|t| view.shows(t.metric)) {
        let (value, at) = match tile.show {
            Figure::Latest => match store.latest_sample(view.person, tile.metric, now).await? {
                Some(s) => (Some(s.value), Some(super::local_time(tz, s.ts_ms, now))),
                None => (None, None),
            },
            Figure::Today => {
                let days = store
                    .series(
                        view.person,
                        tile.metric,
                        Bucket::Day,
                        midnight,
                        midnight + 1,
                    )
                    .await?;
                (Some(days.iter().fold(0.0, |total, d| total + d.sum)), None)
            }
        };
        let shown = crate::units::shown(tile.metric, &view.units);
        let value = value.map(|v| match tile.show {
            Figure::Today => shown.amount(v),
            Figure::Latest => shown.value(v),
        });
        out.push(TileView {
            metric: tile.metric.as_str(),
            label: tile.label.clone(),
            value: value.map(|v| format!("{v:.*}", tile.decimals)),
            unit: shown.unit,
            scale: shown.scale,
            offset: shown.offset,
            at,
            show: if tile.show == Figure::Today {
                "today"
            } else {
                "latest"
            },
            decimals: tile.decimals,
        });
    }
    Ok(out)
}

async fn charts(
    store: &Store,
    dashboard: &Dashboard,
    view: &View,
    tz: Tz,
    range: Range,
    now: i64,
) -> Result<Vec<ChartView>, PortalError> {
    let person = view.person;
    let (from_ms, to_ms) = range.window(now, tz);
    let mut out = Vec::with_capacity(dashboard.charts.len());
    for c in dashboard.charts.iter().filter(|c| view.shows(c.metric)) {
        let bucket = range.bucket(c.metric);
        let shown = crate::units::shown(c.metric, &view.units);
        let mut points = store
            .series(person, c.metric, bucket, from_ms, to_ms)
            .await?;
        if shown.scale != 1.0 || shown.offset != 0.0 {
            for p in &mut points {
                // A sum of n values shifts by n offsets.
                p.sum = shown.amount(p.sum) + shown.offset * p.count as f64;
                p.min = shown.value(p.min);
                p.max = shown.value(p.max);
            }
        }
        let trend = Trend {
            title: &c.title,
            metric: c.metric,
            style: c.style,
            range,
            tz,
            from_ms,
            to_ms,
            bucket,
            points: &points,
            unit: shown.unit,
        };
        out.push(ChartView {
            title: c.title.clone(),
            metric: c.metric.as_str(),
            svg: chart::render(&trend),
        });
    }
    Ok(out)
}
