//! Ingest tokens: bearer tokens bound to one device, for exporters that post over
//! HTTP (Health Auto Export's REST mode). The store keeps only their hashes.

use crate::{Result, Store, on_pool};

impl Store {
    /// Records a new token (by its hash) for `device`.
    pub async fn create_ingest_token(
        &self,
        token_hash: &str,
        device: &str,
        now_ms: i64,
    ) -> Result<()> {
        on_pool!(self, p => sqlx::query(
            "INSERT INTO ingest_token (token_hash, device_id, created_ms) VALUES ($1, $2, $3)",
        ).bind(token_hash).bind(device).bind(now_ms).execute(p).await?.rows_affected());
        Ok(())
    }

    /// The device a token hash belongs to, marking the token as used now.
    pub async fn use_ingest_token(&self, token_hash: &str, now_ms: i64) -> Result<Option<String>> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "UPDATE ingest_token SET last_used_ms = $1 WHERE token_hash = $2 RETURNING device_id",
        ).bind(now_ms).bind(token_hash).fetch_optional(p).await?))
    }

    /// Revokes every ingest token of `device`; returns how many.
    pub async fn revoke_ingest_tokens(&self, device: &str) -> Result<u64> {
        Ok(
            on_pool!(self, p => sqlx::query("DELETE FROM ingest_token WHERE device_id = $1")
            .bind(device).execute(p).await?.rows_affected()),
        )
    }
}
