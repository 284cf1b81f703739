//! "Take all your data with you": the `/account/export` page and the download.
//!
//! The page only offers the signed-in person's own data. The work is done by
//! [`download`], which takes the *subject* person id, so that exporting a
//! managed person's (a child's) data can later be routed through the household's
//! authorization check without touching the export itself.

use axum::Form;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Days, NaiveDate};
use cohealth_store::AuditEntry;
use serde::Deserialize;
use tokio_util::io::ReaderStream;

use crate::auth::session::Session;
use crate::export::{self, ExportError, ExportOptions, ExportSummary, HeartRateDetail};
use crate::{Portal, PortalError};

/// The export form.
#[derive(Debug, Deserialize)]
pub(crate) struct ExportForm {
    #[serde(default)]
    csrf: String,
    /// `minute` (default) or `sample`.
    #[serde(default)]
    heart_rate: String,
    /// First local day to include, `YYYY-MM-DD`; empty: from the beginning.
    #[serde(default)]
    from: String,
    /// Last local day to include, `YYYY-MM-DD`; empty: up to now.
    #[serde(default)]
    to: String,
}

/// `GET /account/export`.
pub(crate) async fn page(session: Session) -> Result<Response, PortalError> {
    let context = minijinja::context! {
        title => "Export your data",
        zone => &session.user.time_zone,
        ..super::chrome(&session, "account")
    };
    super::html("export.html", context)
}

/// `POST /account/export`: the signed-in person's own data as a ZIP download.
pub(crate) async fn submit(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<ExportForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let tz = super::zone(&session.user.time_zone);
    let from_ms = local_day(&form.from, tz, 0)?;
    let to_ms = local_day(&form.to, tz, 1)?;
    if let (Some(f), Some(t)) = (from_ms, to_ms)
        && f >= t
    {
        return Err(PortalError::BadRequest(
            "the first day must not be after the last day".into(),
        ));
    }
    let options = ExportOptions {
        heart_rate: match form.heart_rate.as_str() {
            "sample" => HeartRateDetail::PerSample,
            "minute" | "" => HeartRateDetail::PerMinute,
            _ => return Err(PortalError::BadRequest("unknown heart-rate detail".into())),
        },
        from_ms,
        to_ms,
        generated_ms: portal.clock.now_ms(),
    };
    download(&portal, &session, session.user.person_id, &options).await
}

/// Builds the ZIP of `subject` (a person id) into a temp file and answers it as
/// an attachment. The caller has decided that `actor` may export `subject`.
pub(crate) async fn download(
    portal: &Portal,
    actor: &Session,
    subject: i64,
    options: &ExportOptions,
) -> Result<Response, PortalError> {
    // An export holds every category: the caller must be allowed to export
    // each (their own data, or a child's as the child's guardian).
    for category in cohealth_store::Category::ALL {
        crate::auth::access::authorize(
            portal,
            &actor.user,
            subject,
            category,
            crate::auth::access::Access::Export,
            "export",
        )
        .await?;
    }
    // Deflate and file writes are blocking work: the whole export runs on a
    // blocking thread, driving the store's queries from there.
    let store = portal.app.store.clone();
    let options_owned = *options;
    let runtime = tokio::runtime::Handle::current();
    let (mut file, summary) = tokio::task::spawn_blocking(move || {
        let file = tempfile::tempfile()?;
        runtime.block_on(export::write_zip(&store, subject, &options_owned, file))
    })
    .await
    .map_err(internal)?
    .map_err(|e| match e {
        ExportError::NoPerson => PortalError::NotFound,
        ExportError::Store(e) => PortalError::Store(e),
        other => internal(other),
    })?;
    record_export_audit(portal, actor, subject, options, &summary).await?;
    use std::io::Seek;
    let length = file.stream_position().map_err(internal)?;
    file.rewind().map_err(internal)?;
    let body = Body::from_stream(ReaderStream::new(tokio::fs::File::from_std(file)));
    let disposition = format!(
        "attachment; filename=\"{}\"",
        export::file_name(options.generated_ms)
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (header::CONTENT_LENGTH, length.to_string()),
        ],
        body,
    )
        .into_response())
}

/// The audit entry for an export (action `export`): who exported whose data,
/// with the options but no values. Also an info line with ids and counts.
pub(crate) async fn record_export_audit(
    portal: &Portal,
    actor: &Session,
    subject: i64,
    options: &ExportOptions,
    summary: &ExportSummary,
) -> Result<(), PortalError> {
    tracing::info!(
        user.id = actor.user.id,
        actor.person = actor.user.person_id,
        subject.person = subject,
        samples = summary.samples,
        days = summary.days,
        observations = summary.observations,
        "data export"
    );
    let detail = format!(
        "zip; heart rate {}; from {}; to {}",
        match options.heart_rate {
            HeartRateDetail::PerMinute => "per minute",
            HeartRateDetail::PerSample => "per sample",
        },
        options
            .from_ms
            .map_or_else(|| "start".to_owned(), export_utc),
        options.to_ms.map_or_else(|| "now".to_owned(), export_utc),
    );
    portal
        .app
        .store
        .audit(&AuditEntry {
            ts_ms: portal.clock.now_ms(),
            actor_user: Some(actor.user.id),
            actor_person: Some(actor.user.person_id),
            actor_name: &actor.user.display_name,
            subject_person: subject,
            action: "export",
            category: None,
            detail: Some(&detail),
        })
        .await?;
    Ok(())
}

fn export_utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_default()
}

/// Start of the local day `text` (+`plus` days), UTC ms; `None` when empty.
fn local_day(text: &str, tz: chrono_tz::Tz, plus: u64) -> Result<Option<i64>, PortalError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_days(Days::new(plus)))
        .ok_or_else(|| PortalError::BadRequest("dates are YYYY-MM-DD".into()))?;
    Ok(Some(cohealth_store::day_start(tz, day)))
}

fn internal(e: impl std::fmt::Display) -> PortalError {
    PortalError::Internal(format!("export: {e}"))
}
