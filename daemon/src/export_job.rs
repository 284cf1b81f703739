//! The scheduled export for backups (`[export]`): on a cron schedule, one ZIP
//! per person into a folder, the newest `keep` kept. The job itself lives in
//! `cohealth_portal::export::scheduled`; this module owns the setting, checks
//! the schedule at start and sleeps until each run.

use std::path::PathBuf;
use std::str::FromStr;

use chrono::Local;
use cohealth_store::Store;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// `[export]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportSection {
    /// Folder for the backups; unset: no scheduled export.
    pub dir: Option<PathBuf>,
    /// When to run, as the `cron` crate reads it: six or seven fields
    /// (seconds first), in the server's local time.
    pub schedule: String,
    /// Files kept per person; older ones are removed.
    pub keep: usize,
}

impl Default for ExportSection {
    fn default() -> Self {
        ExportSection {
            dir: None,
            schedule: "0 0 3 * * *".into(),
            keep: 7,
        }
    }
}

impl ExportSection {
    /// Checks the schedule and `keep`, naming the key at fault.
    pub fn validate(&self) -> anyhow::Result<()> {
        parse_schedule(&self.schedule)?;
        anyhow::ensure!(
            self.keep >= 1,
            "configuration key `export.keep`: keep at least 1 file per person"
        );
        Ok(())
    }
}

/// Parses a cron expression (`sec min hour day-of-month month day-of-week [year]`).
pub fn parse_schedule(text: &str) -> anyhow::Result<cron::Schedule> {
    cron::Schedule::from_str(text).map_err(|e| {
        anyhow::anyhow!(
            "configuration key `export.schedule`: `{text}` is not a cron expression \
             (six or seven fields, seconds first, e.g. \"0 0 3 * * *\"): {e}"
        )
    })
}

/// Runs the export whenever the schedule says, until `stop`. Does nothing when
/// `dir` is unset.
pub async fn run(store: Store, section: ExportSection, stop: CancellationToken) {
    let Some(dir) = section.dir.clone() else {
        return;
    };
    let schedule = match parse_schedule(&section.schedule) {
        Ok(s) => s,
        Err(error) => {
            // Settings were validated at start; this is a second line only.
            warn!(%error, "scheduled export disabled");
            return;
        }
    };
    info!(dir = %dir.display(), schedule = %section.schedule, keep = section.keep, "scheduled export on");
    loop {
        let Some(next) = schedule.upcoming(Local).next() else {
            info!("the export schedule has no further runs");
            return;
        };
        let wait = (next - Local::now()).to_std().unwrap_or_default();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        // Deflate and file writes block: run the job on a blocking thread.
        let (job_store, job_dir, keep) = (store.clone(), dir.clone(), section.keep);
        let runtime = tokio::runtime::Handle::current();
        let job = tokio::task::spawn_blocking(move || {
            runtime.block_on(cohealth_portal::export::scheduled::run(
                &job_store, &job_dir, keep, now_ms,
            ))
        });
        match job.await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => warn!(%error, dir = %dir.display(), "scheduled export failed"),
            Err(error) => warn!(%error, "scheduled export task failed"),
        }
    }
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail API returns its own error type"
)]
mod tests {
    use super::*;
    use crate::settings::{Overrides, Settings};
    use std::path::Path;

    #[test]
    fn the_export_section_loads_and_a_bad_schedule_stops_the_start() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[export]\ndir = \"/tmp/backups\"\nschedule = \"0 30 2 * * *\"\nkeep = 3\n",
            )?;
            let s = Settings::load(Some(Path::new("c.toml")), &Overrides::default()).unwrap();
            assert_eq!(s.export.dir.as_deref(), Some(Path::new("/tmp/backups")));
            assert_eq!(
                (s.export.schedule.as_str(), s.export.keep),
                ("0 30 2 * * *", 3)
            );
            jail.set_env("COHEALTH_EXPORT__SCHEDULE", "0 3 * * *");
            let err = Settings::load(Some(Path::new("c.toml")), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("export.schedule"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn schedules_are_checked() {
        assert!(ExportSection::default().validate().is_ok());
        let bad = ExportSection {
            schedule: "every night".into(),
            ..ExportSection::default()
        };
        let message = bad.validate().unwrap_err().to_string();
        assert!(message.contains("export.schedule"), "{message}");
        // Five-field (minute-first) crontab lines are not what the cron crate reads.
        assert!(parse_schedule("0 3 * * *").is_err());
        assert!(parse_schedule("0 30 2 * * Sun 2030").is_ok());
        let none = ExportSection {
            keep: 0,
            ..ExportSection::default()
        };
        assert!(none.validate().is_err());
    }
}
