//! The portal's one error type.
//!
//! A 4xx renders the error page (or, under `/api/v1`, a JSON body: the API layer
//! rewrites any response that carries an [`ErrorInfo`]); a 5xx is logged once here
//! with its cause chain and shows the person nothing of it.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cohealth_store::StoreError;

use crate::templates;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// A page needs a signed-in person; the browser is sent to the sign-in page.
    #[error("sign in to see this page")]
    SignIn,
    /// An API call without a valid bearer token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// Wrong email, user name or password (one message for all, on purpose).
    #[error("wrong email, user name or password")]
    BadCredentials,
    /// The account uses two-factor sign-in and no code came with the request.
    #[error(
        "this account uses two-factor sign-in: send the current code from the authenticator app (or a recovery code) as `totp`"
    )]
    SecondFactorRequired,
    /// The one-time code is wrong, expired or already used.
    #[error(
        "that code is wrong or was used already; enter the current code from your authenticator app or an unused recovery code"
    )]
    BadSecondFactor,
    /// The household requires two-factor sign-in and this account has none yet.
    #[error(
        "your household requires two-factor sign-in: set it up on the portal's Two-factor page first"
    )]
    EnrolmentRequired,
    /// Signed in, but this is someone else's.
    #[error("this is not yours to see")]
    Forbidden,
    /// The bearer token is valid but lacks the scope this call needs.
    #[error("this token lacks the `{0}` scope")]
    MissingScope(&'static str),
    /// The form's CSRF token is missing or stale.
    #[error("this form has expired; reload the page and try again")]
    Csrf,
    /// Too many failed attempts; try again after this many seconds.
    #[error("too many attempts; try again in {}", wait_text(*retry_after_s))]
    TooManyAttempts {
        /// Seconds until the next attempt is allowed.
        retry_after_s: i64,
    },
    /// No such page or record.
    #[error("not found")]
    NotFound,
    /// The request is malformed; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// The store refused or failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A template failed to render.
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    /// Anything else that is our fault.
    #[error("{0}")]
    Internal(String),
}

/// Status and message of an error response, for the API layer to turn into JSON.
#[derive(Clone, Debug)]
pub(crate) struct ErrorInfo {
    pub message: String,
}

impl PortalError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            PortalError::SignIn
            | PortalError::Unauthorized
            | PortalError::BadCredentials
            | PortalError::SecondFactorRequired
            | PortalError::BadSecondFactor => StatusCode::UNAUTHORIZED,
            PortalError::Forbidden
            | PortalError::Csrf
            | PortalError::MissingScope(_)
            | PortalError::EnrolmentRequired => StatusCode::FORBIDDEN,
            PortalError::NotFound | PortalError::Store(StoreError::NotFound(_)) => {
                StatusCode::NOT_FOUND
            }
            PortalError::BadRequest(_) | PortalError::Store(StoreError::Invalid(_)) => {
                StatusCode::BAD_REQUEST
            }
            PortalError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            PortalError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the person is told: the error itself for 4xx, nothing internal for 5xx.
    fn public_message(&self) -> String {
        if self.status().is_server_error() {
            "something went wrong on our side; it has been logged".to_owned()
        } else {
            self.to_string()
        }
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %cause_chain(&self), http.status = status.as_u16(), "request failed");
        }
        let info = ErrorInfo {
            message: self.public_message(),
        };
        let mut response = if matches!(self, PortalError::SignIn) {
            Redirect::to("/login").into_response()
        } else {
            error_page(status, &info.message)
        };
        if let PortalError::TooManyAttempts { retry_after_s } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_s.max(1).into());
        }
        response.extensions_mut().insert(info);
        response
    }
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let context = minijinja::context! {
        title => status.canonical_reason().unwrap_or("Error"),
        status => status.as_u16(),
        message => message,
        asset_v => crate::assets::version(),
    };
    match templates::render("error.html", context) {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %cause_chain(&e), "the error page itself failed to render");
            (status, message.to_owned()).into_response()
        }
    }
}

/// "45 seconds", "3 minutes": how long a locked attempt must wait.
fn wait_text(seconds: i64) -> String {
    match seconds {
        ..=1 => "a second".to_owned(),
        2..=90 => format!("{seconds} seconds"),
        _ => format!("{} minutes", (seconds + 59) / 60),
    }
}

/// `error: cause: cause` on one line, for logs.
fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

impl From<crate::auth::password::PasswordError> for PortalError {
    fn from(e: crate::auth::password::PasswordError) -> Self {
        PortalError::Internal(e.to_string())
    }
}
