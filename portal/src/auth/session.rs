//! Browser sessions: a random id in an HttpOnly cookie, only its hash in the
//! store, and a per-session CSRF token that every form posts back.
//!
//! Sessions end after [`IDLE_MS`] without use or [`LIFETIME_MS`] in all, the
//! ASVS level-2 limits for an application holding health data (V3.3.2). The
//! sign-in form, which has no session yet, is protected by a double-submit token
//! in its own cookie. A session whose password was accepted but whose second
//! factor is still owed (stage `mfa`) is not a session to any page but the
//! second-factor one.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use cohealth_store::{SessionStage, UserRow};

use crate::auth::session_cache::Record;
use crate::auth::{ClientAddr, hash_session_id, random_hex, same_secret};
use crate::{Portal, PortalError};

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "cohealth_session";
/// The sign-in form's CSRF cookie.
pub(crate) const LOGIN_CSRF_COOKIE: &str = "cohealth_login_csrf";

/// A session unused for this long has ended.
pub(crate) const IDLE_MS: i64 = 30 * 60 * 1000;
/// A session older than this has ended, however busy.
pub(crate) const LIFETIME_MS: i64 = 12 * 3600 * 1000;
const TOUCH_EVERY_MS: i64 = 5 * 60 * 1000;

/// A signed-in person's session, as handlers see it.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub user: UserRow,
    pub csrf: String,
    pub id_hash: String,
    /// When the account's requested deletion is due (the banner), if pending.
    pub deletion_due_ms: Option<i64>,
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
                let row = store.session(&id_hash).await?.ok_or(PortalError::SignIn)?;
                let user = store
                    .user_by_id(row.user_id)
                    .await?
                    .ok_or(PortalError::SignIn)?;
                let deletion_due_ms = store
                    .deletion_request(user.person_id)
                    .await?
                    .map(|r| r.due_ms);
                let record = Record {
                    user,
                    csrf: row.csrf,
                    created_ms: row.created_ms,
                    last_seen_ms: row.last_seen_ms,
                    stage: row.stage,
                    deletion_due_ms,
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
        if record.stage != SessionStage::Full {
            return Err(PortalError::SignIn);
        }
        if now - record.last_seen_ms > TOUCH_EVERY_MS {
            store.touch_session(&id_hash, now).await?;
            record.last_seen_ms = now;
            portal.sessions.put(&id_hash, record.clone());
        }
        let Record {
            user,
            csrf,
            deletion_due_ms,
            ..
        } = record;
        Ok(Session {
            user,
            csrf,
            id_hash,
            deletion_due_ms,
        })
    }
}

/// The token guarding forms shown before there is a session (sign-in,
/// registration, password reset): the one the browser already holds in its
/// cookie, or a fresh one. Pair with [`anon_csrf_cookie`] on the response.
pub(crate) fn anon_csrf_token(headers: &HeaderMap) -> Result<String, PortalError> {
    Ok(match cookie(headers, LOGIN_CSRF_COOKIE) {
        Some(t) if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) => t.to_owned(),
        _ => random_hex(32)?,
    })
}

/// The cookie carrying [`anon_csrf_token`]'s token, for an hour.
pub(crate) fn anon_csrf_cookie(token: &str, secure: bool) -> HeaderValue {
    set_cookie(LOGIN_CSRF_COOKIE, token, 3600, secure)
}

/// Refuses a session-less form whose token does not match its cookie: another
/// site can make a browser post, but cannot read or set our cookie.
pub(crate) fn check_anon_csrf(headers: &HeaderMap, posted: &str) -> Result<(), PortalError> {
    let expected = cookie(headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(expected, posted) {
        return Err(PortalError::Csrf);
    }
    Ok(())
}

/// Starts a session for `user` and returns its id, for the cookie. Every sign-in
/// (and every step up, such as passing the second factor) makes a new id, and the
/// id the browser came with, if any, is ended: a planted id never becomes a
/// signed-in one (session fixation, ASVS 3.2.1).
pub(crate) async fn begin(
    portal: &Portal,
    user_id: i64,
    stage: SessionStage,
    headers: &HeaderMap,
    client: ClientAddr,
) -> Result<String, PortalError> {
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        let old = hash_session_id(old);
        portal.sessions.forget(&old);
        portal.app.store.delete_session(&old).await?;
    }
    let id = random_hex(32)?;
    let agent = describe_agent(headers);
    let addr = client.0.map(|ip| ip.to_string());
    portal
        .app
        .store
        .create_session(&cohealth_store::NewSession {
            id_hash: &hash_session_id(&id),
            user_id,
            csrf: &random_hex(32)?,
            now_ms: portal.clock.now_ms(),
            stage,
            user_agent: agent.as_deref(),
            client_addr: addr.as_deref(),
        })
        .await?;
    Ok(id)
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

/// Whether the browser reached us over TLS: this server terminated it (the portal
/// was built with [`crate::PortalOptions::tls`]), or a proxy in front says so in
/// `X-Forwarded-Proto`. Cookies get `Secure` when it is true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OverTls(pub bool);

impl FromRequestParts<Portal> for OverTls {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Portal,
    ) -> Result<Self, Self::Rejection> {
        Ok(OverTls(over_tls(portal, &parts.headers)))
    }
}

/// What [`OverTls`] extracts, for handlers that hold the headers already.
pub(crate) fn over_tls(portal: &Portal, headers: &HeaderMap) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    portal.tls || forwarded
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, `Secure` behind TLS;
/// `max_age_s` 0 deletes the cookie.
pub(crate) fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A short description of the browser for the session list ("Chrome on Linux"),
/// from its User-Agent; the raw header is neither stored nor logged.
pub(crate) fn describe_agent(headers: &HeaderMap) -> Option<String> {
    let ua = headers.get(header::USER_AGENT)?.to_str().ok()?;
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("HeadlessChrome/", "Headless Chrome"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map_or("A browser", |(_, name)| name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Mac OS X", "macOS"),
        ("Windows", "Windows"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    Some(match system {
        Some(system) => format!("{browser} on {system}"),
        None => browser.to_owned(),
    })
}

/// The session lifetime, seconds, for the cookie's `Max-Age`.
pub(crate) const fn lifetime_s() -> i64 {
    LIFETIME_MS / 1000
}
