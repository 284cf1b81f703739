//! "Take all your data with you": everything of one person as one ZIP file.
//!
//! This lives in the portal crate rather than a crate of its own because both of
//! its callers already depend on the portal: the `/account/export` page and the
//! daemon's scheduled backup (which calls [`scheduled::run`]). It needs only the
//! store, so it could move out unchanged if a third caller appears.
//!
//! The archive holds, per kind of data, one JSON Lines file and one CSV file
//! (raw samples, daily summaries, claimed devices, the profile), a FHIR R4
//! Bundle (`fhir/bundle.json`, see [`fhir`]) and a `README.txt` describing it all
//! (see [`readme`]).
//!
//! Memory stays flat whatever the size: rows are read a page at a time with
//! keyset cursors, written straight into the deflate stream of the open ZIP
//! entry, and the CSV twin of a file being written is deflated into an unnamed
//! temp file whose compressed bytes are copied into the archive afterwards. The archive itself is written to
//! a file the caller gives (a temp file for downloads and for the scheduled
//! backup), never to a buffer.
//!
//! The core, [`write_zip`], takes the *subject* person id, not a session: who may
//! export whose data is decided by the caller.

pub mod fhir;
pub mod readme;
pub mod scheduled;
mod tabular;

use std::io::{Seek, Write};

use chrono::{TimeZone, Utc};
use cohealth_store::{Store, StoreError};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// Rows read from the store per query.
pub(crate) const PAGE: i64 = 5_000;

/// How heart rate appears in the FHIR bundle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeartRateDetail {
    /// One Observation per minute with samples: the minute rollup's mean.
    #[default]
    PerMinute,
    /// One Observation per stored heart-rate sample.
    PerSample,
}

/// What to export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Heart rate in the FHIR bundle: per minute (default) or per sample.
    pub heart_rate: HeartRateDetail,
    /// Only data at or after this instant, UTC ms (days: starting at or after).
    pub from_ms: Option<i64>,
    /// Only data before this instant, UTC ms (days: starting before).
    pub to_ms: Option<i64>,
    /// When the export is made, UTC ms; stamped in the README, the bundle and
    /// the entries' modification times.
    pub generated_ms: i64,
}

impl ExportOptions {
    pub(crate) fn range(&self) -> (i64, i64) {
        (
            self.from_ms.unwrap_or(i64::MIN),
            self.to_ms.unwrap_or(i64::MAX),
        )
    }
}

/// What an export wrote, for logs and tests (counts only, never values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Raw samples written (once each to JSONL and CSV).
    pub samples: u64,
    /// Daily summary rows written.
    pub days: u64,
    /// Claimed devices written.
    pub devices: u64,
    /// FHIR Observations in the bundle.
    pub observations: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The person does not exist.
    #[error("no such person")]
    NoPerson,
    /// Reading the store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Writing the archive or a temp file failed.
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    /// The ZIP writer failed.
    #[error("zip: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// A row could not be serialised.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Writes everything of `person` as a ZIP archive into `out` and returns `out`
/// (positioned at its end) with what was written.
pub async fn write_zip<W: Write + Seek>(
    store: &Store,
    person: i64,
    options: &ExportOptions,
    out: W,
) -> Result<(W, ExportSummary), ExportError> {
    let profile = store
        .export_profile(person)
        .await?
        .ok_or(ExportError::NoPerson)?;
    let mut zip = ZipWriter::new(out);
    let entry = entry_options(options.generated_ms);
    let mut summary = ExportSummary::default();

    zip.start_file("README.txt", entry)?;
    zip.write_all(readme::text(&profile, options).as_bytes())?;

    tabular::profile(&mut zip, entry, &profile)?;
    summary.devices = tabular::devices(&mut zip, entry, store, person).await?;
    summary.samples = tabular::samples(&mut zip, entry, store, person, options).await?;
    summary.days = tabular::days(&mut zip, entry, store, person, options).await?;

    zip.start_file("fhir/bundle.json", entry)?;
    summary.observations = fhir::write_bundle(&mut zip, store, &profile, options).await?;

    let out = zip.finish()?;
    Ok((out, summary))
}

/// Deflate, ZIP64 allowed (a year of 1 Hz samples is several GB as text).
fn entry_options(generated_ms: i64) -> SimpleFileOptions {
    let mut options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .large_file(true)
        .unix_permissions(0o600);
    if let Some(at) = Utc.timestamp_millis_opt(generated_ms).single() {
        use chrono::{Datelike, Timelike};
        if let Ok(stamp) = zip::DateTime::from_date_and_time(
            u16::try_from(at.year()).unwrap_or(1980),
            at.month() as u8,
            at.day() as u8,
            at.hour() as u8,
            at.minute() as u8,
            at.second() as u8,
        ) {
            options = options.last_modified_time(stamp);
        }
    }
    options
}

/// The file name a download gets: `cohealth-export-YYYY-MM-DD.zip` (UTC date).
pub fn file_name(generated_ms: i64) -> String {
    let day = Utc
        .timestamp_millis_opt(generated_ms)
        .single()
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "undated".to_owned());
    format!("cohealth-export-{day}.zip")
}

/// An instant as RFC 3339 UTC with milliseconds: `2026-11-04T13:30:00.000Z`.
pub(crate) fn utc(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}
