//! Accounts: password hashing, browser sessions with CSRF tokens, and bearer
//! tokens for API clients.

pub mod jwt;
pub mod password;
pub(crate) mod session;
pub(crate) mod session_cache;

use sha2::{Digest, Sha256};

/// A fresh random secret of `bytes` bytes, hex-encoded.
pub(crate) fn random_hex(bytes: usize) -> Result<String, crate::PortalError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| crate::PortalError::Internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(buf))
}

/// SHA-256 of a session id, hex: the store keeps only this, so a leaked
/// database does not hand out live sessions.
pub(crate) fn hash_session_id(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
