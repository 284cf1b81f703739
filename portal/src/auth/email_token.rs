//! The secrets in emailed links (password reset, address verification) and the
//! mails that carry them.
//!
//! A token is 32 random bytes, base64url in the link; the store keeps only its
//! SHA-256. Reset links live [`RESET_TTL_MS`], verification links
//! [`VERIFY_TTL_MS`]; both are single-use and a new one voids the older ones.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cohealth_store::{NewEmailToken, Store, TokenPurpose, UserRow};
use sha2::{Digest, Sha256};

use crate::{Portal, PortalError};

/// How long a password-reset link works.
pub const RESET_TTL_MS: i64 = 30 * 60 * 1000;
/// How long an address-verification link works.
pub const VERIFY_TTL_MS: i64 = 24 * 3600 * 1000;

/// A fresh token for a link and the hash the store keeps.
fn new_token() -> Result<(String, String), PortalError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| PortalError::Internal(format!("no randomness: {e}")))?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    Ok((token, hash))
}

/// The stored form of a link's token (SHA-256, hex). Anything that is not
/// shaped like one of our tokens hashes to a value no token has.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a path segment can be one of our tokens at all (43 base64url characters).
pub(crate) fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `{base}/{path}/{token}`, without a doubled slash.
fn link(base: &str, path: &str, token: &str) -> String {
    format!("{}/{path}/{token}", base.trim_end_matches('/'))
}

/// Makes a reset token for `user` (voiding older ones) and returns the link.
/// Used by the `/forgot` page and by `cohealth user reset`, which prints it.
pub async fn create_reset_link(
    store: &Store,
    user: &UserRow,
    base_url: &str,
    now_ms: i64,
) -> Result<String, PortalError> {
    let (token, hash) = new_token()?;
    store
        .create_email_token(&NewEmailToken {
            token_hash: &hash,
            user_id: user.id,
            purpose: TokenPurpose::Reset,
            email: &user.email,
            now_ms,
            expires_ms: now_ms + RESET_TTL_MS,
        })
        .await?;
    Ok(link(base_url, "reset", &token))
}

/// Mails `user` a password-reset link, if mail is on. Returns at once: the
/// mail goes out in the background.
pub(crate) async fn send_reset(portal: &Portal, user: &UserRow) -> Result<bool, PortalError> {
    let Some((mailer, base)) = &portal.mail else {
        return Ok(false);
    };
    let now = portal.clock.now_ms();
    let url = create_reset_link(&portal.app.store, user, base, now).await?;
    let body = format!(
        "Hello {name},\n\n\
         someone (we hope you) asked to set a new password for your CoHealth account.\n\
         Open this link within 30 minutes to choose one:\n\n{url}\n\n\
         The link works once. If you did not ask for it, ignore this mail: your\n\
         password stays as it is.\n",
        name = user.display_name,
    );
    mailer.send(
        "password reset",
        &user.email,
        "Set a new CoHealth password",
        body,
    );
    Ok(true)
}

/// Mails `user` a link that confirms their address, if mail is on; returns
/// whether a mail was queued. Older unused verification links stop working.
///
/// Called by account registration right after it creates an account, and by
/// the "send the link again" button of `/verify`.
pub(crate) async fn send_verification(
    portal: &Portal,
    user: &UserRow,
) -> Result<bool, PortalError> {
    let Some((mailer, base)) = &portal.mail else {
        return Ok(false);
    };
    let now = portal.clock.now_ms();
    let (token, hash) = new_token()?;
    portal
        .app
        .store
        .create_email_token(&NewEmailToken {
            token_hash: &hash,
            user_id: user.id,
            purpose: TokenPurpose::Verify,
            email: &user.email,
            now_ms: now,
            expires_ms: now + VERIFY_TTL_MS,
        })
        .await?;
    let url = link(base, "verify", &token);
    let body = format!(
        "Hello {name},\n\n\
         please confirm that this is your address for CoHealth by opening this\n\
         link within 24 hours:\n\n{url}\n\n\
         With a confirmed address you can set a new password yourself when you\n\
         forget it. If you have no CoHealth account, ignore this mail.\n",
        name = user.display_name,
    );
    mailer.send(
        "address verification",
        &user.email,
        "Confirm your email address for CoHealth",
        body,
    );
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let (a, ha) = new_token().unwrap();
        let (b, _) = new_token().unwrap();
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert_eq!(ha, token_hash(&a));
        assert_eq!(ha.len(), 64);
        assert!(!well_formed("short"));
        assert!(!well_formed(&"a/".repeat(22)[..43]));
        assert_eq!(
            link("http://hub:8080/", "reset", "t"),
            "http://hub:8080/reset/t"
        );
    }
}

/// What changed on an account, for [`notify_change`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// The password was changed or reset.
    Password,
    /// The email address was changed (the notice goes to the old address).
    Email,
    /// Two-factor sign-in was switched on.
    TwoFactorOn,
    /// Two-factor sign-in was switched off.
    TwoFactorOff,
    /// New recovery codes were made.
    RecoveryCodes,
}

/// Tells the account's owner, by mail if mail is on, that a sign-in factor
/// changed (ASVS 2.2.3, 2.5.5): if it was not them, they learn it at once.
/// `to` is the address to tell (the old one when the email itself changed).
pub(crate) fn notify_change(portal: &Portal, user: &UserRow, to: &str, change: Change) {
    let Some((mailer, base)) = &portal.mail else {
        return;
    };
    let what = match change {
        Change::Password => "your password was changed",
        Change::Email => "the email address of your account was changed",
        Change::TwoFactorOn => "two-factor sign-in was switched on",
        Change::TwoFactorOff => "two-factor sign-in was switched off",
        Change::RecoveryCodes => "new recovery codes were made (the old ones no longer work)",
    };
    let body = format!(
        "Hello {name},\n\n\
         on your CoHealth account, {what}.\n\n\
         If that was you, there is nothing to do. If it was not, reset your\n\
         password at {base}/forgot and sign out everywhere on the account page.\n",
        name = user.display_name,
        base = base.trim_end_matches('/'),
    );
    mailer.send(
        "security notice",
        to,
        "A change to your CoHealth account",
        body,
    );
}
