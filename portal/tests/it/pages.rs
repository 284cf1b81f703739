//! Pages through the router: snapshots of every page, sessions, CSRF, headers.

use axum::http::{StatusCode, header};
use futures::StreamExt;

use crate::common::{NOW, TestPortal, set_cookie, stable, text};

#[tokio::test]
async fn the_sign_in_page() {
    let portal = TestPortal::new().await;
    let response = portal.get("/login", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let pre = set_cookie(&response, "cohealth_login_csrf").unwrap();
    let page = text(response).await;
    assert!(
        page.contains(pre.split_once('=').unwrap().1),
        "the form carries the cookie's token"
    );
    insta::assert_snapshot!("login", stable(&page));
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again() {
    let portal = TestPortal::new().await;
    let pre = set_cookie(&portal.get("/login", None).await, "cohealth_login_csrf").unwrap();
    let token = pre.split_once('=').unwrap().1;
    let response = portal
        .post_form(
            "/login",
            Some(&pre),
            &format!("login=ada&password=nope&csrf={token}"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&response, "cohealth_session").is_none());
    insta::assert_snapshot!("login_refused", stable(&text(response).await));
}

#[tokio::test]
async fn sign_in_without_the_form_token_is_refused() {
    let portal = TestPortal::new().await;
    let response = portal
        .post_form(
            "/login",
            None,
            "login=ada&password=correct+horse+battery+staple",
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    insta::assert_snapshot!("csrf_refused", stable(&text(response).await));
}

#[tokio::test]
async fn pages_need_a_session() {
    let portal = TestPortal::new().await;
    for uri in ["/", "/dashboard", "/devices", "/live"] {
        let response = portal.get(uri, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(response.headers()[header::LOCATION], "/login", "{uri}");
    }
    let forged = portal
        .get("/dashboard", Some("cohealth_session=deadbeef"))
        .await;
    assert_eq!(forged.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_session_cookie_is_locked_down() {
    let portal = TestPortal::new().await;
    let pre = set_cookie(&portal.get("/login", None).await, "cohealth_login_csrf").unwrap();
    let token = pre.split_once('=').unwrap().1.to_owned();
    let request = axum::http::Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, &pre)
        .header("x-forwarded-proto", "https")
        .body(axum::body::Body::from(format!(
            "login=ada&password=correct+horse+battery+staple&csrf={token}"
        )))
        .unwrap();
    let response = portal.send(request).await;
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .find(|v| v.to_str().unwrap().starts_with("cohealth_session="))
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for part in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
}

#[tokio::test]
async fn the_dashboard_in_every_range() {
    let portal = TestPortal::new().await;
    portal.seed().await;
    let (session, _) = portal.sign_in().await;
    for range in ["day", "week", "month", "year"] {
        let response = portal
            .get(&format!("/dashboard?range={range}"), Some(&session))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{range}");
        let page = text(response).await;
        assert!(page.contains("<svg class=\"chart"), "{range}");
        insta::assert_snapshot!(format!("dashboard_{range}"), stable(&page));
    }
    let bad = portal.get("/dashboard?range=decade", Some(&session)).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_empty_dashboard_says_so() {
    let portal = TestPortal::new().await;
    let (session, _) = portal.sign_in().await;
    let page = text(portal.get("/dashboard", Some(&session)).await).await;
    assert!(page.contains("No data in this range"));
    insta::assert_snapshot!("dashboard_empty", stable(&page));
}

#[tokio::test]
async fn the_day_chart_has_a_gap_and_berlin_hours() {
    let portal = TestPortal::new().await;
    portal.seed().await;
    let (session, _) = portal.sign_in().await;
    let page = text(portal.get("/dashboard?range=day", Some(&session)).await).await;
    let hr = &page[page.find(r#"data-metric="heart_rate""#).unwrap()..];
    let hr = &hr[..hr.find("</svg>").unwrap()];
    assert_eq!(
        hr.matches(r#"class="mean""#).count(),
        2,
        "the two missing hours split the line"
    );
    assert!(hr.contains(">bpm<"));
    assert!(
        hr.contains(">15:00<"),
        "14:30 UTC+1 is the right edge; 15:00 is the last whole 3-hour tick"
    );
}

#[tokio::test]
async fn the_devices_page_claims_and_releases() {
    let portal = TestPortal::new().await;
    portal.seed().await;
    let (session, csrf) = portal.sign_in().await;
    let page = text(portal.get("/devices", Some(&session)).await).await;
    insta::assert_snapshot!("devices", stable(&page));

    let form = format!("device=11-22-33-44-55-66&csrf={csrf}");
    let claimed = portal
        .post_form("/devices/claim", Some(&session), &form)
        .await;
    assert_eq!(claimed.status(), StatusCode::SEE_OTHER);
    let devices = portal.store.list_devices().await.unwrap();
    let band = devices
        .iter()
        .find(|d| d.id == "11:22:33:44:55:66")
        .unwrap();
    assert_eq!(band.person_id, Some(portal.user.person_id));
    assert_eq!(band.pending, 0, "its waiting samples moved to Ada");

    let forged = portal
        .post_form(
            "/devices/unclaim",
            Some(&session),
            "device=11:22:33:44:55:66&csrf=x",
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let released = portal
        .post_form(
            "/devices/unclaim",
            Some(&session),
            &format!("device=11:22:33:44:55:66&csrf={csrf}"),
        )
        .await;
    assert_eq!(released.status(), StatusCode::SEE_OTHER);
    let again = portal
        .post_form(
            "/devices/unclaim",
            Some(&session),
            &format!("device=11:22:33:44:55:66&csrf={csrf}"),
        )
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let portal = TestPortal::new().await;
    let (session, csrf) = portal.sign_in().await;
    let refused = portal
        .post_form("/logout", Some(&session), "csrf=wrong")
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let out = portal
        .post_form("/logout", Some(&session), &format!("csrf={csrf}"))
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        set_cookie(&out, "cohealth_session").as_deref(),
        Some("cohealth_session=")
    );
    assert_eq!(
        portal.get("/dashboard", Some(&session)).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn unknown_pages_are_404_pages() {
    let portal = TestPortal::new().await;
    let response = portal.get("/nowhere", None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    insta::assert_snapshot!("not_found", stable(&text(response).await));
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let portal = TestPortal::new().await;
    for uri in ["/login", "/nowhere", "/healthz", "/static/app.css"] {
        let response = portal.get(uri, None).await;
        let h = response.headers();
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("default-src 'self'; script-src 'self'; style-src 'self'"),
            "{uri}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{uri}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{uri}");
        assert!(h.contains_key(header::REFERRER_POLICY), "{uri}");
    }
}

#[tokio::test]
async fn pages_have_no_inline_script_or_style() {
    let portal = TestPortal::new().await;
    portal.seed().await;
    let (session, _) = portal.sign_in().await;
    for uri in ["/login", "/dashboard?range=week", "/devices"] {
        let page = text(portal.get(uri, Some(&session)).await).await;
        assert!(
            !page.contains("<script>") && !page.contains("style=") && !page.contains("<style"),
            "{uri}"
        );
        assert!(
            !page.contains("http://")
                || page.matches("http://").count() == page.matches("http://www.w3.org").count(),
            "{uri}: no CDN"
        );
    }
}

#[tokio::test]
async fn static_assets_are_cached_and_revalidated() {
    let portal = TestPortal::new().await;
    let response = portal.get("/static/live.js", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );
    let etag = response.headers()[header::ETAG].clone();
    let request = axum::http::Request::get("/static/live.js")
        .header(header::IF_NONE_MATCH, etag)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(
        portal.send(request).await.status(),
        StatusCode::NOT_MODIFIED
    );
    assert_eq!(
        portal.get("/static/nope.js", None).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn health_and_metrics_still_answer() {
    let portal = TestPortal::new().await;
    assert_eq!(text(portal.get("/healthz", None).await).await, "ok\n");
    assert_eq!(portal.get("/metrics", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_live_stream_carries_only_the_persons_samples() {
    let portal = TestPortal::new().await;
    let (session, _) = portal.sign_in().await;
    let response = portal.get("/live", Some(&session)).await;
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body().into_data_stream();
    let sample = |person_id, value| cohealth_store::LiveSample {
        person_id,
        metric: cohealth_ingest::Metric::HeartRate,
        ts_ms: NOW,
        value,
    };
    portal
        .live
        .send(sample(portal.user.person_id + 1, 99.0))
        .unwrap();
    portal
        .live
        .send(sample(portal.user.person_id, 71.0))
        .unwrap();
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), body.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let event = String::from_utf8(chunk.to_vec()).unwrap();
    assert!(event.starts_with("event: sample\n"), "{event}");
    assert!(
        event.contains(r#""value":71.0"#) && !event.contains(r#""value":99"#),
        "{event}"
    );
}

#[tokio::test]
async fn a_live_stream_ends_with_its_session() {
    let portal = TestPortal::new().await;
    let (session, csrf) = portal.sign_in().await;
    let response = portal.get("/live", Some(&session)).await;
    let mut body = response.into_body().into_data_stream();
    // Signed out everywhere from another page: the open stream must close
    // rather than keep carrying the person's readings.
    let done = portal
        .post_form(
            "/account/sessions/end-all",
            Some(&session),
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match tokio::time::timeout(left, body.next()).await {
            Ok(None) => break,
            Ok(Some(_keep_alive_or_sample)) => continue,
            Err(_) => panic!("the stream outlived its session"),
        }
    }
}

#[tokio::test]
async fn a_cached_dashboard_is_dropped_when_a_sample_arrives() {
    let portal = TestPortal::new().await;
    let (session, _) = portal.sign_in().await;
    let tile = |page: &str| {
        let at = page.find(r#"data-metric="heart_rate""#).unwrap();
        page[at..]
            .split("class=\"value\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        tile(&text(portal.get("/dashboard", Some(&session)).await).await),
        "–"
    );

    let strap = cohealth_ingest::DeviceId::parse("AA:BB:CC:DD:EE:09").unwrap();
    let hr = cohealth_ingest::Metric::HeartRate;
    let point = [(NOW - 60_000, 88.0)];
    let person = portal.user.person_id;
    portal
        .store
        .bulk_load(person, &strap, cohealth_ingest::SourceKind::Ble, hr, &point)
        .await
        .unwrap();
    assert_eq!(
        tile(&text(portal.get("/dashboard", Some(&session)).await).await),
        "–",
        "served from the cache"
    );

    let sample = cohealth_store::LiveSample {
        person_id: person,
        metric: hr,
        ts_ms: NOW - 60_000,
        value: 88.0,
    };
    portal.live.send(sample).unwrap();
    assert_eq!(
        tile(&text(portal.get("/dashboard", Some(&session)).await).await),
        "88"
    );
}
