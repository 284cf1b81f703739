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
        if let Err(error) =
            cohealth_portal::export::scheduled::run(&store, &dir, section.keep, now_ms).await
        {
            warn!(%error, dir = %dir.display(), "scheduled export failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
