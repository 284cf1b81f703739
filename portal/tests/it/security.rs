//! Security headers on every kind of answer, HSTS only over this server's own
//! TLS, and `Secure` cookies when this server speaks TLS.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::get;
use cohealth_portal::PortalOptions;

use crate::common::TestPortal;

fn assert_security_headers(h: &HeaderMap, what: &str) {
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{what}");
    assert_eq!(h[header::REFERRER_POLICY], "same-origin", "{what}");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{what}");
    let permissions = h["permissions-policy"].to_str().unwrap();
    for part in ["camera=(self)", "microphone=(self)", "geolocation=()"] {
        assert!(permissions.contains(part), "{what}: {permissions}");
    }
    assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{what}");
}

async fn answers(portal: &TestPortal) -> Vec<(String, StatusCode, HeaderMap)> {
    let mut out = Vec::new();
    for uri in [
        "/nowhere",
        "/dashboard",
        "/static/app.css",
        "/static/nope.js",
        "/api/v1/devices",
        "/api/v1/nowhere",
        "/logout",
        "/login",
    ] {
        let response = portal.get(uri, None).await;
        out.push((
            uri.to_owned(),
            response.status(),
            response.headers().clone(),
        ));
    }
    out
}

#[tokio::test]
async fn errors_redirects_static_files_and_api_answers_carry_the_headers() {
    let portal = TestPortal::new().await;
    let answers = answers(&portal).await;
    let statuses: Vec<u16> = answers.iter().map(|(_, s, _)| s.as_u16()).collect();
    // A 404 page, a redirect to sign in, a static file and a missing one, API
    // errors (no token, no such route), a wrong method, a page.
    assert_eq!(statuses, [404, 303, 200, 404, 401, 404, 405, 200]);
    for (uri, _, headers) in &answers {
        assert_security_headers(headers, uri);
        assert!(
            !headers.contains_key(header::STRICT_TRANSPORT_SECURITY),
            "{uri}: HSTS over plain HTTP"
        );
    }
}

#[tokio::test]
async fn hsts_only_when_this_server_speaks_tls_and_is_told_to() {
    let tls_hsts = TestPortal::with_options(PortalOptions {
        tls: true,
        hsts: true,
        ..Default::default()
    })
    .await;
    for (uri, _, headers) in answers(&tls_hsts).await {
        assert_security_headers(&headers, &uri);
        assert_eq!(
            headers[header::STRICT_TRANSPORT_SECURITY],
            "max-age=31536000",
            "{uri}"
        );
    }
    for options in [
        PortalOptions {
            tls: false,
            hsts: true,
            ..Default::default()
        },
        PortalOptions {
            tls: true,
            hsts: false,
            ..Default::default()
        },
    ] {
        let portal = TestPortal::with_options(options.clone()).await;
        for (uri, _, headers) in answers(&portal).await {
            assert!(
                !headers.contains_key(header::STRICT_TRANSPORT_SECURITY),
                "{uri} with {options:?}"
            );
        }
    }
}

#[tokio::test]
async fn cookies_are_secure_when_this_server_speaks_tls() {
    let set_cookie = |portal: TestPortal| async move {
        let response = portal.get("/login", None).await;
        response.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let plain = set_cookie(TestPortal::new().await).await;
    assert!(plain.starts_with("cohealth_login_csrf="), "{plain}");
    assert!(!plain.contains("Secure"), "{plain}");
    let tls = TestPortal::with_options(PortalOptions {
        tls: true,
        ..Default::default()
    })
    .await;
    let secure = set_cookie(tls).await;
    assert!(secure.ends_with("; Secure"), "{secure}");
}

#[tokio::test]
async fn routes_merged_beside_the_portal_get_the_headers_too() {
    let options = PortalOptions {
        tls: true,
        hsts: true,
        ..Default::default()
    };
    let other = Router::new().route(
        "/api/v1/ingest/elsewhere",
        get(|| async { (StatusCode::UNAUTHORIZED, "no") }),
    );
    let app = cohealth_portal::with_security_headers(other, &options);
    let response = tower::ServiceExt::oneshot(
        app,
        Request::get("/api/v1/ingest/elsewhere")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_security_headers(response.headers(), "merged route");
    assert_eq!(
        response.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000"
    );
}
