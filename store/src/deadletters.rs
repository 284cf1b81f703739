//! Messages that could not be decoded, kept (bounded) so a user can see why.

use serde::Serialize;

use cohealth_ingest::mqtt::DeadLetter;

use crate::tx::{Tx, on_tx};
use crate::{Result, Store, on_pool};

/// A stored dead letter.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct DeadLetterRow {
    /// Row id.
    pub id: i64,
    /// Arrival, UTC ms.
    pub received_ms: i64,
    /// Topic it came on.
    pub topic: String,
    /// Why it was refused.
    pub error: String,
    /// Payload length kept, bytes.
    pub payload_len: i64,
}

impl Store {
    /// The newest dead letters first.
    pub async fn list_dead_letters(&self, limit: i64) -> Result<Vec<DeadLetterRow>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT id, received_ms, topic, error, CAST(LENGTH(payload) AS BIGINT) AS payload_len
             FROM dead_letter ORDER BY id DESC LIMIT $1",
        ).bind(limit).fetch_all(p).await?))
    }

    pub(crate) async fn insert_dead_letters(
        &self,
        tx: &mut Tx,
        dead: &[DeadLetter],
    ) -> Result<u64> {
        for d in dead {
            on_tx!(&mut *tx, t => sqlx::query(
                "INSERT INTO dead_letter (received_ms, topic, error, payload) VALUES ($1, $2, $3, $4)",
            )
            .bind(d.received_ms).bind(&d.topic).bind(&d.error).bind(&d.payload)
            .execute(&mut **t).await?.rows_affected());
        }
        if !dead.is_empty() {
            on_tx!(&mut *tx, t => sqlx::query(
                "DELETE FROM dead_letter WHERE id <= (SELECT MAX(id) FROM dead_letter) - $1",
            ).bind(self.limits.dead_letters_max).execute(&mut **t).await?.rows_affected());
        }
        Ok(dead.len() as u64)
    }
}
