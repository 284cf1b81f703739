//! Two-factor sign-in state: an account's TOTP secret, the last time step it
//! accepted (so a code works once), its single-use recovery codes, and the
//! household rule that every member must enrol.
//!
//! The store knows nothing of how codes are computed or hashed; the portal
//! hands it secrets, steps and hashes. Every "use once" operation is one
//! conditional `UPDATE`, so two requests racing with the same code cannot both
//! win, on either backend.

use crate::tx::on_tx;
use crate::{Result, Store, on_pool};

/// An account's TOTP state.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpState {
    /// The base32 secret: pending while `enabled_ms` is `None`, live after.
    pub secret: Option<String>,
    /// When two-factor sign-in was switched on.
    pub enabled_ms: Option<i64>,
    /// The last time step a code was accepted for.
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for TotpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpState")
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("enabled_ms", &self.enabled_ms)
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// A recovery code not used yet, as stored (its salted hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecoveryCode {
    /// What the portal stored for the code (salt and hash).
    pub code_hash: String,
}

impl Store {
    /// The TOTP state of an account, `None` if there is no such account.
    pub async fn totp_state(&self, user: i64) -> Result<Option<TotpState>> {
        let row: Option<(Option<String>, Option<i64>, Option<i64>)> = on_pool!(self, p => sqlx::query_as(
            "SELECT totp_secret, totp_enabled_ms, totp_last_step FROM app_user WHERE id = $1",
        ).bind(user).fetch_optional(p).await?);
        Ok(row.map(|(secret, enabled_ms, last_step)| TotpState {
            secret,
            enabled_ms,
            last_step,
        }))
    }

    /// Stores a pending secret for an account that has not enrolled yet;
    /// `false` (and nothing changed) if two-factor sign-in is already on.
    pub async fn set_pending_totp_secret(&self, user: i64, secret: &str) -> Result<bool> {
        let changed = on_pool!(self, p => sqlx::query(
            "UPDATE app_user SET totp_secret = $1, totp_last_step = NULL
             WHERE id = $2 AND totp_enabled_ms IS NULL",
        ).bind(secret).bind(user).execute(p).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Switches two-factor sign-in on after the first code (for `step`) was
    /// right, and replaces the recovery codes with `code_hashes`, in one
    /// transaction. `false` if it was on already, no secret is pending, the
    /// pending secret is no longer `secret` (enrolment restarted meanwhile),
    /// or `step` was used already.
    pub async fn enable_totp(
        &self,
        user: i64,
        secret: &str,
        step: i64,
        code_hashes: &[String],
        now_ms: i64,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let enabled = on_tx!(&mut tx, t => {
            let changed = sqlx::query(
                "UPDATE app_user SET totp_enabled_ms = $1, totp_last_step = $2
                 WHERE id = $3 AND totp_enabled_ms IS NULL AND totp_secret = $4
                   AND (totp_last_step IS NULL OR totp_last_step < $2)",
            ).bind(now_ms).bind(step).bind(user).bind(secret)
            .execute(&mut **t).await?.rows_affected();
            if changed == 1 {
                sqlx::query("DELETE FROM recovery_code WHERE user_id = $1")
                    .bind(user).execute(&mut **t).await?;
                for hash in code_hashes {
                    sqlx::query(
                        "INSERT INTO recovery_code (user_id, code_hash, created_ms) VALUES ($1, $2, $3)",
                    ).bind(user).bind(hash).bind(now_ms).execute(&mut **t).await?;
                }
            }
            changed == 1
        });
        tx.commit().await?;
        Ok(enabled)
    }

    /// Records that a code for `step` was accepted; `false` if that step or a
    /// later one was accepted before (a replayed code), or 2FA is off.
    pub async fn accept_totp_step(&self, user: i64, step: i64) -> Result<bool> {
        let changed = on_pool!(self, p => sqlx::query(
            "UPDATE app_user SET totp_last_step = $1
             WHERE id = $2 AND totp_secret IS NOT NULL
               AND (totp_last_step IS NULL OR totp_last_step < $1)",
        ).bind(step).bind(user).execute(p).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Switches two-factor sign-in off: forgets the secret, the last step and
    /// every recovery code, in one transaction.
    pub async fn disable_totp(&self, user: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        on_tx!(&mut tx, t => {
            sqlx::query(
                "UPDATE app_user SET totp_secret = NULL, totp_enabled_ms = NULL, totp_last_step = NULL
                 WHERE id = $1",
            ).bind(user).execute(&mut **t).await?;
            sqlx::query("DELETE FROM recovery_code WHERE user_id = $1")
                .bind(user).execute(&mut **t).await?;
        });
        tx.commit().await
    }

    /// Replaces every recovery code of an account (used or not) with new ones.
    pub async fn replace_recovery_codes(
        &self,
        user: i64,
        code_hashes: &[String],
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        on_tx!(&mut tx, t => {
            sqlx::query("DELETE FROM recovery_code WHERE user_id = $1")
                .bind(user).execute(&mut **t).await?;
            for hash in code_hashes {
                sqlx::query(
                    "INSERT INTO recovery_code (user_id, code_hash, created_ms) VALUES ($1, $2, $3)",
                ).bind(user).bind(hash).bind(now_ms).execute(&mut **t).await?;
            }
        });
        tx.commit().await
    }

    /// The recovery codes of an account that are still unused.
    pub async fn unused_recovery_codes(&self, user: i64) -> Result<Vec<StoredRecoveryCode>> {
        let rows: Vec<(String,)> = on_pool!(self, p => sqlx::query_as(
            "SELECT code_hash FROM recovery_code WHERE user_id = $1 AND used_ms IS NULL
             ORDER BY code_hash",
        ).bind(user).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(|(code_hash,)| StoredRecoveryCode { code_hash })
            .collect())
    }

    /// How many recovery codes an account has left.
    pub async fn recovery_codes_left(&self, user: i64) -> Result<i64> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_code WHERE user_id = $1 AND used_ms IS NULL",
        ).bind(user).fetch_one(p).await?))
    }

    /// Marks one recovery code used; `false` if it was used already (or is
    /// not this account's), so of two racing uses only one succeeds.
    pub async fn use_recovery_code(&self, user: i64, code_hash: &str, now_ms: i64) -> Result<bool> {
        let changed = on_pool!(self, p => sqlx::query(
            "UPDATE recovery_code SET used_ms = $1
             WHERE user_id = $2 AND code_hash = $3 AND used_ms IS NULL",
        ).bind(now_ms).bind(user).bind(code_hash).execute(p).await?.rows_affected());
        Ok(changed == 1)
    }

    /// Sets whether the household requires two-factor sign-in (read it back
    /// with [`Store::household_settings`]).
    pub async fn set_household_requires_2fa(&self, household: i64, required: bool) -> Result<()> {
        on_pool!(self, p => sqlx::query("UPDATE household SET require_2fa = $1 WHERE id = $2")
            .bind(i64::from(required)).bind(household).execute(p).await?.rows_affected());
        Ok(())
    }
}
