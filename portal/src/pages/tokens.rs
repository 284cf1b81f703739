//! Personal access tokens: made here for an integration, shown once, kept
//! only as a hash, scoped, revocable, with their last use on view.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use crate::auth::scopes::{PAT_PREFIX, Scope};
use crate::auth::session::Session;
use crate::auth::{hash_session_id, random_hex};
use crate::{Portal, PortalError};

/// The longest a token may be made to last; "never" is also offered.
const MAX_DAYS: i64 = 3650;

/// The new-token form. Checkboxes arrive only when ticked.
#[derive(Debug, Deserialize)]
pub(crate) struct NewTokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    ingest_write: Option<String>,
    #[serde(default)]
    samples_read: Option<String>,
    /// Days until expiry; empty for none.
    #[serde(default)]
    days: String,
    /// The current password: a token outlives the session that made it.
    #[serde(default)]
    current: String,
}

/// The revoke form.
#[derive(Debug, Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    id: i64,
}

#[derive(Debug, Serialize)]
struct TokenView {
    id: i64,
    name: String,
    scopes: String,
    created: String,
    expires: Option<String>,
    last_used: Option<String>,
    status: &'static str,
}

/// `GET /account/tokens`.
pub(crate) async fn page(
    State(portal): State<Portal>,
    session: Session,
) -> Result<Response, PortalError> {
    render(&portal, &session, StatusCode::OK, None, None).await
}

/// `POST /account/tokens`: makes a token and shows it once.
pub(crate) async fn create(
    State(portal): State<Portal>,
    session: Session,
    client: crate::auth::ClientAddr,
    Form(form): Form<NewTokenForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    if !super::account::reauthenticate(&portal, &session, client, &form.current).await? {
        let error = Some("The current password is not right.".to_owned());
        return render(
            &portal,
            &session,
            StatusCode::UNPROCESSABLE_ENTITY,
            error,
            None,
        )
        .await;
    }
    let bad = |m: &str| Some(m.to_owned());
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let name = form.name.trim();
    if !cohealth_store::plain_name(name) || name.chars().count() > 60 {
        let error = bad("Give the token a name (up to 60 characters) so you know what uses it.");
        return render(&portal, &session, status, error, None).await;
    }
    let mut scopes = Vec::new();
    if form.ingest_write.is_some() {
        scopes.push(Scope::IngestWrite);
    }
    if form.samples_read.is_some() {
        scopes.push(Scope::SamplesRead);
    }
    if scopes.is_empty() {
        let error = bad("Choose at least one thing the token may do.");
        return render(&portal, &session, status, error, None).await;
    }
    let now = portal.clock.now_ms();
    let expires = match form.days.trim() {
        "" => None,
        days => match days.parse::<i64>() {
            Ok(d) if (1..=MAX_DAYS).contains(&d) => Some(now + d * 86_400_000),
            _ => {
                let error = bad("Expiry: a number of days from 1 to 3650, or empty for none.");
                return render(&portal, &session, status, error, None).await;
            }
        },
    };
    let token = format!("{PAT_PREFIX}{}", random_hex(32)?);
    let scope_text = scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let id = portal
        .app
        .store
        .create_personal_token(
            session.user.id,
            name,
            &hash_session_id(&token),
            &scope_text,
            now,
            expires,
        )
        .await?;
    tracing::info!(
        user.id = session.user.id,
        token.id = id,
        scopes = %scope_text,
        "personal access token created"
    );
    render(&portal, &session, StatusCode::OK, None, Some(token)).await
}

/// `POST /account/tokens/revoke`.
pub(crate) async fn revoke(
    State(portal): State<Portal>,
    session: Session,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PortalError> {
    session.check_csrf(&form.csrf)?;
    let now = portal.clock.now_ms();
    if !portal
        .app
        .store
        .revoke_personal_token(session.user.id, form.id, now)
        .await?
    {
        return Err(PortalError::NotFound);
    }
    tracing::info!(
        user.id = session.user.id,
        token.id = form.id,
        "personal access token revoked"
    );
    Ok(Redirect::to("/account/tokens").into_response())
}

async fn render(
    portal: &Portal,
    session: &Session,
    status: StatusCode,
    error: Option<String>,
    fresh: Option<String>,
) -> Result<Response, PortalError> {
    let now = portal.clock.now_ms();
    let tz = super::zone(&session.user.time_zone);
    let when = |ms: i64| super::local_time(tz, ms, now);
    let rows = portal.app.store.personal_tokens(session.user.id).await?;
    let tokens: Vec<TokenView> = rows
        .into_iter()
        .map(|t| TokenView {
            status: if t.revoked_ms.is_some() {
                "revoked"
            } else if t.expires_ms.is_some_and(|e| e <= now) {
                "expired"
            } else {
                "active"
            },
            id: t.id,
            name: t.name,
            scopes: t.scopes,
            created: when(t.created_ms),
            expires: t.expires_ms.map(when),
            last_used: t.last_used_ms.map(when),
        })
        .collect();
    let context = minijinja::context! {
        title => "Access tokens",
        tokens => minijinja::Value::from(minijinja::value::Serde(&tokens)),
        fresh => fresh,
        error => error,
        scopes => Scope::ALL.iter().map(|s| (s.as_str(), s.describe())).collect::<Vec<_>>(),
        ..super::chrome(session, "account")
    };
    let mut response = super::html("tokens.html", context)?;
    *response.status_mut() = status;
    Ok(response.into_response())
}
