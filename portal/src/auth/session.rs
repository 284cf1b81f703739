//! Browser sessions: a random id in an HttpOnly cookie, only its hash in the
//! store, and a per-session CSRF token that every form posts back.
//!
//! Sessions end after 14 idle days or 30 days in all. The sign-in form, which has
//! no session yet, is protected by a double-submit token in its own cookie.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use cohealth_store::UserRow;

use crate::auth::session_cache::Record;
use crate::auth::{hash_session_id, same_secret};
use crate::{Portal, PortalError};

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "cohealth_session";
/// The sign-in form's CSRF cookie.
pub(crate) const LOGIN_CSRF_COOKIE: &str = "cohealth_login_csrf";

const IDLE_MS: i64 = 14 * 24 * 3600 * 1000;
const LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;
const TOUCH_EVERY_MS: i64 = 5 * 60 * 1000;

/// A signed-in person's session, as handlers see it.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub user: UserRow,
    pub csrf: String,
    pub id_hash: String,
}

impl Session {
    /// Refuses a form whose token is not this session's.
    pub fn check_csrf(&self, posted: &str) -> Result<(), PortalError> {
        if same_secret(&self.csrf, posted) {
            Ok(())
        } else {
            Err(PortalError::Csrf)
        }
    }
}

impl FromRequestParts<Portal> for Session {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, portal: &Portal) -> Result<Self, PortalError> {
        let id = cookie(&parts.headers, SESSION_COOKIE).ok_or(PortalError::SignIn)?;
        let id_hash = hash_session_id(id);
        let store = &portal.app.store;
        let now = portal.clock.now_ms();
        let mut record = match portal.sessions.get(&id_hash) {
            Some(record) => record,
            None => {
                let (user_id, csrf, created_ms, last_seen_ms) =
                    store.session(&id_hash).await?.ok_or(PortalError::SignIn)?;
                let user = store
                    .user_by_id(user_id)
                    .await?
                    .ok_or(PortalError::SignIn)?;
                let record = Record {
                    user,
                    csrf,
                    created_ms,
                    last_seen_ms,
                };
                portal.sessions.put(&id_hash, record.clone());
                record
            }
        };
        if now - record.last_seen_ms > IDLE_MS || now - record.created_ms > LIFETIME_MS {
            portal.sessions.forget(&id_hash);
            store.delete_session(&id_hash).await?;
            return Err(PortalError::SignIn);
        }
        if now - record.last_seen_ms > TOUCH_EVERY_MS {
            store.touch_session(&id_hash, now).await?;
            record.last_seen_ms = now;
            portal.sessions.put(&id_hash, record.clone());
        }
        let Record { user, csrf, .. } = record;
        Ok(Session {
            user,
            csrf,
            id_hash,
        })
    }
}

/// The value of cookie `name`, if the request carries it.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// Whether the browser reached us over TLS (directly or through a proxy that says so).
pub(crate) fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, `Secure` behind TLS;
/// `max_age_s` 0 deletes the cookie.
pub(crate) fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The session lifetime, seconds, for the cookie's `Max-Age`.
pub(crate) const fn lifetime_s() -> i64 {
    LIFETIME_MS / 1000
}
