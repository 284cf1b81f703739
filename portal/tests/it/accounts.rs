//! Accounts through the router: registration and who may register, CSRF,
//! session fixation, the sign-in limiter, the session list, timeouts, password
//! changes and personal access tokens.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::common::{NOW, PASSWORD, TestPortal, add_user, csrf_of, set_cookie, text};

const STRONG: &str = "violet kettle drums orbit";
const MINUTE: i64 = 60_000;

pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The session-less form token for `path`: (cookie, token).
pub(crate) async fn anon_token(portal: &TestPortal, path: &str) -> (String, String) {
    let page = portal.get(path, None).await;
    let cookie = set_cookie(&page, "cohealth_login_csrf").unwrap();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    (cookie, token)
}

async fn register(
    portal: &TestPortal,
    name: &str,
    username: &str,
    email: &str,
    password: &str,
    invite: &str,
) -> axum::http::Response<Body> {
    let (cookie, token) = anon_token(portal, "/register").await;
    let body = format!(
        "name={}&username={}&email={}&password={}&confirm={}&invite={}&csrf={token}",
        enc(name),
        enc(username),
        enc(email),
        enc(password),
        enc(password),
        enc(invite)
    );
    portal.post_form("/register", Some(&cookie), &body).await
}

pub(crate) async fn sign_in_as(
    portal: &TestPortal,
    login: &str,
    password: &str,
    extra_cookie: Option<&str>,
) -> axum::http::Response<Body> {
    let (pre, token) = anon_token(portal, "/login").await;
    let cookie = match extra_cookie {
        Some(c) => format!("{pre}; {c}"),
        None => pre,
    };
    let body = format!(
        "login={}&password={}&csrf={token}",
        enc(login),
        enc(password)
    );
    portal.post_form("/login", Some(&cookie), &body).await
}

pub(crate) async fn session_of(portal: &TestPortal, login: &str, password: &str) -> String {
    let done = sign_in_as(portal, login, password, None).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    set_cookie(&done, "cohealth_session").unwrap()
}

pub(crate) async fn page_csrf(portal: &TestPortal, path: &str, session: &str) -> (String, String) {
    let response = portal.get(path, Some(session)).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let page = text(response).await;
    (csrf_of(&page), page)
}

#[tokio::test]
async fn first_account_is_admin_then_registration_is_by_invitation() {
    let portal = TestPortal::empty().await;
    let weak = register(
        &portal,
        "Grace",
        "grace",
        "grace@example.org",
        "password1234",
        "",
    )
    .await;
    assert_eq!(weak.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(weak).await.contains("too easy to guess"));

    let first = register(&portal, "Grace", "grace", "grace@example.org", STRONG, "").await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(first.headers()[header::LOCATION], "/onboarding");
    let session = set_cookie(&first, "cohealth_session").unwrap();
    let grace = portal.store.user_by_login("grace").await.unwrap().unwrap();
    assert_eq!(grace.role.as_str(), "admin");

    // Until onboarding is done, the dashboard sends the person there.
    let dash = portal.get("/dashboard", Some(&session)).await;
    assert_eq!(dash.headers()[header::LOCATION], "/onboarding");
    let (csrf, page) = page_csrf(&portal, "/onboarding", &session).await;
    assert!(page.contains("Vienna"));
    let body =
        format!("csrf={csrf}&time_zone=Europe%2FVienna&units=imperial&height_ft=5&height_in=7");
    let done = portal.post_form("/onboarding", Some(&session), &body).await;
    assert_eq!(done.headers()[header::LOCATION], "/dashboard");
    let profile = portal.store.profile(grace.person_id).await.unwrap();
    assert_eq!(profile.time_zone, "Europe/Vienna");
    assert_eq!(profile.units, "imperial");
    assert_eq!(profile.height_cm, Some(170.2));
    assert_eq!(
        portal.get("/dashboard", Some(&session)).await.status(),
        StatusCode::OK
    );

    // A second stranger is turned away.
    let closed = register(&portal, "Mal", "mal", "mal@example.org", STRONG, "").await;
    assert_eq!(closed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(closed).await.contains("by invitation"));
    assert_eq!(
        portal.get("/register", None).await.status(),
        StatusCode::FORBIDDEN
    );

    // The admin invites a caregiver; the link works once.
    let (csrf, _) = page_csrf(&portal, "/admin/household", &session).await;
    let made = portal
        .post_form(
            "/admin/household/invite",
            Some(&session),
            &format!("csrf={csrf}&role=caregiver&email=&days=3"),
        )
        .await;
    assert_eq!(made.status(), StatusCode::OK);
    let page = text(made).await;
    let at = page.find("register?invite=").unwrap() + "register?invite=".len();
    let invite = page[at..at + 64].to_owned();
    let joined = register(&portal, "Kim", "kim", "kim@example.org", STRONG, &invite).await;
    assert_eq!(joined.status(), StatusCode::SEE_OTHER);
    let kim = portal.store.user_by_login("kim").await.unwrap().unwrap();
    assert_eq!(kim.role.as_str(), "caregiver");
    assert_eq!(kim.household_id, grace.household_id);
    let again = register(&portal, "Lou", "lou", "lou@example.org", STRONG, &invite).await;
    assert_eq!(again.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(again).await.contains("used or has expired"));

    // Only the admin reaches the household page.
    let kim_session = session_of(&portal, "kim", STRONG).await;
    assert_eq!(
        portal
            .get("/admin/household", Some(&kim_session))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // Opened by the admin, registration lets anyone in as an adult.
    let (csrf, _) = page_csrf(&portal, "/admin/household", &session).await;
    portal
        .post_form(
            "/admin/household/registration",
            Some(&session),
            &format!("csrf={csrf}&open=1"),
        )
        .await;
    let open = register(&portal, "Mal", "mal", "mal@example.org", STRONG, "").await;
    assert_eq!(open.status(), StatusCode::SEE_OTHER);
    let mal = portal
        .store
        .user_by_login("mal@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mal.role.as_str(), "adult");
    // Taken names are refused without saying which.
    let dup = register(&portal, "M2", "mal", "other@example.org", STRONG, "").await;
    assert_eq!(dup.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn cross_site_form_posts_are_refused() {
    let portal = TestPortal::new().await;
    // No token cookie at all, as a post from another site would arrive.
    for (path, body) in [
        (
            "/login",
            format!("login=ada&password={}&csrf=x", enc(PASSWORD)),
        ),
        (
            "/register",
            format!(
                "name=E&username=eve&email=eve%40example.org&password={STRONG}&confirm={STRONG}&csrf=x"
            ),
        ),
    ] {
        let r = portal.post_form(path, None, &body).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // A signed-in browser tricked into posting without the session's token.
    let (session, _) = portal.sign_in().await;
    for (path, body) in [
        (
            "/account/password",
            format!(
                "current={}&password={STRONG}&confirm={STRONG}",
                enc(PASSWORD)
            ),
        ),
        ("/account/sessions/end-all", String::new()),
        ("/account/tokens", "name=x&samples_read=1".to_owned()),
        ("/account/profile", "name=Eve".to_owned()),
        ("/logout", String::new()),
    ] {
        let r = portal
            .post_form(
                path,
                Some(&session),
                &format!("{body}&csrf={}", "0".repeat(64)),
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // Nothing changed: the session still works and the password is the old one.
    assert_eq!(
        portal.get("/account", Some(&session)).await.status(),
        StatusCode::OK
    );
    let user = portal.store.user_by_login("ada").await.unwrap().unwrap();
    assert_eq!(user.display_name, "Ada");
}

#[tokio::test]
async fn a_planted_session_id_never_becomes_signed_in() {
    let portal = TestPortal::new().await;
    // An attacker signs in and plants their own live session id in a browser,
    // or plants an id they made up.
    let planted = session_of(&portal, "ada", PASSWORD).await;
    let made_up = format!("cohealth_session={}", "ab".repeat(32));
    for plant in [planted.clone(), made_up] {
        let done = sign_in_as(&portal, "ada", PASSWORD, Some(&plant)).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let fresh = set_cookie(&done, "cohealth_session").unwrap();
        assert_ne!(fresh, plant);
        assert_eq!(
            portal.get("/account", Some(&fresh)).await.status(),
            StatusCode::OK
        );
    }
    // The planted live id was ended by the sign-in that came with it.
    let after = portal.get("/account", Some(&planted)).await;
    assert_eq!(after.headers()[header::LOCATION], "/login");
    // The cookie is HttpOnly and SameSite=Lax.
    let done = sign_in_as(&portal, "ada", PASSWORD, None).await;
    let raw = done
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("cohealth_session="))
        .unwrap();
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Lax"),
        "{raw}"
    );
}

#[tokio::test]
async fn brute_force_meets_the_limiter() {
    let (portal, clock) = TestPortal::with_clock().await;
    for _ in 0..5 {
        let r = sign_in_as(&portal, "ada", "wrong password!", None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = sign_in_as(&portal, "ada", "wrong password!", None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Locked now: even the right password waits, with a 429 and a clear page.
    let locked = sign_in_as(&portal, "ADA", PASSWORD, None).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(locked.headers()[header::RETRY_AFTER], "30");
    assert!(text(locked).await.contains("too many attempts"));
    // The API's password exchange shares the lock.
    let api = portal
        .send(
            Request::post("/api/v1/token")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({"login": "ada", "password": PASSWORD}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    // After the wait, the right password works and clears the count.
    clock.fetch_add(31_000, Ordering::Relaxed);
    let ok = sign_in_as(&portal, "ada", PASSWORD, None).await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn sessions_are_listed_and_can_be_ended() {
    let (portal, clock) = TestPortal::with_clock().await;
    let phone = session_of(&portal, "ada", PASSWORD).await;
    let laptop = session_of(&portal, "ada@example.org", PASSWORD).await;
    let (csrf, page) = page_csrf(&portal, "/account/sessions", &laptop).await;
    assert_eq!(page.matches("class=\"end-session\"").count(), 2);
    assert!(page.contains("(this one)"));
    // End the phone's session by its handle.
    let rows = portal.store.sessions_of(portal.user.id).await.unwrap();
    let phone_row = rows
        .iter()
        .find(|r| !page_is_current(&page, &r.id_hash))
        .unwrap();
    let handle: String = phone_row.id_hash.chars().take(16).collect();
    let ended = portal
        .post_form(
            "/account/sessions/end",
            Some(&laptop),
            &format!("csrf={csrf}&session={handle}"),
        )
        .await;
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        portal.get("/account", Some(&phone)).await.headers()[header::LOCATION],
        "/login"
    );
    // Another person's handle is not found, and ends nothing.
    let other = portal
        .post_form(
            "/account/sessions/end",
            Some(&laptop),
            &format!("csrf={csrf}&session={}", "f".repeat(16)),
        )
        .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);

    // Idle for longer than 30 minutes: signed out.
    clock.fetch_add(31 * MINUTE, Ordering::Relaxed);
    assert_eq!(
        portal.get("/account", Some(&laptop)).await.headers()[header::LOCATION],
        "/login"
    );
    // Busy, but past 12 hours in all: signed out too.
    let busy = session_of(&portal, "ada", PASSWORD).await;
    for _ in 0..(12 * 60 / 20 + 1) {
        clock.fetch_add(20 * MINUTE, Ordering::Relaxed);
        let _ = portal.get("/account", Some(&busy)).await;
    }
    assert_eq!(
        portal.get("/account", Some(&busy)).await.headers()[header::LOCATION],
        "/login"
    );

    // Everywhere: every session ends, this one too.
    let a = session_of(&portal, "ada", PASSWORD).await;
    let b = session_of(&portal, "ada", PASSWORD).await;
    let (csrf, _) = page_csrf(&portal, "/account/sessions", &a).await;
    let all = portal
        .post_form(
            "/account/sessions/end-all",
            Some(&a),
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(all.headers()[header::LOCATION], "/login");
    for s in [&a, &b] {
        assert_eq!(
            portal.get("/account", Some(s)).await.headers()[header::LOCATION],
            "/login"
        );
    }
}

/// Whether the session list marks the row with this hash as the current one.
fn page_is_current(page: &str, id_hash: &str) -> bool {
    let handle: String = id_hash.chars().take(16).collect();
    let Some(at) = page.find(&format!("value=\"{handle}\"")) else {
        return false;
    };
    let row_start = page[..at].rfind("<tr").unwrap();
    page[row_start..at].contains("class=\"current\"")
}

#[tokio::test]
async fn a_new_password_ends_other_sessions_and_rotates_this_one() {
    let portal = TestPortal::new().await;
    let other = session_of(&portal, "ada", PASSWORD).await;
    let (session, csrf) = portal.sign_in().await;
    let wrong = portal
        .post_form(
            "/account/password",
            Some(&session),
            &format!("csrf={csrf}&current=nope&password={STRONG}&confirm={STRONG}"),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let done = portal
        .post_form(
            "/account/password",
            Some(&session),
            &format!(
                "csrf={csrf}&current={}&password={}&confirm={}",
                enc(PASSWORD),
                enc(STRONG),
                enc(STRONG)
            ),
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let rotated = set_cookie(&done, "cohealth_session").unwrap();
    assert_ne!(rotated, session);
    for old in [&other, &session] {
        assert_eq!(
            portal.get("/account", Some(old)).await.headers()[header::LOCATION],
            "/login"
        );
    }
    assert_eq!(
        portal.get("/account", Some(&rotated)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        sign_in_as(&portal, "ada", PASSWORD, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in_as(&portal, "ada", STRONG, None).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn profile_is_validated_and_saved() {
    let portal = TestPortal::new().await;
    let (session, csrf) = portal.sign_in().await;
    let base = "name=Ada+L&phone=%2B44+20+7946+0000&sex=female&time_zone=Europe%2FLondon&units=metric&height_cm=168&conditions=Asthma&allergies=Penicillin&blood_type=O-";
    let bad = portal
        .post_form(
            "/account/profile",
            Some(&session),
            &format!("csrf={csrf}&{base}&date_of_birth=1815-12-10"),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(bad).await.contains("date of birth"));
    let ok = portal
        .post_form(
            "/account/profile",
            Some(&session),
            &format!("csrf={csrf}&{base}&date_of_birth=1985-12-10"),
        )
        .await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    let p = portal.store.profile(portal.user.person_id).await.unwrap();
    assert_eq!(p.display_name, "Ada L");
    assert_eq!(p.blood_type.as_deref(), Some("O-"));
    assert_eq!(p.allergies.as_deref(), Some("Penicillin"));
    assert_eq!(p.time_zone, "Europe/London");
    let page = text(portal.get("/account", Some(&session)).await).await;
    assert!(page.contains("Penicillin") && page.contains("Ada L"));
}

/// Makes a token on the token page; returns it as shown once.
async fn make_token(portal: &TestPortal, session: &str, scopes: &str, days: &str) -> String {
    let (csrf, _) = page_csrf(portal, "/account/tokens", session).await;
    let made = portal
        .post_form(
            "/account/tokens",
            Some(session),
            &format!(
                "csrf={csrf}&name=Script&{scopes}&days={days}&current={}",
                enc(PASSWORD)
            ),
        )
        .await;
    assert_eq!(made.status(), StatusCode::OK);
    let page = text(made).await;
    let at = page.find("chp_").unwrap();
    page[at..at + 4 + 64].to_owned()
}

async fn api_status(portal: &TestPortal, token: &str) -> StatusCode {
    let uri = "/api/v1/samples?metric=heart_rate&from=2026-11-03T13:30:00Z&to=2026-11-04T13:30:00Z";
    let r = Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    portal.send(r).await.status()
}

#[tokio::test]
async fn personal_tokens_are_scoped_revocable_and_expire() {
    let (portal, clock) = TestPortal::with_clock().await;
    let session = session_of(&portal, "ada", PASSWORD).await;
    let reader = make_token(&portal, &session, "samples_read=1", "").await;
    let writer = make_token(&portal, &session, "ingest_write=1", "").await;
    let short = make_token(&portal, &session, "samples_read=1", "1").await;
    assert_eq!(api_status(&portal, &reader).await, StatusCode::OK);
    assert_eq!(api_status(&portal, &writer).await, StatusCode::FORBIDDEN);
    assert_eq!(api_status(&portal, &short).await, StatusCode::OK);
    // Only a hash is stored; the list shows last use.
    let rows = portal.store.personal_tokens(portal.user.id).await.unwrap();
    assert_eq!(rows.len(), 3);
    let page = text(portal.get("/account/tokens", Some(&session)).await).await;
    assert!(!page.contains(&reader[4..]), "a token is shown only once");
    let reader_row = rows
        .iter()
        .find(|r| r.scopes == "samples:read" && r.expires_ms.is_none())
        .unwrap();
    assert!(rows.iter().all(|r| r.last_used_ms == Some(NOW)));
    // Revoked: refused.
    let (csrf, _) = page_csrf(&portal, "/account/tokens", &session).await;
    let revoked = portal
        .post_form(
            "/account/tokens/revoke",
            Some(&session),
            &format!("csrf={csrf}&id={}", reader_row.id),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(api_status(&portal, &reader).await, StatusCode::UNAUTHORIZED);
    // Expired after a day: refused.
    clock.fetch_add(86_400_000 + 1, Ordering::Relaxed);
    assert_eq!(api_status(&portal, &short).await, StatusCode::UNAUTHORIZED);
    // Made up or damaged: refused.
    assert_eq!(
        api_status(&portal, &format!("chp_{}", "0".repeat(64))).await,
        StatusCode::UNAUTHORIZED
    );
    // Another person cannot revoke Ada's token.
    let bob = add_user(
        &portal.store,
        "bob@example.org",
        Some("bob"),
        "Bob",
        &cohealth_portal::auth::password::hash_password(PASSWORD).unwrap(),
    )
    .await;
    let _ = bob;
    let bob_session = session_of(&portal, "bob", PASSWORD).await;
    let (csrf, _) = page_csrf(&portal, "/account/tokens", &bob_session).await;
    let writer_row = rows.iter().find(|r| r.scopes == "ingest:write").unwrap();
    let stolen = portal
        .post_form(
            "/account/tokens/revoke",
            Some(&bob_session),
            &format!("csrf={csrf}&id={}", writer_row.id),
        )
        .await;
    assert_eq!(stolen.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn imperial_units_show_pounds() {
    let portal = TestPortal::new().await;
    portal.seed().await;
    let (session, csrf) = portal.sign_in().await;
    let metric = text(portal.get("/dashboard?range=month", Some(&session)).await).await;
    assert!(metric.contains(">kg<"), "weights in kg by default");
    let done = portal
        .post_form(
            "/account/profile",
            Some(&session),
            &format!("csrf={csrf}&units=imperial"),
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let page = text(portal.get("/dashboard?range=month", Some(&session)).await).await;
    assert!(page.contains(">lb<"), "the weight tile in pounds");
    assert!(
        page.contains("data-scale=\"2.20462"),
        "live updates convert too"
    );
    // The latest seeded weight is 72.0 kg: 158.7 lb.
    assert!(page.contains("158.7"), "72.0 kg shown as 158.7 lb");
}

#[tokio::test]
async fn a_new_password_voids_earlier_api_tokens() {
    let (portal, clock) = TestPortal::with_clock().await;
    let body = serde_json::json!({ "login": "ada", "password": PASSWORD }).to_string();
    let r = portal
        .send(
            Request::post("/api/v1/token")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&text(r).await).unwrap();
    let jwt = json["access_token"].as_str().unwrap().to_owned();
    let call = |t: String| {
        Request::get("/api/v1/devices")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(
        portal.send(call(jwt.clone())).await.status(),
        StatusCode::OK
    );
    clock.fetch_add(5_000, Ordering::Relaxed);
    let session = session_of(&portal, "ada", PASSWORD).await;
    let (csrf, _) = page_csrf(&portal, "/account", &session).await;
    let done = portal
        .post_form(
            "/account/password",
            Some(&session),
            &format!(
                "csrf={csrf}&current={}&password={}&confirm={}",
                enc(PASSWORD),
                enc(STRONG),
                enc(STRONG)
            ),
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        portal.send(call(jwt)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}
