//! The daemon's own log, at its default `info`, after a run that handled
//! passwords, emails, tokens of every kind and vital signs, holds none of them.
//!
//! Each secret is a sentinel: a value that appears nowhere else, so finding it
//! anywhere in the log means something logged it.

use std::process::Command;
use std::time::Duration;

use crate::harness::{App, Broker, eventually, http};

const PASSWORD: &str = "Sentinel-Pass-7f3a9c kettle";
const WRONG_PASSWORD: &str = "Wrong-Sentinel-91b2e4 orbit";
const EMAIL: &str = "sentinel.7f3a9c@example.org";
/// Vitals: a heart rate and a weight no other test uses.
const HEART_RATE: &str = "163.37";
const WEIGHT: &str = "83.917";
/// A bad payload whose content must not be echoed in the error.
const BAD_VALUE: &str = "vital-sentinel-5521";

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A request through the portal returning status, response head and body.
async fn call(
    app: &App,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> (u16, String, String) {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if !cookie.is_empty() {
        headers.push(("Cookie", cookie));
    }
    let (status, head, body) =
        crate::harness::http_full(app.addr, method, path, &headers, body).await;
    (status, head, body)
}

fn cookie_in(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .filter_map(|v| v.split(';').next())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn csrf_in(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a form") + 19;
    page[at..at + 64].to_owned()
}

#[tokio::test]
async fn logs_at_info_hold_no_secrets_or_vitals() {
    let broker = Broker::start();
    let app = App::configure(&broker.url(), "");
    let device_token = {
        let app = &app;
        app.cli(&["device", "token", "hae:sentinel-phone"], "")
            .trim()
            .to_owned()
    };
    let app = app.spawn_serve();
    eventually(Duration::from_secs(10), "MQTT connected", || async {
        app.log().contains("connected to MQTT broker")
    })
    .await;

    // Register the first account.
    let (_, head, _) = call(&app, "GET", "/register", "", "").await;
    let pre = cookie_in(&head, "cohealth_login_csrf").unwrap();
    let token = pre.split_once('=').unwrap().1.to_owned();
    let body = form(&[
        ("name", "Sentinel Person"),
        ("username", "sentinel"),
        ("email", EMAIL),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
        ("csrf", &token),
    ]);
    let (status, head, _) = call(&app, "POST", "/register", &pre, &body).await;
    assert_eq!(status, 303, "registration");
    let first_session = cookie_in(&head, "cohealth_session").unwrap();

    // A wrong password, then the right one by email.
    let body = form(&[
        ("login", EMAIL),
        ("password", WRONG_PASSWORD),
        ("csrf", &token),
    ]);
    assert_eq!(call(&app, "POST", "/login", &pre, &body).await.0, 401);
    let body = form(&[("login", EMAIL), ("password", PASSWORD), ("csrf", &token)]);
    let (status, head, _) = call(&app, "POST", "/login", &pre, &body).await;
    assert_eq!(status, 303);
    let session = cookie_in(&head, "cohealth_session").unwrap();

    // A personal access token, used.
    let (_, _, page) = call(&app, "GET", "/account/tokens", &session, "").await;
    let csrf = csrf_in(&page);
    let body = form(&[
        ("csrf", &csrf),
        ("name", "Script"),
        ("samples_read", "1"),
        ("ingest_write", "1"),
        ("current", PASSWORD),
    ]);
    let (status, _, page) = call(&app, "POST", "/account/tokens", &session, &body).await;
    assert_eq!(status, 200);
    let at = page.find("chp_").unwrap();
    let pat = page[at..at + 68].to_owned();
    let samples =
        "/api/v1/samples?metric=heart_rate&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z";
    let bearer = format!("Bearer {pat}");
    let (status, _) = http(app.addr, "GET", samples, &[("Authorization", &bearer)], "").await;
    assert_eq!(status, 200);

    // A JWT from the password exchange, used.
    let json = serde_json::json!({ "login": EMAIL, "password": PASSWORD }).to_string();
    let ct = [("Content-Type", "application/json")];
    let (status, body) = http(app.addr, "POST", "/api/v1/token", &ct, &json).await;
    assert_eq!(status, 200, "{body}");
    let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
    let jwt = reply["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {jwt}");
    assert_eq!(
        http(app.addr, "GET", samples, &[("Authorization", &bearer)], "")
            .await
            .0,
        200
    );
    let bad = format!("Bearer {jwt}x");
    assert_eq!(
        http(app.addr, "GET", samples, &[("Authorization", &bad)], "")
            .await
            .0,
        401
    );

    // Vitals over HTTP (device token) and MQTT, and a bad payload.
    let hae = format!(
        r#"{{"data":{{"metrics":[{{"name":"heart_rate","units":"count/min","data":[{{"date":"2026-11-04 10:00:00 +0000","Avg":{HEART_RATE},"Min":{HEART_RATE},"Max":{HEART_RATE}}}]}},{{"name":"weight_body_mass","units":"kg","data":[{{"date":"2026-11-04 07:00:00 +0000","qty":{WEIGHT}}}]}}]}}}}"#
    );
    let bearer = format!("Bearer {device_token}");
    let auth = [
        ("Authorization", bearer.as_str()),
        ("Content-Type", "application/json"),
    ];
    let (status, body) = http(
        app.addr,
        "POST",
        "/api/v1/ingest/health-auto-export",
        &auth,
        &hae,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let port = broker.port.to_string();
    for message in [
        format!(r#"{{"metric":"heart_rate","value":{HEART_RATE}}}"#),
        format!(r#"{{"metric":"weight","value":{WEIGHT}}}"#),
        format!(r#"{{"metric":"heart_rate","value":"{BAD_VALUE}"}}"#),
        format!(r#"{{"metric":"heart_rate","value":{HEART_RATE},"#),
    ] {
        let sent = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-q", "1"])
            .args(["-t", "cohealth/ingest/sentinel-strap", "-m", &message])
            .status()
            .expect("mosquitto_pub (apt-get install mosquitto-clients)");
        assert!(sent.success());
    }
    let store = app.store().await;
    eventually(
        Duration::from_secs(15),
        "the readings and dead letters",
        || async {
            let dead = store.list_dead_letters(10).await.unwrap().len();
            let pending = store
                .list_devices()
                .await
                .unwrap()
                .iter()
                .any(|d| d.id.contains("sentinel-strap") && d.pending >= 2);
            dead >= 2 && pending
        },
    )
    .await;
    // Sign out, so that path is logged too.
    let (_, _, page) = call(&app, "GET", "/account", &session, "").await;
    let body = form(&[("csrf", &csrf_in(&page))]);
    assert_eq!(call(&app, "POST", "/logout", &session, &body).await.0, 303);

    let log = app.log();
    assert!(
        log.contains("signed in"),
        "the run logged nothing useful: {log}"
    );
    let session_id = |c: &str| c.split_once('=').unwrap().1.to_owned();
    let secrets = [
        ("password", PASSWORD.to_owned()),
        ("wrong password", WRONG_PASSWORD.to_owned()),
        (
            "password, form-encoded",
            "Sentinel-Pass-7f3a9c%20kettle".to_owned(),
        ),
        ("email", EMAIL.to_owned()),
        ("email's local part", "sentinel.7f3a9c".to_owned()),
        ("personal access token", pat[4..].to_owned()),
        ("JWT", jwt.clone()),
        ("JWT signature", jwt.rsplit('.').next().unwrap().to_owned()),
        ("device token", device_token[4..].to_owned()),
        ("session id", session_id(&session)),
        ("first session id", session_id(&first_session)),
        ("form token", token.clone()),
        ("session CSRF token", csrf.clone()),
        ("heart rate", HEART_RATE.to_owned()),
        ("weight", WEIGHT.to_owned()),
        ("bad payload's value", BAD_VALUE.to_owned()),
    ];
    for (what, secret) in &secrets {
        assert!(
            !log.contains(secret.as_str()),
            "the log holds the {what}:\n{}",
            log.lines()
                .filter(|l| l.contains(secret.as_str()))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}
