//! Accounts: password hashing, browser sessions with CSRF tokens, bearer
//! tokens for API clients, and the second factor (TOTP and recovery codes).

pub(crate) mod access;
pub mod email_token;
pub mod jwt;
pub(crate) mod limits;
pub mod password;
pub(crate) mod recovery;
pub(crate) mod scopes;
pub(crate) mod second_factor;
pub(crate) mod session;
pub(crate) mod session_cache;
pub mod totp;

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

/// The address a request came from, for per-client limits and the session list.
///
/// The peer's address, unless the peer is this host itself and says whom it
/// forwards for (a reverse proxy on the hub): then the last `X-Forwarded-For`
/// hop, the one that proxy added. `None` when the server runs without
/// connection info (in-process tests).
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = || {
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .next_back()
                .and_then(|hop| hop.trim().parse().ok())
        };
        Ok(ClientAddr(match peer {
            Some(ip) if ip.is_loopback() => forwarded().or(Some(ip)),
            other => other,
        }))
    }
}
