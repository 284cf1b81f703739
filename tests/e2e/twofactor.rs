//! Two-factor sign-in against the real binary on the wall clock: enrol, sign
//! in with a recovery code, get an API token with a TOTP code; and the daemon's
//! log at `info` holds neither the TOTP secret nor any recovery code.

use std::time::Duration;

use cohealth_portal::auth::totp::{base32_decode, code_for_step, step_at};

use crate::harness::{App, Broker, eventually, http, http_full};

const PASSWORD: &str = "Two-Factor-Sentinel-3d81 lantern";
const EMAIL: &str = "tf.sentinel.3d81@example.org";

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
    http_full(app.addr, method, path, &headers, body).await
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

fn location_in(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .unwrap_or("")
        .trim()
        .to_owned()
}

fn csrf_in(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a form") + 19;
    page[at..at + 64].to_owned()
}

/// The TOTP step of the wall clock now.
fn step_now() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    step_at(now.as_secs() as i64)
}

#[tokio::test]
async fn two_factor_sign_in_on_the_real_binary_keeps_secrets_out_of_the_log() {
    let broker = Broker::start();
    let app = App::configure(&broker.url(), "").spawn_serve();
    eventually(Duration::from_secs(10), "MQTT connected", || async {
        app.log().contains("connected to MQTT broker")
    })
    .await;

    // The first account.
    let (_, head, _) = call(&app, "GET", "/register", "", "").await;
    let pre = cookie_in(&head, "cohealth_login_csrf").unwrap();
    let token = pre.split_once('=').unwrap().1.to_owned();
    let body = form(&[
        ("name", "Two Factor"),
        ("username", "twofactor"),
        ("email", EMAIL),
        ("password", PASSWORD),
        ("confirm", PASSWORD),
        ("csrf", &token),
    ]);
    let (status, head, _) = call(&app, "POST", "/register", &pre, &body).await;
    assert_eq!(status, 303, "registration");
    let session = cookie_in(&head, "cohealth_session").unwrap();

    // Enrol.
    let (status, _, page) = call(&app, "GET", "/account/2fa", &session, "").await;
    assert_eq!(status, 200);
    let csrf = csrf_in(&page);
    let (status, _, _) = call(
        &app,
        "POST",
        "/account/2fa/start",
        &session,
        &form(&[("csrf", &csrf)]),
    )
    .await;
    assert_eq!(status, 303);
    let (_, _, page) = call(&app, "GET", "/account/2fa", &session, "").await;
    let at = page.find(r#"id="totp-secret">"#).unwrap() + 17;
    let shown = page[at..at + page[at..].find("</code>").unwrap()].to_owned();
    let secret = shown.replace(' ', "");
    let key = base32_decode(&secret).unwrap();
    let enrol_step = step_now();
    let code = code_for_step(&key, enrol_step);
    let body = form(&[("code", &code), ("csrf", &csrf)]);
    let (status, _, page) = call(&app, "POST", "/account/2fa/confirm", &session, &body).await;
    assert_eq!(status, 200, "{page}");
    let list = &page[page.find(r#"id="recovery-codes""#).unwrap()..];
    let recovery: Vec<String> = list
        .split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find("</code>").unwrap()].to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    let body = form(&[("csrf", &csrf)]);
    assert_eq!(call(&app, "POST", "/logout", &session, &body).await.0, 303);

    // The password alone is not enough any more.
    let body = form(&[("login", EMAIL), ("password", PASSWORD), ("csrf", &token)]);
    let (status, head, _) = call(&app, "POST", "/login", &pre, &body).await;
    assert_eq!((status, location_in(&head).as_str()), (303, "/login/2fa"));
    let mfa = cookie_in(&head, "cohealth_session").unwrap();
    assert_eq!(call(&app, "GET", "/dashboard", &mfa, "").await.0, 303);
    let (_, _, page) = call(&app, "GET", "/login/2fa", &mfa, "").await;
    let mfa_csrf = csrf_in(&page);
    let body = form(&[("code", "not-a-code"), ("csrf", &mfa_csrf)]);
    assert_eq!(call(&app, "POST", "/login/2fa", &mfa, &body).await.0, 401);
    let body = form(&[("code", &recovery[0]), ("csrf", &mfa_csrf)]);
    let (status, head, _) = call(&app, "POST", "/login/2fa", &mfa, &body).await;
    assert_eq!((status, location_in(&head).as_str()), (303, "/dashboard"));
    let full = cookie_in(&head, "cohealth_session").unwrap();
    assert_ne!(full, mfa);
    let (status, _, page) = call(&app, "GET", "/account/2fa", &full, "").await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"<strong id="codes-left">9</strong>"#));

    // The API wants a code too; a step after the enrolment's is fresh, and the
    // portal accepts one step either side of its own clock.
    let ct = [("Content-Type", "application/json")];
    let plain = serde_json::json!({ "login": EMAIL, "password": PASSWORD }).to_string();
    assert_eq!(
        http(app.addr, "POST", "/api/v1/token", &ct, &plain).await.0,
        401
    );
    let code = code_for_step(&key, step_now().max(enrol_step + 1));
    let with_code =
        serde_json::json!({ "login": EMAIL, "password": PASSWORD, "totp": code }).to_string();
    let (status, body) = http(app.addr, "POST", "/api/v1/token", &ct, &with_code).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        http(app.addr, "POST", "/api/v1/token", &ct, &with_code)
            .await
            .0,
        401,
        "replay"
    );

    // Lost phone and codes: the admin command switches 2FA off and ends the
    // account's sessions (in the store; the portal's short session cache may
    // serve one for a few more seconds); the password alone signs in again.
    let said = app.cli(&["user", "reset-2fa", "twofactor"], "");
    assert!(said.contains("two-factor sign-in is off"), "{said}");
    let store = app.store().await;
    let user = store.user_by_login(EMAIL).await.unwrap().unwrap();
    assert_eq!(user.totp_enabled_ms, None);
    assert!(store.sessions_of(user.id).await.unwrap().is_empty());
    let body = form(&[("login", EMAIL), ("password", PASSWORD), ("csrf", &token)]);
    let (status, head, _) = call(&app, "POST", "/login", &pre, &body).await;
    assert_eq!((status, location_in(&head).as_str()), (303, "/dashboard"));
    let said = app.cli(&["user", "reset-2fa", "twofactor"], "");
    assert!(said.contains("nothing changed"), "{said}");

    let log = app.log();
    assert!(log.contains("signed in with a second factor"), "{log}");
    assert!(log.contains("recovery code used"), "{log}");
    let mut secrets = vec![
        ("TOTP secret", secret.clone()),
        ("TOTP secret as shown", shown.clone()),
        ("TOTP secret's start", secret[..16].to_owned()),
        ("email", EMAIL.to_owned()),
        ("password", PASSWORD.to_owned()),
    ];
    for code in &recovery {
        secrets.push(("recovery code", code.clone()));
        secrets.push((
            "recovery code, normalised",
            code.replace('-', "").to_uppercase(),
        ));
        secrets.push(("recovery code, as typed", code.replace('-', "")));
    }
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
