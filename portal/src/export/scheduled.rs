//! The scheduled export for backups: one ZIP per person into a folder, written
//! atomically (temp file in the same folder, fsync, rename) with mode 0600, and
//! only the newest `keep` files per person kept.
//!
//! The daemon decides *when* (a cron schedule); this module is the job itself,
//! driven with an explicit "now" so tests need no clock and no sleeping.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use cohealth_store::Store;

use super::{ExportError, ExportOptions, write_zip};

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Files written, one per person.
    pub written: Vec<PathBuf>,
    /// Older files removed to respect `keep`.
    pub removed: u64,
    /// Persons whose export failed (logged; the others still ran).
    pub failed: u64,
}

/// The prefix of a person's backup files: `cohealth-person-<id>-`.
fn prefix(person: i64) -> String {
    format!("cohealth-person-{person}-")
}

/// The file for `person` at `now_ms`: `cohealth-person-<id>-YYYYMMDDTHHMMSSZ.zip`,
/// so names sort by time.
pub fn file_name(person: i64, now_ms: i64) -> String {
    let stamp = Utc
        .timestamp_millis_opt(now_ms)
        .single()
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|| now_ms.to_string());
    format!("{}{stamp}.zip", prefix(person))
}

/// Exports every person into `dir` as of `now_ms`, then keeps the newest `keep`
/// files per person (at least one: the one just written).
pub async fn run(
    store: &Store,
    dir: &Path,
    keep: usize,
    now_ms: i64,
) -> Result<RunReport, ExportError> {
    make_private_dir(dir)?;
    let mut report = RunReport::default();
    for person in store.person_ids().await? {
        match export_one(store, dir, person, now_ms).await {
            Ok(path) => {
                report.written.push(path);
                report.removed += prune(dir, person, keep.max(1))?;
            }
            Err(error) => {
                report.failed += 1;
                tracing::error!(person.id = person, %error, "scheduled export failed");
            }
        }
    }
    tracing::info!(
        files = report.written.len(),
        removed = report.removed,
        failed = report.failed,
        "scheduled export done"
    );
    Ok(report)
}

async fn export_one(
    store: &Store,
    dir: &Path,
    person: i64,
    now_ms: i64,
) -> Result<PathBuf, ExportError> {
    // NamedTempFile creates the file with mode 0600 on Unix.
    let temp = tempfile::Builder::new()
        .prefix(".cohealth-export-")
        .suffix(".part")
        .tempfile_in(dir)?;
    let options = ExportOptions {
        generated_ms: now_ms,
        ..ExportOptions::default()
    };
    let (temp, summary) = write_zip(store, person, &options, temp).await?;
    temp.as_file().sync_all()?;
    set_private(temp.path())?;
    let path = dir.join(file_name(person, now_ms));
    temp.persist(&path).map_err(|e| ExportError::Io(e.error))?;
    sync_dir(dir);
    tracing::info!(
        person.id = person,
        samples = summary.samples,
        observations = summary.observations,
        "scheduled export written"
    );
    Ok(path)
}

/// Removes the oldest of `person`'s files beyond `keep`; returns how many.
fn prune(dir: &Path, person: i64, keep: usize) -> Result<u64, ExportError> {
    let prefix = prefix(person);
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix) && n.ends_with(".zip"))
        .collect();
    names.sort();
    let excess = names.len().saturating_sub(keep);
    for name in &names[..excess] {
        fs::remove_file(dir.join(name))?;
    }
    Ok(excess as u64)
}

#[cfg(unix)]
fn set_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes the rename durable; a failure here only weakens crash safety.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
