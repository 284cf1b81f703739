//! Personal access tokens: long-lived, scoped bearer tokens that a person makes
//! for an integration (a phone exporter, a script, Home Assistant).
//!
//! Only a SHA-256 of each token is stored, so a copy of the database cannot be
//! used to call the API. Revocation keeps the row (with `revoked_ms`) so the
//! owner can still see what existed and when it was last used.

use serde::Serialize;

use crate::people::UserRow;
use crate::{Result, Store, on_pool};

/// How often a token's last-used time is written: a script polling every
/// second should not turn every read into a write.
const LAST_USED_EVERY_MS: i64 = 60_000;

/// A personal access token, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonalTokenRow {
    /// Row id (what the revoke form names).
    pub id: i64,
    /// The owner.
    pub user_id: i64,
    /// The owner's label ("Phone", "Home Assistant").
    pub name: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// When it was made.
    pub created_ms: i64,
    /// When it stops working, if ever.
    pub expires_ms: Option<i64>,
    /// When it was last used (to within a minute).
    pub last_used_ms: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<i64>,
}

impl PersonalTokenRow {
    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.split_whitespace().any(|s| s == scope)
    }
}

type TokenTuple = (
    i64,
    i64,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

fn to_row(t: TokenTuple) -> PersonalTokenRow {
    PersonalTokenRow {
        id: t.0,
        user_id: t.1,
        name: t.2,
        scopes: t.3,
        created_ms: t.4,
        expires_ms: t.5,
        last_used_ms: t.6,
        revoked_ms: t.7,
    }
}

macro_rules! token_select {
    ($rest:literal) => {
        concat!(
            "SELECT id, user_id, name, scopes, created_ms, expires_ms, last_used_ms, revoked_ms
             FROM personal_token ",
            $rest
        )
    };
}

impl Store {
    /// Stores a new token under its hash; returns its id.
    pub async fn create_personal_token(
        &self,
        user: i64,
        name: &str,
        token_hash: &str,
        scopes: &str,
        now_ms: i64,
        expires_ms: Option<i64>,
    ) -> Result<i64> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "INSERT INTO personal_token (user_id, name, token_hash, scopes, created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        ).bind(user).bind(name).bind(token_hash).bind(scopes).bind(now_ms).bind(expires_ms)
        .fetch_one(p).await?))
    }

    /// An account's tokens, newest first (revoked ones included).
    pub async fn personal_tokens(&self, user: i64) -> Result<Vec<PersonalTokenRow>> {
        let sql = token_select!("WHERE user_id = $1 ORDER BY created_ms DESC, id DESC");
        let rows: Vec<TokenTuple> =
            on_pool!(self, p => sqlx::query_as(sql).bind(user).fetch_all(p).await?);
        Ok(rows.into_iter().map(to_row).collect())
    }

    /// Revokes one of the account's tokens; false when it has no such live token.
    pub async fn revoke_personal_token(&self, user: i64, id: i64, now_ms: i64) -> Result<bool> {
        let n = on_pool!(self, p => sqlx::query(
            "UPDATE personal_token SET revoked_ms = $1
             WHERE id = $2 AND user_id = $3 AND revoked_ms IS NULL",
        ).bind(now_ms).bind(id).bind(user).execute(p).await?.rows_affected());
        Ok(n > 0)
    }

    /// Revokes every token of an account (password reset, account removal).
    pub async fn revoke_personal_tokens_of(&self, user: i64, now_ms: i64) -> Result<u64> {
        Ok(on_pool!(self, p => sqlx::query(
            "UPDATE personal_token SET revoked_ms = $1 WHERE user_id = $2 AND revoked_ms IS NULL",
        ).bind(now_ms).bind(user).execute(p).await?.rows_affected()))
    }

    /// The live token with this hash and its owner, marking it used. Revoked and
    /// expired tokens are `None`, the same as unknown ones.
    pub async fn use_personal_token(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<(PersonalTokenRow, UserRow)>> {
        let sql = token_select!(
            "WHERE token_hash = $1 AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $2)"
        );
        let row: Option<TokenTuple> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(token_hash).bind(now_ms).fetch_optional(p).await?);
        let Some(mut token) = row.map(to_row) else {
            return Ok(None);
        };
        let Some(user) = self.user_by_id(token.user_id).await? else {
            return Ok(None);
        };
        if token
            .last_used_ms
            .is_none_or(|t| now_ms - t >= LAST_USED_EVERY_MS)
        {
            on_pool!(self, p => sqlx::query("UPDATE personal_token SET last_used_ms = $1 WHERE id = $2")
                .bind(now_ms).bind(token.id).execute(p).await?.rows_affected());
            token.last_used_ms = Some(now_ms);
        }
        Ok(Some((token, user)))
    }
}
