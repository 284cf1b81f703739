//! Checking a second factor: a TOTP code from the account's authenticator app
//! or one of its recovery codes, each accepted at most once, and every attempt
//! counted by the sign-in limiter (ASVS 2.2.1, 2.8.4, 2.8.5).
//!
//! The page sign-in, the API's token exchange and the account page's
//! re-authentication all come through [`limited_verify`], so a guesser gains
//! nothing by switching between them.

use cohealth_store::UserRow;

use super::ClientAddr;
use super::limits::Action;
use super::{recovery, totp};
use crate::{Portal, PortalError};

/// Whether `typed` looks like a TOTP code (six digits, spaces allowed).
fn as_totp(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == totp::DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// Checks `typed` against the TOTP secret of an account that has 2FA on, or
/// against its unused recovery codes, and uses it up if it is right.
async fn verify(portal: &Portal, user: i64, typed: &str) -> Result<bool, PortalError> {
    let store = &portal.app.store;
    let Some(state) = store.totp_state(user).await? else {
        return Ok(false);
    };
    let (Some(secret), Some(_)) = (state.secret, state.enabled_ms) else {
        return Ok(false);
    };
    let now = portal.clock.now_ms();
    if let Some(code) = as_totp(typed) {
        let key = totp::base32_decode(&secret)
            .ok_or_else(|| PortalError::Internal("stored TOTP secret is not base32".into()))?;
        return match totp::matching_step(&key, &code, now) {
            Some(step) => {
                let fresh = store.accept_totp_step(user, step).await?;
                if !fresh {
                    // ASVS 2.8.5: a replayed code is refused and logged.
                    tracing::warn!(user.id = user, "TOTP code used a second time");
                }
                Ok(fresh)
            }
            None => Ok(false),
        };
    }
    let Some(code) = recovery::normalise(typed) else {
        return Ok(false);
    };
    let stored = store.unused_recovery_codes(user).await?;
    // Hash against every stored code, so timing does not say how many match.
    let mut hit = None;
    for candidate in &stored {
        if recovery::matches(&candidate.code_hash, &code) {
            hit = Some(candidate.code_hash.as_str());
        }
    }
    match hit {
        Some(hash) => {
            let used = store.use_recovery_code(user, hash, now).await?;
            if used {
                tracing::info!(user.id = user, "recovery code used");
            }
            Ok(used)
        }
        None => Ok(false),
    }
}

/// Refuses at once if the account or the address is locked out of guessing.
pub(crate) fn check_limit(
    portal: &Portal,
    client: ClientAddr,
    user: &UserRow,
) -> Result<(), PortalError> {
    let key = user.id.to_string();
    let now = portal.clock.now_ms();
    portal
        .limits
        .check(Action::SecondFactor, Some(&key), client.0, now)
        .map_err(|locked| {
            tracing::warn!(
                user.id = user.id,
                retry_after_s = locked.retry_after_s,
                "second factor locked"
            );
            PortalError::TooManyAttempts {
                retry_after_s: locked.retry_after_s,
            }
        })
}

/// Counts the outcome of one second-factor attempt.
pub(crate) fn record(portal: &Portal, client: ClientAddr, user: &UserRow, ok: bool) {
    let key = user.id.to_string();
    if ok {
        portal.limits.succeeded(Action::SecondFactor, &key);
    } else {
        tracing::info!(user.id = user.id, "second factor refused");
        let now = portal.clock.now_ms();
        portal
            .limits
            .failed(Action::SecondFactor, Some(&key), client.0, now);
    }
}

/// [`verify`] behind the limiter: a locked account or address gets
/// [`PortalError::TooManyAttempts`] without the code being looked at.
pub(crate) async fn limited_verify(
    portal: &Portal,
    client: ClientAddr,
    user: &UserRow,
    typed: &str,
) -> Result<bool, PortalError> {
    check_limit(portal, client, user)?;
    let ok = verify(portal, user.id, typed).await?;
    record(portal, client, user, ok);
    Ok(ok)
}

/// Enrolment's first code: checked against the pending secret. On success 2FA
/// is switched on, with `code_hashes` as the recovery codes.
pub(crate) async fn limited_confirm(
    portal: &Portal,
    client: ClientAddr,
    user: &UserRow,
    typed: &str,
    code_hashes: &[String],
) -> Result<bool, PortalError> {
    check_limit(portal, client, user)?;
    let store = &portal.app.store;
    let now = portal.clock.now_ms();
    let pending = store
        .totp_state(user.id)
        .await?
        .filter(|s| s.enabled_ms.is_none())
        .and_then(|s| s.secret);
    let step = match (&pending, as_totp(typed)) {
        (Some(secret), Some(code)) => {
            totp::base32_decode(secret).and_then(|key| totp::matching_step(&key, &code, now))
        }
        _ => None,
    };
    let ok = match (pending, step) {
        (Some(secret), Some(step)) => {
            store
                .enable_totp(user.id, &secret, step, code_hashes, now)
                .await?
        }
        _ => false,
    };
    record(portal, client, user, ok);
    Ok(ok)
}
