//! The JSON API through the router.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cohealth_portal::auth::jwt::{self, Claims};
use serde_json::Value;

use crate::common::{NOW, PASSWORD, TestPortal, add_user, text};

async fn token(portal: &TestPortal, login: &str) -> String {
    let body = serde_json::json!({ "login": login, "password": PASSWORD }).to_string();
    let request = Request::post("/api/v1/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = portal.send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json: Value = serde_json::from_str(&text(response).await).unwrap();
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["expires_in"], 900);
    json["access_token"].as_str().unwrap().to_owned()
}

async fn call(portal: &TestPortal, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut r = Request::get(uri);
    if let Some(t) = token {
        r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let response = portal.send(r.body(Body::empty()).unwrap()).await;
    let status = response.status();
    (status, serde_json::from_str(&text(response).await).unwrap())
}

const DAY_QUERY: &str = "from=2026-11-03T13:30:00Z&to=2026-11-04T13:30:00Z";

#[tokio::test]
async fn anonymous_calls_get_401() {
    let portal = TestPortal::new().await;
    for uri in [
        format!("/api/v1/samples?metric=heart_rate&{DAY_QUERY}"),
        format!("/api/v1/series?metric=heart_rate&{DAY_QUERY}"),
        "/api/v1/devices".into(),
    ] {
        let (status, json) = call(&portal, &uri, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
        assert!(json["error"].as_str().unwrap().contains("bearer"), "{uri}");
        assert_eq!(
            call(&portal, &uri, Some("not.a.token")).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn tokens_need_the_right_password_and_expire() {
    let portal = TestPortal::new().await;
    let body = r#"{"login":"ada","password":"wrong"}"#;
    let request = Request::post("/api/v1/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = portal.send(request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_str::<Value>(&text(response).await).unwrap()["error"],
        "wrong email, user name or password"
    );

    let form = format!(
        "login=ADA%40example.org&password={}",
        PASSWORD.replace(' ', "+")
    );
    let response = portal.post_form("/api/v1/token", None, &form).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "form bodies and any-case emails work too"
    );

    let key = hex::decode(
        portal
            .store
            .portal_secret("jwt_hs256", "unused", 0)
            .await
            .unwrap(),
    )
    .unwrap();
    let old = Claims {
        sub: portal.user.id.to_string(),
        person: portal.user.person_id,
        iat: 0,
        exp: NOW / 1000 - 1,
    };
    let (status, _) = call(&portal, "/api/v1/devices", Some(&jwt::sign(&old, &key))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let forged = jwt::sign(
        &Claims {
            exp: NOW / 1000 + 60,
            ..old
        },
        b"someone else's key",
    );
    assert_eq!(
        call(&portal, "/api/v1/devices", Some(&forged)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn samples_series_and_devices() {
    let portal = TestPortal::new().await;
    portal.seed().await;
    let t = token(&portal, "ada@example.org").await;

    let (status, json) = call(
        &portal,
        &format!("/api/v1/samples?metric=heart_rate&{DAY_QUERY}"),
        Some(&t),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["unit"], "bpm");
    let samples = json["samples"].as_array().unwrap();
    assert_eq!(
        samples.len(),
        22 * 60,
        "a day at 1/min minus the two-hour gap"
    );
    assert_eq!(samples[0]["time"], "2026-11-03T13:30:00.000Z");

    let (_, json) = call(
        &portal,
        &format!("/api/v1/series?metric=heart_rate&bucket=hour&{DAY_QUERY}"),
        Some(&t),
    )
    .await;
    let hours = json["buckets"].as_array().unwrap();
    assert_eq!(hours.len(), 23, "03:30-05:30 empties only the 04:00 hour");
    assert_eq!(hours[0]["count"], 60);
    let h = &hours[0];
    assert!((h["avg"].as_f64().unwrap() - h["sum"].as_f64().unwrap() / 60.0).abs() < 1e-9);

    let week = "from=2026-10-28T00:00:00Z&to=2026-11-05T00:00:00Z";
    let (_, json) = call(
        &portal,
        &format!("/api/v1/series?metric=steps&bucket=day&{week}"),
        Some(&t),
    )
    .await;
    assert_eq!(json["time_zone"], "Europe/Berlin");
    let days = json["buckets"].as_array().unwrap();
    assert_eq!(days.last().unwrap()["day"], "2026-11-04");
    assert_eq!(
        days.last().unwrap()["start"],
        "2026-11-03T23:00:00.000Z",
        "a Berlin day starts at 23:00 UTC in winter"
    );
    insta::assert_json_snapshot!("api_series_steps_days", json);

    let (_, json) = call(&portal, "/api/v1/devices", Some(&t)).await;
    insta::assert_json_snapshot!("api_devices", json);
}

#[tokio::test]
async fn another_persons_data_is_refused() {
    let portal = TestPortal::new().await;
    portal.seed().await;
    let hash = cohealth_portal::auth::password::hash_password(PASSWORD).unwrap();
    let bob = add_user(&portal.store, "bob@example.org", None, "Bob", &hash).await;
    let t = token(&portal, "bob@example.org").await;
    let uri = format!(
        "/api/v1/samples?metric=heart_rate&{DAY_QUERY}&person={}",
        portal.user.person_id
    );
    let (status, _) = call(&portal, &uri, Some(&t)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, json) = call(
        &portal,
        &format!("/api/v1/samples?metric=heart_rate&{DAY_QUERY}"),
        Some(&t),
    )
    .await;
    assert!(
        json["samples"].as_array().unwrap().is_empty(),
        "Bob sees his own (empty) data only"
    );
    let (_, devices) = call(&portal, "/api/v1/devices", Some(&t)).await;
    assert!(
        devices
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["claimed_by_you"] == false)
    );
    assert!(bob.person_id != portal.user.person_id);
}

#[tokio::test]
async fn bad_parameters_are_400() {
    let portal = TestPortal::new().await;
    let t = token(&portal, "ada").await;
    for query in [
        "metric=mood&from=2026-11-03T00:00:00Z&to=2026-11-04T00:00:00Z",
        "metric=steps&from=yesterday&to=2026-11-04T00:00:00Z",
        "metric=steps&from=2026-11-04T00:00:00Z&to=2026-11-03T00:00:00Z",
        "metric=steps&bucket=week&from=2026-11-03T00:00:00Z&to=2026-11-04T00:00:00Z",
    ] {
        let (status, json) = call(&portal, &format!("/api/v1/series?{query}"), Some(&t)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {json}");
    }
    assert_eq!(
        call(&portal, "/api/v1/nothing", Some(&t)).await.0,
        StatusCode::NOT_FOUND
    );
}
