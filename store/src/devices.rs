//! Devices seen, claims, and the pending area for unclaimed devices' samples.
//!
//! Gateways and scans hear the neighbours' devices too, so nothing reaches a
//! person's data until the device is claimed. Until then its samples wait in
//! `pending_sample`, bounded in age and count; a claim moves them to the person.

use serde::Serialize;

use crate::ingest::{Row, insert_samples};
use crate::tx::{Tx, on_tx};
use crate::{Result, Store, StoreError, on_pool, rollup};

/// A device as `cohealth device list` and the portal show it.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct DeviceRow {
    /// Canonical device id.
    pub id: String,
    /// Name the device gave.
    pub name: Option<String>,
    /// Model a decoder recognised.
    pub model: Option<String>,
    /// Last reading, UTC ms.
    pub last_seen_ms: i64,
    /// Last battery level, %.
    pub battery: Option<f64>,
    /// Last signal strength, dBm.
    pub rssi: Option<i64>,
    /// The person it is claimed by.
    pub person_id: Option<i64>,
    /// Samples waiting in the pending area.
    pub pending: i64,
}

/// What a claim did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimOutcome {
    /// Pending samples moved into the person's data.
    pub moved: u64,
}

impl Store {
    /// Every device seen or claimed, most recently seen first.
    pub async fn list_devices(&self) -> Result<Vec<DeviceRow>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT d.id, d.name, d.model, d.last_seen_ms, d.battery, d.rssi, d.person_id,
                    (SELECT COUNT(*) FROM pending_sample ps WHERE ps.device_id = d.id) AS pending
             FROM device d ORDER BY d.last_seen_ms DESC, d.id",
        )
        .fetch_all(p).await?))
    }

    /// Claims `device` for `person`, creating it if never seen, and moves its pending
    /// samples into the person's data. Claiming a device someone else holds fails.
    pub async fn claim_device(
        &self,
        device: &str,
        person: i64,
        now_ms: i64,
    ) -> Result<ClaimOutcome> {
        let mut tx = self.begin_write().await?;
        let holder: Option<Option<i64>> = on_tx!(&mut tx, t =>
            sqlx::query_scalar("SELECT person_id FROM device WHERE id = $1")
                .bind(device).fetch_optional(&mut **t).await?);
        match holder {
            Some(Some(other)) if other != person => {
                return Err(StoreError::Conflict(format!("a claim on device {device}")));
            }
            Some(_) => {}
            None => {
                on_tx!(&mut tx, t => sqlx::query(
                    "INSERT INTO device (id, first_seen_ms, last_seen_ms) VALUES ($1, $2, $2)",
                ).bind(device).bind(now_ms).execute(&mut **t).await?.rows_affected());
            }
        }
        on_tx!(&mut tx, t => sqlx::query(
            "UPDATE device SET person_id = $1, claimed_ms = $2 WHERE id = $3",
        ).bind(person).bind(now_ms).bind(device).execute(&mut **t).await?.rows_affected());
        let moved = move_pending(&mut tx, device, person).await?;
        tx.commit().await?;
        Ok(ClaimOutcome { moved })
    }

    /// Releases a claim held by `person`; the person's samples stay theirs (and
    /// `claimed_ms` stays, marking a device that once held someone's data).
    pub async fn unclaim_device(&self, device: &str, person: i64) -> Result<()> {
        let done = on_pool!(self, p => sqlx::query(
            "UPDATE device SET person_id = NULL WHERE id = $1 AND person_id = $2",
        ).bind(device).bind(person).execute(p).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound(format!(
                "device {device} claimed by you"
            )));
        }
        Ok(())
    }

    /// Deletes pending samples received before `now_ms - ttl`; returns how many.
    pub async fn expire_pending(&self, now_ms: i64) -> Result<u64> {
        let cutoff = now_ms - self.limits.pending_ttl_ms;
        Ok(
            on_pool!(self, p => sqlx::query("DELETE FROM pending_sample WHERE received_ms < $1")
            .bind(cutoff).execute(p).await?.rows_affected()),
        )
    }

    /// Forgets devices never claimed, not heard since `cutoff_ms`, and with nothing
    /// waiting: neighbours' devices and phones' rotating random addresses would
    /// otherwise grow the device list forever. Returns how many went.
    pub async fn forget_unheard_devices(&self, cutoff_ms: i64) -> Result<u64> {
        Ok(on_pool!(self, p => sqlx::query(
            "DELETE FROM device WHERE person_id IS NULL AND claimed_ms IS NULL AND last_seen_ms < $1
             AND NOT EXISTS (SELECT 1 FROM pending_sample ps WHERE ps.device_id = device.id)",
        ).bind(cutoff_ms).execute(p).await?.rows_affected()))
    }

    /// Keeps the pending area within its bound, oldest first out.
    pub(crate) async fn evict_pending(&self, tx: &mut Tx) -> Result<u64> {
        let max = self.limits.pending_max;
        Ok(on_tx!(tx, t => {
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pending_sample")
                .fetch_one(&mut **t).await?;
            if count <= max {
                0
            } else {
                sqlx::query(
                    "DELETE FROM pending_sample WHERE (source_id, metric_id, ts_ms) IN (
                       SELECT source_id, metric_id, ts_ms FROM pending_sample
                       ORDER BY received_ms, ts_ms LIMIT $1)",
                )
                .bind(count - max)
                .execute(&mut **t).await?.rows_affected()
            }
        }))
    }
}

async fn move_pending(tx: &mut Tx, device: &str, person: i64) -> Result<u64> {
    let rows: Vec<(i64, i64, i64, f64, Option<i64>)> = on_tx!(&mut *tx, t => sqlx::query_as(
        "SELECT source_id, metric_id, ts_ms, value, offset_s FROM pending_sample
         WHERE device_id = $1 ORDER BY ts_ms",
    ).bind(device).fetch_all(&mut **t).await?);
    if rows.is_empty() {
        return Ok(0);
    }
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(source_id, metric_id, ts_ms, value, offset_s)| Row {
            source_id,
            metric_id,
            ts_ms,
            value,
            offset_s,
        })
        .collect();
    let moved = insert_samples(tx, person, &rows).await?;
    rollup::refresh_rows(tx, person, &rows).await?;
    on_tx!(&mut *tx, t => sqlx::query("DELETE FROM pending_sample WHERE device_id = $1")
        .bind(device).execute(&mut **t).await?.rows_affected());
    Ok(moved)
}
