//! Raw-sample retention: a household may keep raw samples only for so many days.
//!
//! Only raw samples go; minute, hour and day rollups stay, so dashboards and
//! yearly trends still show the past. A later ingest into a span whose raw
//! samples are gone rebuilds that span's rollups from what is left, which is the
//! price of keeping less.

use crate::{Result, Store, StoreError, on_pool};

const DAY_MS: i64 = 86_400_000;

/// The longest retention accepted, in days (a century).
pub const RETENTION_MAX_DAYS: i64 = 36_500;

impl Store {
    /// How many days of raw samples the household keeps; `None` keeps all.
    pub async fn retention_days(&self, household: i64) -> Result<Option<i64>> {
        let days: Option<Option<i64>> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT retention_days FROM household WHERE id = $1",
        ).bind(household).fetch_optional(p).await?);
        days.ok_or_else(|| StoreError::NotFound("household".into()))
    }

    /// Sets the household's raw-sample retention (1 to [`RETENTION_MAX_DAYS`]
    /// days, or `None` to keep everything).
    pub async fn set_retention_days(&self, household: i64, days: Option<i64>) -> Result<()> {
        if days.is_some_and(|d| !(1..=RETENTION_MAX_DAYS).contains(&d)) {
            return Err(StoreError::Invalid("retention days".into()));
        }
        let done = on_pool!(self, p => sqlx::query(
            "UPDATE household SET retention_days = $1 WHERE id = $2",
        ).bind(days).bind(household).execute(p).await?.rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound("household".into()));
        }
        Ok(())
    }

    /// Deletes raw samples older than each household's retention at `now_ms`;
    /// returns how many went. Rollups are kept.
    pub async fn apply_retention(&self, now_ms: i64) -> Result<u64> {
        let households: Vec<(i64, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, retention_days FROM household WHERE retention_days IS NOT NULL ORDER BY id",
        ).fetch_all(p).await?);
        let mut deleted = 0;
        for (household, days) in households {
            let cutoff = now_ms.saturating_sub(days.saturating_mul(DAY_MS));
            deleted += on_pool!(self, p => sqlx::query(
                "DELETE FROM sample WHERE ts_ms < $1
                 AND person_id IN (SELECT id FROM person WHERE household_id = $2)",
            ).bind(cutoff).bind(household).execute(p).await?.rows_affected());
        }
        Ok(deleted)
    }
}
