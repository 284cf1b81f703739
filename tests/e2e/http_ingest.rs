//! Health Auto Export's REST mode: the same payloads over HTTP with a device token.

use cohealth_ingest::Metric;

use crate::harness::{App, free_port, http};

const HAE: &str = include_str!("../../ingest/tests/fixtures/hae/messages.jsonl");

#[tokio::test]
async fn posts_need_the_devices_token_and_never_double() {
    let app = App::configure(&format!("mqtt://127.0.0.1:{}", free_port()), "");
    app.user_with_device("ann@example.org", "hae:annas-iphone");
    let token = app
        .cli(&["device", "token", "hae:annas-iphone"], "")
        .trim()
        .to_owned();
    assert!(token.starts_with("cht_"), "{token}");
    let app = app.spawn_serve();
    let path = "/api/v1/ingest/health-auto-export";
    let first_case: serde_json::Value = serde_json::from_str(HAE.lines().next().unwrap()).unwrap();
    let payload = first_case["payload"].to_string();

    let (status, _) = http(app.addr, "POST", path, &[], &payload).await;
    assert_eq!(status, 401);
    let wrong = [("Authorization", "Bearer cht_not-a-token")];
    assert_eq!(http(app.addr, "POST", path, &wrong, &payload).await.0, 401);

    let bearer = format!("Bearer {token}");
    let auth = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, body) = http(app.addr, "POST", path, &auth, &payload).await;
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    let written = reply["samples_written"].as_u64().unwrap();
    assert!(written > 0, "{body}");

    // The app re-exports overlapping windows: the same post again adds nothing.
    let (status, body) = http(app.addr, "POST", path, &auth, &payload).await;
    assert_eq!(status, 200);
    let again: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (
            again["samples_written"].as_u64(),
            again["duplicates"].as_u64()
        ),
        (Some(0), Some(written))
    );

    let (store, ann_person) = app.store_and_person("ann@example.org").await;
    for e in first_case["expect"].as_array().unwrap() {
        let metric = Metric::from_name(e["metric"].as_str().unwrap()).unwrap();
        let rows = store
            .samples(ann_person, metric, 0, i64::MAX, 1000)
            .await
            .unwrap();
        let want = e["value"].as_f64().unwrap();
        assert!(
            rows.iter().any(|r| (r.value - want).abs() < 1e-6),
            "{metric}: {rows:?}"
        );
    }

    assert_eq!(
        http(app.addr, "POST", path, &auth, "{not json").await.0,
        400
    );
    app.cli(&["device", "token", "--revoke", "hae:annas-iphone"], "");
    assert_eq!(http(app.addr, "POST", path, &auth, &payload).await.0, 401);
    assert!(!app.log().contains(&token), "tokens stay out of the log");
}

#[tokio::test]
async fn a_personal_token_with_ingest_write_posts_for_its_owner() {
    let app = App::configure(&format!("mqtt://127.0.0.1:{}", free_port()), "");
    app.cli(
        &["user", "add", "ann@example.org"],
        "a-long-enough-password\n",
    );
    let app = app.spawn_serve();
    let store = app.store().await;
    let ann = store
        .user_by_login("ann@example.org")
        .await
        .unwrap()
        .unwrap();
    let hash = |t: &str| {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(t.as_bytes()))
    };
    let writer = format!("chp_{}", "1".repeat(64));
    let reader = format!("chp_{}", "2".repeat(64));
    store
        .create_personal_token(ann.id, "Phone", &hash(&writer), "ingest:write", 0, None)
        .await
        .unwrap();
    store
        .create_personal_token(ann.id, "Reader", &hash(&reader), "samples:read", 0, None)
        .await
        .unwrap();
    let path = "/api/v1/ingest/health-auto-export";
    let first_case: serde_json::Value = serde_json::from_str(HAE.lines().next().unwrap()).unwrap();
    let payload = first_case["payload"].to_string();
    let post = |token: String| {
        let payload = payload.clone();
        async move {
            let bearer = format!("Bearer {token}");
            let auth = [("Authorization", bearer.as_str())];
            http(app.addr, "POST", path, &auth, &payload).await
        }
    };
    assert_eq!(post(reader.clone()).await.0, 403, "wrong scope");
    assert_eq!(post(format!("chp_{}", "3".repeat(64))).await.0, 401);
    let (status, body) = post(writer.clone()).await;
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(reply["waiting_for_claim"].as_u64(), Some(0), "{body}");
    assert!(reply["samples_written"].as_u64().unwrap() > 0);
    let e = &first_case["expect"][0];
    let metric = Metric::from_name(e["metric"].as_str().unwrap()).unwrap();
    let rows = store
        .samples(ann.person_id, metric, 0, i64::MAX, 1000)
        .await
        .unwrap();
    assert!(!rows.is_empty(), "the samples are Ann's");
    // Revoked: refused.
    let id = store
        .personal_tokens(ann.id)
        .await
        .unwrap()
        .iter()
        .find(|t| t.name == "Phone")
        .unwrap()
        .id;
    store.revoke_personal_token(ann.id, id, 1).await.unwrap();
    assert_eq!(post(writer).await.0, 401);
}
