//! Single-use links sent by email: password reset and address verification.
//!
//! Only the SHA-256 of a token is stored, so a copy of the database hands out
//! no working link. A token is spent by one conditional `UPDATE` (unused and not
//! expired), so two clicks racing on one link cannot both succeed; spending a
//! reset token, setting the new password and ending every session of the
//! account happen in one transaction.

use crate::tx::on_tx;
use crate::{Result, Store, on_pool};

/// What a token is for; each purpose only ever opens its own door.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Sets a new password.
    Reset,
    /// Confirms that the account's email address reaches its owner.
    Verify,
}

impl TokenPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Reset => "reset",
            TokenPurpose::Verify => "verify",
        }
    }
}

/// What a new token is made of.
#[derive(Clone, Debug)]
pub struct NewEmailToken<'a> {
    /// SHA-256 of the token, hex (the token itself is only in the link).
    pub token_hash: &'a str,
    /// The account.
    pub user_id: i64,
    /// What the link does.
    pub purpose: TokenPurpose,
    /// The address the link was sent to; the link only works while the account
    /// still has this address.
    pub email: &'a str,
    /// Creation time, UTC ms.
    pub now_ms: i64,
    /// The link stops working at this instant, UTC ms.
    pub expires_ms: i64,
}

/// A live token's account and address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailToken {
    /// The account.
    pub user_id: i64,
    /// The address the link was sent to.
    pub email: String,
}

impl Store {
    /// Stores a new token, first voiding every unused token of the same purpose
    /// for the account: only the newest link works.
    pub async fn create_email_token(&self, new: &NewEmailToken<'_>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        on_tx!(&mut tx, t => {
            sqlx::query(
                "UPDATE email_token SET used_ms = $1
                 WHERE user_id = $2 AND purpose = $3 AND used_ms IS NULL",
            ).bind(new.now_ms).bind(new.user_id).bind(new.purpose.as_str())
            .execute(&mut **t).await?;
            sqlx::query(
                "INSERT INTO email_token (token_hash, user_id, purpose, email, created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            ).bind(new.token_hash).bind(new.user_id).bind(new.purpose.as_str())
            .bind(new.email.trim().to_lowercase()).bind(new.now_ms).bind(new.expires_ms)
            .execute(&mut **t).await?;
        });
        tx.commit().await
    }

    /// Voids every unused token of `purpose` for the account; returns how many.
    pub async fn void_email_tokens(
        &self,
        user_id: i64,
        purpose: TokenPurpose,
        now_ms: i64,
    ) -> Result<u64> {
        Ok(on_pool!(self, p => sqlx::query(
            "UPDATE email_token SET used_ms = $1
             WHERE user_id = $2 AND purpose = $3 AND used_ms IS NULL",
        ).bind(now_ms).bind(user_id).bind(purpose.as_str())
        .execute(p).await?.rows_affected()))
    }

    /// The token's account if the token is unused, unexpired, of this purpose,
    /// and the account still has the address it was sent to. Spends nothing:
    /// for showing the form a link opens.
    pub async fn live_email_token(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
        now_ms: i64,
    ) -> Result<Option<EmailToken>> {
        let row: Option<(i64, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT t.user_id, t.email FROM email_token t JOIN app_user u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_ms IS NULL
               AND t.expires_ms > $3 AND u.email = t.email",
        ).bind(token_hash).bind(purpose.as_str()).bind(now_ms).fetch_optional(p).await?);
        Ok(row.map(|(user_id, email)| EmailToken { user_id, email }))
    }

    /// Spends a token once: the first caller gets its account, every later one
    /// (and any caller of an expired, unknown or other-purpose token) `None`.
    pub async fn take_email_token(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
        now_ms: i64,
    ) -> Result<Option<EmailToken>> {
        let mut tx = self.begin_write().await?;
        let taken = take(&mut tx, token_hash, purpose, now_ms).await?;
        tx.commit().await?;
        Ok(taken)
    }

    /// Spends a reset token and, in the same transaction, sets the new password
    /// hash, records the change, marks the address verified (the link proved the
    /// person reads it), voids the account's other reset links and ends every
    /// session of the account. Returns the account, or `None` when the token was
    /// not live (nothing changed then).
    pub async fn reset_password_with_token(
        &self,
        token_hash: &str,
        password_hash: &str,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let Some(token) = take(&mut tx, token_hash, TokenPurpose::Reset, now_ms).await? else {
            return Ok(None);
        };
        on_tx!(&mut tx, t => {
            sqlx::query(
                "UPDATE app_user SET password_hash = $1, password_changed_ms = $2,
                     email_verified_ms = COALESCE(email_verified_ms, $2)
                 WHERE id = $3",
            ).bind(password_hash).bind(now_ms).bind(token.user_id)
            .execute(&mut **t).await?;
            sqlx::query(
                "UPDATE email_token SET used_ms = $1
                 WHERE user_id = $2 AND purpose = 'reset' AND used_ms IS NULL",
            ).bind(now_ms).bind(token.user_id).execute(&mut **t).await?;
            sqlx::query("DELETE FROM web_session WHERE user_id = $1")
                .bind(token.user_id).execute(&mut **t).await?;
        });
        tx.commit().await?;
        Ok(Some(token.user_id))
    }

    /// Spends a verification token and marks the address verified. Returns the
    /// account, or `None` when the token was not live.
    pub async fn verify_email_with_token(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let Some(token) = take(&mut tx, token_hash, TokenPurpose::Verify, now_ms).await? else {
            return Ok(None);
        };
        on_tx!(&mut tx, t => {
            sqlx::query(
                "UPDATE app_user SET email_verified_ms = COALESCE(email_verified_ms, $1)
                 WHERE id = $2",
            ).bind(now_ms).bind(token.user_id).execute(&mut **t).await?;
        });
        tx.commit().await?;
        Ok(Some(token.user_id))
    }
}

/// The conditional update that spends a token, inside an open transaction. The
/// address must still be the account's: a link sent to an old address dies when
/// the address changes.
async fn take(
    tx: &mut crate::tx::Tx,
    token_hash: &str,
    purpose: TokenPurpose,
    now_ms: i64,
) -> Result<Option<EmailToken>> {
    let row: Option<(i64, String)> = on_tx!(tx, t => sqlx::query_as(
        "UPDATE email_token SET used_ms = $1
         WHERE token_hash = $2 AND purpose = $3 AND used_ms IS NULL AND expires_ms > $1
           AND email = (SELECT u.email FROM app_user u WHERE u.id = email_token.user_id)
         RETURNING user_id, email",
    ).bind(now_ms).bind(token_hash).bind(purpose.as_str())
    .fetch_optional(&mut **t).await?);
    Ok(row.map(|(user_id, email)| EmailToken { user_id, email }))
}
