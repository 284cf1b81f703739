//! Readings from every device task, committed in short batches.
//!
//! A heart-rate strap notifies about once a second; committing each reading
//! alone would fsync once per beat per strap. A short linger collects what the
//! devices said meanwhile into one transaction. A failed commit is retried a
//! few times, because a radio cannot be asked to send a notification again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tracing::{debug, error, warn};

use crate::model::Reading;
use crate::mqtt::{Batch, Sink};

/// Most readings in one commit.
const BATCH_MAX: usize = 500;

/// Commit attempts before a batch is given up.
const ATTEMPTS: u32 = 5;

/// Commits what arrives on `rx` until every sender is gone, then flushes.
pub(super) async fn run_batcher<S: Sink>(
    sink: Arc<S>,
    mut rx: mpsc::Receiver<Reading>,
    linger: Duration,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = Batch::default();
        batch.readings.push(first);
        let deadline = tokio::time::sleep(linger);
        tokio::pin!(deadline);
        while batch.readings.len() < BATCH_MAX {
            tokio::select! {
                _ = &mut deadline => break,
                next = rx.recv() => match next {
                    Some(r) => batch.readings.push(r),
                    None => break,
                },
            }
        }
        commit(&*sink, &batch).await;
    }
}

async fn commit<S: Sink>(sink: &S, batch: &Batch) {
    for attempt in 1..=ATTEMPTS {
        match sink.commit(batch).await {
            Ok(()) => {
                debug!(readings = batch.readings.len(), "BLE batch committed");
                return;
            }
            Err(e) if attempt < ATTEMPTS => {
                warn!(error = %e, attempt, "BLE batch commit failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            Err(e) => {
                error!(error = %e, readings = batch.readings.len(), "BLE batch lost: the store refused it");
            }
        }
    }
}
