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

use crate::auth::jwt;
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
    json
}

/// The account behind a valid bearer token.
pub(crate) struct ApiUser(pub UserRow);

impl FromRequestParts<Portal> for ApiUser {
    type Rejection = PortalError;

    async fn from_request_parts(parts: &mut Parts, portal: &Portal) -> Result<Self, PortalError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(PortalError::Unauthorized)?;
        let key = token::signing_key(portal).await?;
        let now_s = portal.clock.now_ms().div_euclid(1000);
        let claims = jwt::verify(token.trim(), &key, now_s).map_err(|e| {
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
        Ok(ApiUser(user))
    }
}
