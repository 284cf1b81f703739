//! Deleting a person's data: one metric over a span, one device's data, or the
//! whole account after a grace period.
//!
//! Each operation is one transaction, and every function takes the subject person
//! explicitly so a caller can route it through authorization (an adult deleting a
//! managed child's data); the store itself does not decide who may delete what.
//!
//! Rollups are rebuilt from the raw samples that remain with the same code the
//! ingest path uses (`rollup::refresh_rows` and `rollup::refresh_span`), so a day
//! total drops by exactly the deleted samples. A range deletion clears every
//! minute rollup in the range, including those whose raw samples retention had
//! already dropped; a device deletion can only reach the spans whose raw samples
//! remain, since rollups do not record their device.
//!
//! # Devices: forgotten, or released when shared
//! A device whose data is deleted is *forgotten*: its row, its sources, their
//! counter state, its pending samples and its ingest tokens go, so nothing links
//! the hardware to the person any more; if it transmits again it shows up as a new
//! unclaimed device whose readings wait in the pending area. When another
//! person still has samples from the device (it changed hands), its sources must
//! stay, because rollups are rebuilt by joining samples to their source; then the
//! device is only *released* (no owner), and its tokens, pending samples and
//! counter state still go.
//!
//! # Counter state on range deletion
//! `counter_state` holds the device's running total, the baseline the next total
//! is measured against. A range deletion keeps it: dropping it would make the next
//! total count in full and invent an increment, and it also keeps a replayed old
//! total from bringing deleted steps back.

use cohealth_ingest::Metric;
use serde::Serialize;

use crate::ingest::Row;
use crate::metrics::metric_id;
use crate::tx::{Tx, on_tx};
use crate::{Result, Store, StoreError, on_pool, rollup};

/// How long a requested account deletion waits before it is carried out, ms.
pub const DELETION_GRACE_MS: i64 = 7 * 24 * 3_600_000;

const MINUTE: i64 = 60_000;

/// What `actor_name` says in audit entries whose actor's account is gone.
pub const DELETED_ACTOR_NAME: &str = "a deleted account";

/// An account deletion waiting out its grace period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DeletionRequest {
    /// Whose account goes.
    pub person_id: i64,
    /// When it was asked for, UTC ms.
    pub requested_ms: i64,
    /// When it will be carried out, UTC ms.
    pub due_ms: i64,
    /// The account that asked: the person's own, or the admin who removed them.
    pub requested_by: Option<i64>,
}

/// What deleting one device's data did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceDeletion {
    /// The person's samples removed.
    pub samples: u64,
    /// The device was forgotten (true) or only released because others still
    /// have samples from it (false); `None` when the person did not hold it.
    pub forgotten: Option<bool>,
}

impl Store {
    /// Deletes `person`'s samples of `metric` in `[from_ms, to_ms)` and rebuilds the
    /// minute, hour and day rollups they fed; returns how many samples went.
    pub async fn delete_metric_range(
        &self,
        person: i64,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<u64> {
        if to_ms <= from_ms {
            return Err(StoreError::Invalid("date range".into()));
        }
        let metric = metric_id(metric);
        let mut tx = self.begin_write().await?;
        let gone: Vec<(i64, i64, i64)> = on_tx!(&mut tx, t => sqlx::query_as(
            "DELETE FROM sample WHERE person_id = $1 AND metric_id = $2
             AND ts_ms >= $3 AND ts_ms < $4
             RETURNING metric_id, ts_ms, source_id",
        )
        .bind(person).bind(metric).bind(from_ms).bind(to_ms)
        .fetch_all(&mut **t).await?);
        // Rollups whose raw samples retention already dropped must go too, so the
        // span rebuilt is every minute rollup in the range, not only the deleted
        // samples' minutes.
        let first_minute = from_ms.div_euclid(MINUTE) * MINUTE;
        let (lo, hi): (Option<i64>, Option<i64>) = on_tx!(&mut tx, t => sqlx::query_as(
            "SELECT MIN(bucket_ms), MAX(bucket_ms) FROM rollup_minute
             WHERE person_id = $1 AND metric_id = $2 AND bucket_ms >= $3 AND bucket_ms < $4",
        )
        .bind(person).bind(metric).bind(first_minute).bind(to_ms)
        .fetch_one(&mut **t).await?);
        if let (Some(lo), Some(hi)) = (lo, hi) {
            let tz = rollup::person_zone(&mut tx, person).await?;
            rollup::refresh_span(&mut tx, person, metric, lo, hi, tz).await?;
        }
        tx.commit().await?;
        Ok(gone.len() as u64)
    }

    /// Deletes every sample of `person` whose source is `device`, rebuilds the
    /// rollups they fed, and forgets or releases the device if the person holds
    /// it (see the module docs). Fails with `NotFound` when the person neither
    /// holds the device nor has data from it.
    pub async fn delete_device_data(&self, person: i64, device: &str) -> Result<DeviceDeletion> {
        let mut tx = self.begin_write().await?;
        let gone: Vec<(i64, i64, i64)> = on_tx!(&mut tx, t => sqlx::query_as(
            "DELETE FROM sample WHERE person_id = $1
             AND source_id IN (SELECT id FROM source WHERE device_id = $2)
             RETURNING metric_id, ts_ms, source_id",
        )
        .bind(person).bind(device)
        .fetch_all(&mut **t).await?);
        let rows = as_rows(&gone);
        rollup::refresh_rows(&mut tx, person, &rows).await?;
        let holder: Option<Option<i64>> = on_tx!(&mut tx, t =>
            sqlx::query_scalar("SELECT person_id FROM device WHERE id = $1")
                .bind(device).fetch_optional(&mut **t).await?);
        let forgotten = if holder.flatten() == Some(person) {
            Some(drop_device(&mut tx, device).await?)
        } else {
            None
        };
        if rows.is_empty() && forgotten.is_none() {
            return Err(StoreError::NotFound(format!("data from device {device}")));
        }
        tx.commit().await?;
        self.forget_cached_sources(device);
        Ok(DeviceDeletion {
            samples: rows.len() as u64,
            forgotten,
        })
    }

    /// Schedules `person`'s account for deletion [`DELETION_GRACE_MS`] from now.
    /// Asking again while one is pending keeps the first date.
    pub async fn request_deletion(
        &self,
        person: i64,
        requested_by: Option<i64>,
        now_ms: i64,
    ) -> Result<DeletionRequest> {
        let due = now_ms + DELETION_GRACE_MS;
        on_pool!(self, p => sqlx::query(
            "INSERT INTO deletion_request (person_id, requested_ms, due_ms, requested_by)
             VALUES ($1, $2, $3, $4) ON CONFLICT (person_id) DO NOTHING",
        )
        .bind(person).bind(now_ms).bind(due).bind(requested_by)
        .execute(p).await?.rows_affected());
        self.deletion_request(person)
            .await?
            .ok_or_else(|| StoreError::NotFound("deletion request".into()))
    }

    /// The pending deletion of `person`'s account, if any.
    pub async fn deletion_request(&self, person: i64) -> Result<Option<DeletionRequest>> {
        let row: Option<(i64, i64, i64, Option<i64>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT person_id, requested_ms, due_ms, requested_by FROM deletion_request
             WHERE person_id = $1",
        ).bind(person).fetch_optional(p).await?);
        Ok(row.map(
            |(person_id, requested_ms, due_ms, requested_by)| DeletionRequest {
                person_id,
                requested_ms,
                due_ms,
                requested_by,
            },
        ))
    }

    /// Cancels a pending deletion; returns whether one was pending.
    pub async fn cancel_deletion(&self, person: i64) -> Result<bool> {
        let done = on_pool!(self, p => sqlx::query(
            "DELETE FROM deletion_request WHERE person_id = $1",
        ).bind(person).execute(p).await?.rows_affected());
        Ok(done > 0)
    }

    /// Carries out every deletion due at `now_ms`, one transaction per person;
    /// returns how many persons were removed.
    pub async fn purge_due_deletions(&self, now_ms: i64) -> Result<u64> {
        let due: Vec<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT person_id FROM deletion_request WHERE due_ms <= $1 ORDER BY person_id",
        ).bind(now_ms).fetch_all(p).await?);
        let mut purged = 0;
        for person in due {
            let devices = self.purge_person(person).await?;
            for device in devices {
                self.forget_cached_sources(&device);
            }
            purged += 1;
        }
        Ok(purged)
    }

    /// Removes everything about one person; returns the devices they held.
    async fn purge_person(&self, person: i64) -> Result<Vec<String>> {
        let mut tx = self.begin_write().await?;
        let user: Option<(i64, String)> = on_tx!(&mut tx, t => sqlx::query_as(
            "SELECT id, email FROM app_user WHERE person_id = $1",
        ).bind(person).fetch_optional(&mut **t).await?);
        let devices: Vec<String> = on_tx!(&mut tx, t => {
            for sql in [
                "DELETE FROM sample WHERE person_id = $1",
                "DELETE FROM rollup_minute WHERE person_id = $1",
                "DELETE FROM rollup_hour WHERE person_id = $1",
                "DELETE FROM rollup_day WHERE person_id = $1",
                "DELETE FROM source_priority WHERE person_id = $1",
                "DELETE FROM data_grant WHERE owner_person = $1 OR grantee_person = $1",
                "DELETE FROM audit_log WHERE subject_person = $1",
                "DELETE FROM deletion_request WHERE person_id = $1",
                "UPDATE person SET managed_by = NULL WHERE managed_by = $1",
            ] {
                sqlx::query(sql).bind(person).execute(&mut **t).await?;
            }
            // Ids can come back on SQLite, so no stale actor id may stay behind.
            sqlx::query(
                "UPDATE audit_log SET actor_person = NULL, actor_user = NULL, actor_name = $2
                 WHERE actor_person = $1",
            ).bind(person).bind(DELETED_ACTOR_NAME).execute(&mut **t).await?;
            sqlx::query_scalar("SELECT id FROM device WHERE person_id = $1 ORDER BY id")
                .bind(person).fetch_all(&mut **t).await?
        });
        for device in &devices {
            drop_device(&mut tx, device).await?;
        }
        if let Some((user, email)) = &user {
            on_tx!(&mut tx, t => {
                sqlx::query(
                    "UPDATE audit_log SET actor_person = NULL, actor_user = NULL, actor_name = $2
                     WHERE actor_user = $1",
                ).bind(user).bind(DELETED_ACTOR_NAME).execute(&mut **t).await?;
                for sql in [
                    "UPDATE data_grant SET created_by = NULL WHERE created_by = $1",
                    "UPDATE deletion_request SET requested_by = NULL WHERE requested_by = $1",
                    "DELETE FROM web_session WHERE user_id = $1",
                    "DELETE FROM personal_token WHERE user_id = $1",
                    "DELETE FROM recovery_code WHERE user_id = $1",
                ] {
                    sqlx::query(sql).bind(user).execute(&mut **t).await?;
                }
                // The invitations they made, the one they came in with, and any
                // addressed to them: each holds their id or their address.
                sqlx::query(
                    "DELETE FROM invitation WHERE created_by = $1 OR used_by = $1
                     OR LOWER(email) = LOWER($2)",
                ).bind(user).bind(email).execute(&mut **t).await?;
                sqlx::query("DELETE FROM email_token WHERE user_id = $1 OR LOWER(email) = LOWER($2)")
                    .bind(user).bind(email).execute(&mut **t).await?;
                sqlx::query("DELETE FROM app_user WHERE id = $1")
                    .bind(user).execute(&mut **t).await?;
            });
        }
        on_tx!(&mut tx, t => sqlx::query("DELETE FROM person WHERE id = $1")
            .bind(person).execute(&mut **t).await?.rows_affected());
        tx.commit().await?;
        Ok(devices)
    }

    /// Drops cached source ids of a device whose sources may be gone.
    fn forget_cached_sources(&self, device: &str) {
        if let Ok(mut cache) = self.sources.lock() {
            cache.retain(|key, _| key.0 != device);
        }
    }
}

/// Forgets a device, or releases it when another person still has samples from
/// it; either way its tokens, pending samples and counter state go. Returns
/// whether it was forgotten.
async fn drop_device(tx: &mut Tx, device: &str) -> Result<bool> {
    on_tx!(&mut *tx, t => {
        for sql in [
            "DELETE FROM ingest_token WHERE device_id = $1",
            "DELETE FROM pending_sample WHERE device_id = $1",
            "DELETE FROM counter_state
             WHERE source_id IN (SELECT id FROM source WHERE device_id = $1)",
        ] {
            sqlx::query(sql).bind(device).execute(&mut **t).await?;
        }
        let shared: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sample
             WHERE source_id IN (SELECT id FROM source WHERE device_id = $1)",
        ).bind(device).fetch_one(&mut **t).await?;
        if shared == 0 {
            sqlx::query("DELETE FROM source WHERE device_id = $1")
                .bind(device).execute(&mut **t).await?;
            sqlx::query("DELETE FROM device WHERE id = $1")
                .bind(device).execute(&mut **t).await?;
        } else {
            sqlx::query("UPDATE device SET person_id = NULL, claimed_ms = NULL WHERE id = $1")
                .bind(device).execute(&mut **t).await?;
        }
        Ok(shared == 0)
    })
}

/// Deleted `(metric, instant, source)` triples as rows the rollup refresh takes.
fn as_rows(gone: &[(i64, i64, i64)]) -> Vec<Row> {
    gone.iter()
        .map(|&(metric_id, ts_ms, source_id)| Row {
            source_id,
            metric_id,
            ts_ms,
            value: 0.0,
            offset_s: None,
        })
        .collect()
}
