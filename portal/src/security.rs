//! Response headers every answer carries, whatever produced it: pages, error
//! pages, redirects, static files, the JSON API and the fallback.
//!
//! The CSP allows scripts and styles from our own origin only, which is why pages
//! hold no inline script or style: everything lives under `/static`. HSTS is sent
//! only when this server itself speaks HTTPS and was told the certificate is one
//! browsers trust (see `PortalOptions::hsts`); plain HTTP never gets it.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Powerful browser features: camera and microphone stay possible for our own
/// pages (video appointments are planned), everything else a health portal has
/// no use for is off, for us and for anything we might embed.
const PERMISSIONS: &str = "camera=(self), microphone=(self), geolocation=(), payment=(), usb=(), \
                           serial=(), bluetooth=()";

/// One year, the common minimum for browsers' preload lists; no
/// `includeSubDomains`, since other hosts under a home domain are not ours.
const HSTS: &str = "max-age=31536000";

/// Which optional headers apply, fixed when the router is built.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Policy {
    /// Send `Strict-Transport-Security`.
    pub hsts: bool,
}

/// Adds the security headers to every response of `router`.
pub(crate) fn layer<S>(router: Router<S>, policy: Policy) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    router.layer(axum::middleware::map_response_with_state(policy, headers))
}

/// Adds the security headers, and keeps pages and API answers out of shared caches.
async fn headers(State(policy): State<Policy>, mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS),
    );
    // No other site's window keeps a handle on ours (no popup sign-in flows exist).
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    // Other sites cannot pull our images or JSON into their pages.
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if policy.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
