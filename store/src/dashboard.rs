//! Small reads the portal's pages need beyond samples and series: the newest
//! value of a metric, and the portal's own secrets (the JWT signing key), kept in
//! the database so that every portal process of one install agrees on them.

use cohealth_ingest::Metric;

use crate::metrics::metric_id;
use crate::{Result, SampleRow, Store, on_pool};

impl Store {
    /// A person's newest sample of `metric` at or before `at_ms`, if any.
    pub async fn latest_sample(
        &self,
        person: i64,
        metric: Metric,
        at_ms: i64,
    ) -> Result<Option<SampleRow>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT s.ts_ms, s.value, s.offset_s, src.kind AS source, src.device_id AS device
             FROM sample s JOIN source src ON src.id = s.source_id
             WHERE s.person_id = $1 AND s.metric_id = $2 AND s.ts_ms <= $3
             ORDER BY s.ts_ms DESC LIMIT 1",
        )
        .bind(person).bind(metric_id(metric)).bind(at_ms)
        .fetch_optional(p).await?))
    }

    /// The secret stored under `name`, storing `fresh` first if there is none yet.
    ///
    /// Two processes racing on a fresh install both end up with the winner's value.
    pub async fn portal_secret(&self, name: &str, fresh: &str, now_ms: i64) -> Result<String> {
        Ok(on_pool!(self, p => {
            sqlx::query(
                "INSERT INTO portal_secret (name, value, created_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name).bind(fresh).bind(now_ms)
            .execute(p).await?;
            sqlx::query_scalar("SELECT value FROM portal_secret WHERE name = $1")
                .bind(name).fetch_one(p).await?
        }))
    }
}
