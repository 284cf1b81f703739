//! The JSON API under `/api/v1`, documented in `portal/API.md`.
//!
//! Clients trade an account's credentials for a short-lived bearer token
//! (`POST /token`) and read only their own person's data. Errors are
//! `{"error": "…"}` with the status of the [`PortalError`] behind them.

mod data;
mod token;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cohealth_store::UserRow;

use crate::auth::scopes::{Granted, PAT_PREFIX, Scope};
use crate::auth::{hash_session_id, jwt};
use crate::error::ErrorInfo;
use crate::{Portal, PortalError};

/// The API's routes, mounted at `/api/v1`.
pub(crate) fn router() -> Router<Portal> {
    Router::new()
        .route("/token", post(token::issue))
        .route("/samples", get(data::samples))
        .route("/series", get(data::series))
        .route("/devices", get(data::devices))
        .fallback(|| async { PortalError::NotFound })
        .layer(axum::middleware::map_response(json_errors))
}

/// Turns an error page into `{"error": …}` with the same status.
async fn json_errors(response: Response) -> Response {
    let Some(info) = response.extensions().get::<ErrorInfo>().cloned() else {
        return response;
    };
    let status = match response.status() {
        s if s.is_redirection() => StatusCode::UNAUTHORIZED,
        s => s,
    };
    let mut json = (status, Json(serde_json::json!({ "error": info.message }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        json.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(wait) = response.headers().get(header::RETRY_AFTER) {
        json.headers_mut().insert(header::RETRY_AFTER, wait.clone());
    }
    json
}

/// The account behind a valid bearer token, and what that token may do.
pub(crate) struct ApiUser {
    pub user: UserRow,
    pub granted: Granted,
}

impl ApiUser {
    /// Refuses a call the token's scopes do not cover (403, naming the scope).
    pub fn require(&self, scope: Scope) -> Result<(), PortalError> {
        if self.granted.allows(scope) {
            Ok(())
        } else {
            Err(PortalError::MissingScope(scope.as_str()))
        }
    }
}

impl FromRequestParts<Portal> for ApiUser {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, portal: &Portal) -> Result<Self, PortalError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or(PortalError::Unauthorized)?;
        let now = portal.clock.now_ms();
        if token.starts_with(PAT_PREFIX) {
            let (row, user) = portal
                .app
                .store
                .use_personal_token(&hash_session_id(token), now)
                .await?
                .ok_or_else(|| {
                    tracing::debug!("personal access token refused");
                    PortalError::Unauthorized
                })?;
            // A household that requires two-factor sign-in takes no token from
            // a member who has not enrolled, whatever the token predates.
            if user.totp_enabled_ms.is_none()
                && portal
                    .app
                    .store
                    .household_settings(user.household_id)
                    .await?
                    .require_2fa
            {
                return Err(PortalError::Forbidden);
            }
            return Ok(ApiUser {
                user,
                granted: Granted::from_stored(&row.scopes),
            });
        }
        let key = token::signing_key(portal).await?;
        let claims = jwt::verify(token, &key, now.div_euclid(1000)).map_err(|e| {
            tracing::debug!(error = %e, "bearer token refused");
            PortalError::Unauthorized
        })?;
        let user_id: i64 = claims.sub.parse().map_err(|_| PortalError::Unauthorized)?;
        let user = portal
            .app
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(PortalError::Unauthorized)?;
        if user.person_id != claims.person {
            return Err(PortalError::Unauthorized);
        }
        // A new password voids the tokens issued before it (`iat` is whole
        // seconds: a token from the same second as the change still counts).
        if user
            .password_changed_ms
            .is_some_and(|changed| (claims.iat + 1) * 1000 <= changed)
        {
            return Err(PortalError::Unauthorized);
        }
        Ok(ApiUser {
            user,
            granted: Granted::All,
        })
    }
}
