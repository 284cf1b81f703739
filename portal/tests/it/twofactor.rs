//! Two-factor sign-in through the router: enrolment, the code prompt after the
//! password, recovery codes, replays, guessing, the API token exchange and the
//! household requirement.

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use cohealth_portal::auth::password::hash_password;
use cohealth_portal::auth::totp::{base32_decode, code_for_step, step_at};
use serde_json::Value;
use std::sync::atomic::Ordering;

use crate::common::{NOW, PASSWORD, TestPortal, add_user, csrf_of, set_cookie, text};

/// The TOTP step the portal's fixed clock is in.
fn now_step() -> i64 {
    step_at(NOW / 1000)
}

fn location(response: &Response<Body>) -> &str {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The strict CSP allows no inline script or style: none of these pages has any.
fn assert_no_inline_code(page: &str) {
    assert!(!page.contains("style="), "inline style");
    assert!(!page.contains("<style"), "style element");
    assert!(!page.contains("<script"), "script element");
    let handler = page.split(" on").skip(1).any(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(!handler, "event handler attribute");
}

fn form_value(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace(' ', "+")
        .replace('@', "%40")
}

/// Posts the password form; returns the response (303 to `/dashboard` or
/// `/login/2fa`, or the form again).
async fn post_password(portal: &TestPortal, login: &str) -> Response<Body> {
    let pre = set_cookie(&portal.get("/login", None).await, "cohealth_login_csrf").unwrap();
    let token = pre.split_once('=').unwrap().1.to_owned();
    let body = format!(
        "login={}&password={}&csrf={token}",
        form_value(login),
        form_value(PASSWORD)
    );
    portal.post_form("/login", Some(&pre), &body).await
}

/// Signs in an account without 2FA; returns the session cookie and CSRF token.
async fn sign_in_plain(portal: &TestPortal, login: &str) -> (String, String) {
    let done = post_password(portal, login).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/dashboard");
    let session = set_cookie(&done, "cohealth_session").unwrap();
    let page = text(portal.get("/account/2fa", Some(&session)).await).await;
    (session, csrf_of(&page))
}

/// Password accepted for an account with 2FA: the mfa-stage cookie and the
/// code form's CSRF token.
async fn reach_code_prompt(portal: &TestPortal, login: &str) -> (String, String) {
    let done = post_password(portal, login).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/login/2fa");
    let mfa = set_cookie(&done, "cohealth_session").unwrap();
    let prompt = portal.get("/login/2fa", Some(&mfa)).await;
    assert_eq!(prompt.status(), StatusCode::OK);
    let page = text(prompt).await;
    assert_no_inline_code(&page);
    (mfa.clone(), csrf_of(&page))
}

async fn post_code(portal: &TestPortal, mfa: &str, csrf: &str, code: &str) -> Response<Body> {
    let body = format!("code={}&csrf={csrf}", form_value(code));
    portal.post_form("/login/2fa", Some(mfa), &body).await
}

/// What enrolment leaves the test with.
struct Enrolled {
    key: Vec<u8>,
    recovery: Vec<String>,
    session: String,
    csrf: String,
}

/// Enrols the signed-in session's account with the code of the current step.
async fn enrol(portal: &TestPortal, session: &str, csrf: &str) -> Enrolled {
    let started = portal
        .post_form("/account/2fa/start", Some(session), &format!("csrf={csrf}"))
        .await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let page = text(portal.get("/account/2fa", Some(session)).await).await;
    assert!(page.contains("<svg"), "a QR code is drawn");
    assert_no_inline_code(&page);
    let start = page.find(r#"id="totp-secret">"#).unwrap() + 17;
    let end = start + page[start..].find("</code>").unwrap();
    let key = base32_decode(&page[start..end]).unwrap();
    assert_eq!(key.len(), 20);

    let wrong = portal
        .post_form(
            "/account/2fa/confirm",
            Some(session),
            &format!("code=000000&csrf={csrf}"),
        )
        .await;
    // (A fixed 000000 could match by chance one time in a million.)
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let code = code_for_step(&key, now_step());
    let done = portal
        .post_form(
            "/account/2fa/confirm",
            Some(session),
            &format!("code={code}&csrf={csrf}"),
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let page = text(done).await;
    assert_no_inline_code(&page);
    let list = &page[page.find(r#"id="recovery-codes""#).unwrap()..];
    let recovery: Vec<String> = list
        .split("<li><code>")
        .skip(1)
        .map(|s| s[..s.find("</code>").unwrap()].to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert!(page.contains(r#"<strong id="codes-left">10</strong>"#));
    Enrolled {
        key,
        recovery,
        session: session.to_owned(),
        csrf: csrf.to_owned(),
    }
}

async fn sign_out(portal: &TestPortal, session: &str, csrf: &str) {
    let out = portal
        .post_form("/logout", Some(session), &format!("csrf={csrf}"))
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn enrol_then_sign_in_needs_the_code_and_rotates_the_session() {
    let portal = TestPortal::new().await;
    let (session, csrf) = sign_in_plain(&portal, "ada@example.org").await;
    let e = enrol(&portal, &session, &csrf).await;
    sign_out(&portal, &e.session, &e.csrf).await;

    let (mfa, csrf) = reach_code_prompt(&portal, "ada@example.org").await;
    // The mfa stage is no session to any other page.
    for page in ["/dashboard", "/devices", "/account/2fa"] {
        let r = portal.get(page, Some(&mfa)).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(location(&r), "/login", "{page}");
    }
    // The code form has its own CSRF token.
    let forged = post_code(&portal, &mfa, "x", &code_for_step(&e.key, now_step() + 1)).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let wrong = post_code(&portal, &mfa, &csrf, "123 456").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(text(wrong).await.contains("wrong or was used already"));
    // The code that enrolled was used in this step already: a replay.
    let replay = post_code(&portal, &mfa, &csrf, &code_for_step(&e.key, now_step())).await;
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);

    let right = post_code(&portal, &mfa, &csrf, &code_for_step(&e.key, now_step() + 1)).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&right), "/dashboard");
    let full = set_cookie(&right, "cohealth_session").unwrap();
    assert_ne!(full, mfa, "a new session id after the second factor");
    assert_eq!(
        portal.get("/dashboard", Some(&full)).await.status(),
        StatusCode::OK
    );
    // The mfa-stage id is gone.
    let old = portal.get("/login/2fa", Some(&mfa)).await;
    assert_eq!(location(&old), "/login");
    assert_eq!(
        portal.get("/dashboard", Some(&mfa)).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_code_replayed_in_its_step_is_refused() {
    let portal = TestPortal::new().await;
    let (session, csrf) = sign_in_plain(&portal, "ada").await;
    let e = enrol(&portal, &session, &csrf).await;
    let code = code_for_step(&e.key, now_step() + 1);

    let (mfa, csrf) = reach_code_prompt(&portal, "ada").await;
    let first = post_code(&portal, &mfa, &csrf, &code).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);

    let (mfa, csrf) = reach_code_prompt(&portal, "ada").await;
    let again = post_code(&portal, &mfa, &csrf, &code).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    // Nor is an earlier step's code good once a later one was used.
    let earlier = post_code(&portal, &mfa, &csrf, &code_for_step(&e.key, now_step() - 1)).await;
    assert_eq!(earlier.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn recovery_codes_sign_in_once() {
    let portal = TestPortal::new().await;
    let (session, csrf) = sign_in_plain(&portal, "ada").await;
    let e = enrol(&portal, &session, &csrf).await;
    sign_out(&portal, &e.session, &e.csrf).await;

    // Typed in upper case with a space instead of the dash.
    let typed = e.recovery[3].to_uppercase().replace('-', " ");
    let (mfa, csrf) = reach_code_prompt(&portal, "ada").await;
    let used = post_code(&portal, &mfa, &csrf, &typed).await;
    assert_eq!(used.status(), StatusCode::SEE_OTHER);
    let full = set_cookie(&used, "cohealth_session").unwrap();
    let page = text(portal.get("/account/2fa", Some(&full)).await).await;
    assert!(page.contains(r#"<strong id="codes-left">9</strong>"#));

    let (mfa, csrf) = reach_code_prompt(&portal, "ada").await;
    let again = post_code(&portal, &mfa, &csrf, &e.recovery[3]).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    let other = post_code(&portal, &mfa, &csrf, &e.recovery[4]).await;
    assert_eq!(other.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn guessing_codes_meets_429() {
    let portal = TestPortal::new().await;
    let (session, csrf) = sign_in_plain(&portal, "ada").await;
    let e = enrol(&portal, &session, &csrf).await;
    let (mfa, csrf) = reach_code_prompt(&portal, "ada").await;
    let right = code_for_step(&e.key, now_step() + 1);
    let guesses = (0..1_000_000u32)
        .map(|n| format!("{n:06}"))
        .filter(|g| *g != right && *g != code_for_step(&e.key, now_step() - 1));
    let mut locked = None;
    for (i, guess) in guesses.take(20).enumerate() {
        let r = post_code(&portal, &mfa, &csrf, &guess).await;
        match r.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(r.headers().contains_key(header::RETRY_AFTER));
                locked = Some(i);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    let locked = locked.expect("guessing was never stopped");
    assert!(locked <= 6, "locked after {locked} guesses");
    // Locked means locked: even the right code waits.
    let r = post_code(&portal, &mfa, &csrf, &right).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // And the API is the same account's counter, and says how long to wait.
    let request = Request::post("/api/v1/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({ "login": "ada", "password": PASSWORD, "totp": right }).to_string(),
        ))
        .unwrap();
    let r = portal.send(request).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key(header::RETRY_AFTER));
    let json: Value = serde_json::from_str(&text(r).await).unwrap();
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("too many attempts")
    );
}

#[tokio::test]
async fn the_mfa_stage_expires_after_five_minutes() {
    let (portal, clock) = TestPortal::with_clock().await;
    let (session, csrf) = sign_in_plain(&portal, "ada").await;
    let e = enrol(&portal, &session, &csrf).await;
    let (mfa, csrf) = reach_code_prompt(&portal, "ada").await;

    clock.store(NOW + 6 * 60_000, Ordering::Relaxed);
    let code = code_for_step(&e.key, step_at((NOW + 6 * 60_000) / 1000));
    let r = post_code(&portal, &mfa, &csrf, &code).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login");
    assert_eq!(set_cookie(&r, "cohealth_session"), None);
    assert_eq!(
        location(&portal.get("/login/2fa", Some(&mfa)).await),
        "/login"
    );

    // A fresh password step works, with the code of the new time.
    let (mfa, csrf) = reach_code_prompt(&portal, "ada").await;
    let r = post_code(&portal, &mfa, &csrf, &code).await;
    assert_eq!(location(&r), "/dashboard");
}

async fn token_request(portal: &TestPortal, totp: Option<&str>) -> (StatusCode, Value) {
    let mut body = serde_json::json!({ "login": "ada", "password": PASSWORD });
    if let Some(code) = totp {
        body["totp"] = code.into();
    }
    let request = Request::post("/api/v1/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = portal.send(request).await;
    let status = response.status();
    (status, serde_json::from_str(&text(response).await).unwrap())
}

#[tokio::test]
async fn api_tokens_need_the_code_once_enrolled() {
    let portal = TestPortal::new().await;
    let (status, _) = token_request(&portal, None).await;
    assert_eq!(status, StatusCode::OK, "no 2FA, no code needed");

    let (session, csrf) = sign_in_plain(&portal, "ada").await;
    let e = enrol(&portal, &session, &csrf).await;
    let (status, json) = token_request(&portal, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(json["error"].as_str().unwrap().contains("totp"), "{json}");
    let (status, json) = token_request(&portal, Some("")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
    let (status, json) = token_request(&portal, Some("999999x")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(json["error"].as_str().unwrap().contains("code"), "{json}");

    let code = code_for_step(&e.key, now_step() + 1);
    let (status, json) = token_request(&portal, Some(&code)).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert!(json["access_token"].as_str().is_some());
    // Used once; a recovery code works instead.
    assert_eq!(
        token_request(&portal, Some(&code)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        token_request(&portal, Some(&e.recovery[0])).await.0,
        StatusCode::OK
    );
    assert_eq!(
        token_request(&portal, Some(&e.recovery[0])).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn switching_off_needs_password_and_code() {
    let portal = TestPortal::new().await;
    let (session, csrf) = sign_in_plain(&portal, "ada").await;
    let e = enrol(&portal, &session, &csrf).await;
    let next = code_for_step(&e.key, now_step() + 1);
    let disable = |password: &str, code: &str| {
        format!(
            "password={}&code={}&csrf={}",
            form_value(password),
            form_value(code),
            e.csrf
        )
    };

    let forged = portal
        .post_form(
            "/account/2fa/disable",
            Some(&e.session),
            &format!("password={}&code={next}&csrf=x", form_value(PASSWORD)),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let r = portal
        .post_form(
            "/account/2fa/disable",
            Some(&e.session),
            &disable("not the password", &next),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = portal
        .post_form(
            "/account/2fa/disable",
            Some(&e.session),
            &disable(PASSWORD, "000001"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(text(r).await.contains("still on"));

    // New recovery codes need a code too.
    let r = portal
        .post_form(
            "/account/2fa/recovery",
            Some(&e.session),
            &format!("code=abcde-fghij&csrf={}", e.csrf),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = portal
        .post_form(
            "/account/2fa/recovery",
            Some(&e.session),
            &format!("code={}&csrf={}", e.recovery[0], e.csrf),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = text(r).await;
    assert!(page.contains(r#"<strong id="codes-left">10</strong>"#));
    assert!(!page.contains(&e.recovery[1]), "old codes are replaced");

    let r = portal
        .post_form(
            "/account/2fa/disable",
            Some(&e.session),
            &disable(PASSWORD, &next),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(text(r).await.contains("Two-factor sign-in is off"));
    sign_out(&portal, &e.session, &e.csrf).await;
    let done = post_password(&portal, "ada").await;
    assert_eq!(location(&done), "/dashboard");
}

#[tokio::test]
async fn the_household_can_require_2fa() {
    let portal = TestPortal::new().await;
    let hash = hash_password(PASSWORD).unwrap();
    add_user(&portal.store, "bob@example.org", Some("bob"), "Bob", &hash).await;
    let (bob, bob_csrf) = sign_in_plain(&portal, "bob").await;
    assert_eq!(
        portal.get("/dashboard", Some(&bob)).await.status(),
        StatusCode::OK
    );
    // Members other than admins may not see or change the setting.
    assert_eq!(
        portal.get("/admin/security", Some(&bob)).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = portal
        .post_form(
            "/admin/security",
            Some(&bob),
            &format!("require_2fa=on&csrf={bob_csrf}"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    let bob_page = text(portal.get("/account/2fa", Some(&bob)).await).await;
    assert!(
        !bob_page.contains("/admin/security"),
        "no admin link for members"
    );
    let (ada, ada_csrf) = sign_in_plain(&portal, "ada").await;
    let ada_page = text(portal.get("/account/2fa", Some(&ada)).await).await;
    assert!(ada_page.contains(r#"href="/admin/security""#));
    let page = portal.get("/admin/security", Some(&ada)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = text(page).await;
    assert_no_inline_code(&page);
    assert!(!page.contains("checked"));
    let forged = portal
        .post_form("/admin/security", Some(&ada), "require_2fa=on&csrf=x")
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // An admin without 2FA cannot lock the household into it.
    let r = portal
        .post_form(
            "/admin/security",
            Some(&ada),
            &format!("require_2fa=on&csrf={ada_csrf}"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    enrol(&portal, &ada, &ada_csrf).await;
    let r = portal
        .post_form(
            "/admin/security",
            Some(&ada),
            &format!("require_2fa=on&csrf={ada_csrf}"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        text(portal.get("/admin/security", Some(&ada)).await)
            .await
            .contains("checked")
    );
    assert_eq!(
        portal.get("/dashboard", Some(&ada)).await.status(),
        StatusCode::OK
    );

    // Bob, still without 2FA, is sent to enrol from every page.
    for page in ["/dashboard", "/devices", "/", "/admin/security", "/nowhere"] {
        let r = portal.get(page, Some(&bob)).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{page}");
        assert_eq!(location(&r), "/account/2fa", "{page}");
    }
    let page = portal.get("/account/2fa", Some(&bob)).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        text(page)
            .await
            .contains("Your household requires two-factor sign-in")
    );
    assert_eq!(
        portal.get("/static/app.css", Some(&bob)).await.status(),
        StatusCode::OK
    );
    // Nor does the API hand Bob a token until he enrols.
    let request = Request::post("/api/v1/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            serde_json::json!({ "login": "bob", "password": PASSWORD }).to_string(),
        ))
        .unwrap();
    let r = portal.send(request).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let json: Value = serde_json::from_str(&text(r).await).unwrap();
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .contains("requires two-factor")
    );
    // Once enrolled, Bob may go anywhere again.
    enrol(&portal, &bob, &bob_csrf).await;
    assert_eq!(
        portal.get("/dashboard", Some(&bob)).await.status(),
        StatusCode::OK
    );
    sign_out(&portal, &bob, &bob_csrf).await;
}
