//! `POST /api/v1/token`: credentials for a bearer token.
//!
//! An account with two-factor sign-in must also send a current TOTP code or an
//! unused recovery code as `totp` ([`second_factor`]); the code is checked and
//! limited exactly as on the sign-in page. When the household requires 2FA, an
//! account without it gets no token until it enrols.

use axum::extract::{FromRequest, State};
use axum::http::HeaderMap;
use axum::http::header;
use axum::{Form, Json};
use cohealth_store::UserRow;
use serde::{Deserialize, Serialize};

use crate::auth::jwt::{self, Claims, TOKEN_TTL_SECONDS};
use crate::auth::second_factor::limited_verify;
use crate::auth::{ClientAddr, random_hex};
use crate::pages::login::limited_check_password;
use crate::{Portal, PortalError};

/// What a client sends, as JSON or as a form.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenRequest {
    /// Email or user name.
    login: String,
    password: String,
    /// One-time code, for accounts with 2FA.
    #[serde(default)]
    totp: Option<String>,
}

/// What a client gets.
#[derive(Debug, Serialize)]
pub(crate) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
}

/// `POST /api/v1/token`.
pub(crate) async fn issue(
    State(portal): State<Portal>,
    headers: HeaderMap,
    client: ClientAddr,
    body: axum::body::Bytes,
) -> Result<Json<TokenResponse>, PortalError> {
    let request = parse_request(&headers, &body).await?;
    let user = limited_check_password(&portal, client, &request.login, &request.password)
        .await?
        .ok_or(PortalError::BadCredentials)?;
    second_factor(&portal, client, &user, request.totp.as_deref()).await?;

    let now_s = portal.clock.now_ms().div_euclid(1000);
    let claims = Claims {
        sub: user.id.to_string(),
        person: user.person_id,
        iat: now_s,
        exp: now_s + TOKEN_TTL_SECONDS,
    };
    let key = signing_key(&portal).await?;
    tracing::info!(user.id = user.id, "API token issued");
    Ok(Json(TokenResponse {
        access_token: jwt::sign(&claims, &key),
        token_type: "Bearer",
        expires_in: TOKEN_TTL_SECONDS,
    }))
}

async fn parse_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, PortalError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let bad =
        |e: String| PortalError::BadRequest(format!("expected {{\"login\", \"password\"}}: {e}"));
    if is_form {
        let request = axum::http::Request::post("/")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(body.to_vec()))
            .map_err(|e| bad(e.to_string()))?;
        Form::<TokenRequest>::from_request(request, &())
            .await
            .map(|f| f.0)
            .map_err(|e| bad(e.body_text()))
    } else {
        serde_json::from_slice(body).map_err(|e| bad(e.to_string()))
    }
}

/// Requires a valid one-time code from accounts that enrolled in 2FA, and
/// refuses accounts that have not enrolled when their household requires it.
async fn second_factor(
    portal: &Portal,
    client: ClientAddr,
    user: &UserRow,
    totp: Option<&str>,
) -> Result<(), PortalError> {
    if user.totp_enabled_ms.is_none() {
        let settings = portal
            .app
            .store
            .household_settings(user.household_id)
            .await?;
        return if settings.require_2fa {
            Err(PortalError::EnrolmentRequired)
        } else {
            Ok(())
        };
    }
    let Some(code) = totp.map(str::trim).filter(|c| !c.is_empty()) else {
        return Err(PortalError::SecondFactorRequired);
    };
    if limited_verify(portal, client, user, code).await? {
        Ok(())
    } else {
        Err(PortalError::BadSecondFactor)
    }
}

/// The HS256 key, loaded from the store once (and created there on first use).
pub(crate) async fn signing_key(portal: &Portal) -> Result<Vec<u8>, PortalError> {
    let key = portal
        .jwt_key
        .get_or_try_init(|| async {
            let fresh = random_hex(32)?;
            let stored = portal
                .app
                .store
                .portal_secret("jwt_hs256", &fresh, portal.clock.now_ms())
                .await?;
            hex::decode(stored).map_err(|e| PortalError::Internal(format!("stored JWT key: {e}")))
        })
        .await?;
    Ok(key.clone())
}
