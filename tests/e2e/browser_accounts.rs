//! Accounts in a real headless Chromium, as a new user would meet them:
//! register on a fresh install, finish onboarding, switch on two-factor
//! sign-in from the QR page's key, sign out, sign in with a code, sign in with
//! a recovery code, then see another session in the list and end it.
//! And a household sharing flow: the admin invites a member, shares vitals,
//! the member views them, the admin revokes, the member gets 403.

use std::time::Duration;

use cohealth_portal::auth::totp;
use fantoccini::{Client, Locator};

use crate::browser::Driver;
use crate::harness::{App, http_full};

const PASSWORD: &str = "violet kettle drums orbit";
const OTHER_PASSWORD: &str = "amber lantern quietly sails";

/// Fills a field, trying again while a page is still being replaced (an
/// element found in the old document goes stale under the new one).
async fn fill(c: &Client, css: &str, text: &str) {
    for attempt in 0.. {
        let done = async {
            let field = c.find(Locator::Css(css)).await?;
            field.clear().await?;
            field.send_keys(text).await
        }
        .await;
        match done {
            Ok(()) => return,
            Err(_) if attempt < 50 => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("filling {css}: {e}"),
        }
    }
}

/// Clicks an element, trying again while a page is still being replaced.
async fn click(c: &Client, css: &str) {
    for attempt in 0.. {
        let done = async { c.find(Locator::Css(css)).await?.click().await }.await;
        match done {
            Ok(()) => return,
            Err(_) if attempt < 50 => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("clicking {css}: {e}"),
        }
    }
}

async fn path_of(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_owned()
}

/// Waits until the browser is on `path` (a form post redirects).
async fn wait_path(c: &Client, path: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while path_of(c).await != path {
        assert!(
            std::time::Instant::now() < deadline,
            "expected {path}, at {}: {}",
            path_of(c).await,
            c.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(c: &Client, base: &str, login: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    fill(c, "#login", login).await;
    fill(c, "#password", password).await;
    click(c, "#sign-in").await;
}

fn cookie_in(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("set-cookie").then(|| v.trim())
        })
        .filter_map(|v| v.split(';').next())
        .find(|v| v.starts_with(&format!("{name}=")) && v.len() > name.len() + 1)
        .map(str::to_owned)
}

fn csrf_in(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).expect("a form") + 19;
    page[at..at + 64].to_owned()
}

/// Signs in over plain HTTP with the password and a recovery code: a second
/// device, whose session the browser will end. Returns its cookie.
async fn other_device(app: &App, login: &str, recovery: &str) -> String {
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let (_, head, _) = http_full(app.addr, "GET", "/login", &[], "").await;
    let pre = cookie_in(&head, "cohealth_login_csrf").unwrap();
    let token = pre.split_once('=').unwrap().1.to_owned();
    let body = format!(
        "login={login}&password={}&csrf={token}",
        OTHER_PASSWORD.replace(' ', "+")
    );
    let headers = [form[0], ("Cookie", pre.as_str())];
    let (status, head, _) = http_full(app.addr, "POST", "/login", &headers, &body).await;
    assert_eq!(status, 303, "password step");
    assert!(head.contains("/login/2fa"), "{head}");
    let pending = cookie_in(&head, "cohealth_session").unwrap();
    let (_, _, page) = http_full(app.addr, "GET", "/login/2fa", &[("Cookie", &pending)], "").await;
    let body = format!("code={recovery}&csrf={}", csrf_in(&page));
    let headers = [form[0], ("Cookie", pending.as_str())];
    let (status, head, _) = http_full(app.addr, "POST", "/login/2fa", &headers, &body).await;
    assert_eq!(status, 303, "second factor step");
    let session = cookie_in(&head, "cohealth_session").unwrap();
    assert_ne!(
        session, pending,
        "a new id once the second factor is passed"
    );
    session
}

#[tokio::test]
async fn a_new_user_registers_enrols_two_factor_and_ends_another_session() {
    let driver = Driver::start();
    let app = App::configure_without_mqtt("").spawn_serve();
    let base = format!("http://{}", app.addr);
    let c = driver.browser().await;

    // A fresh install: the first visitor registers and becomes the admin.
    c.goto(&format!("{base}/register")).await.unwrap();
    fill(&c, "#name", "Nora Quist").await;
    fill(&c, "#username", "nora").await;
    fill(&c, "#email", "nora@example.org").await;
    fill(&c, "#password", OTHER_PASSWORD).await;
    fill(&c, "#confirm", OTHER_PASSWORD).await;
    click(&c, "#register").await;
    wait_path(&c, "/onboarding").await;
    click(&c, "#onboard").await;
    wait_path(&c, "/dashboard").await;

    // Two-factor sign-in: the key shown beside the QR code goes into the
    // "authenticator" (this test), whose code switches it on.
    c.goto(&format!("{base}/account/2fa")).await.unwrap();
    click(&c, "#start").await;
    let secret = c
        .wait()
        .for_element(Locator::Css("#totp-secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        c.find(Locator::Css("svg")).await.is_ok(),
        "a QR code drawn on the server"
    );
    let key = totp::base32_decode(&secret).expect("a base32 key");
    let now_s = chrono::Utc::now().timestamp();
    let step = totp::step_at(now_s);
    fill(&c, "#confirm-code", &totp::code_for_step(&key, step)).await;
    click(&c, "#confirm").await;
    c.wait()
        .for_element(Locator::Css("#recovery-codes code"))
        .await
        .expect("the recovery codes page");
    let codes: Vec<String> = {
        let mut out = Vec::new();
        for li in c
            .find_all(Locator::Css("#recovery-codes code"))
            .await
            .unwrap()
        {
            out.push(li.text().await.unwrap());
        }
        out
    };
    assert_eq!(codes.len(), 10, "ten recovery codes, shown once");

    // Sign out, sign in again: the password alone is not enough.
    click(&c, "#sign-out").await;
    wait_path(&c, "/login").await;
    sign_in(&c, &base, "nora", OTHER_PASSWORD).await;
    wait_path(&c, "/login/2fa").await;
    c.goto(&format!("{base}/dashboard")).await.unwrap();
    assert_eq!(
        path_of(&c).await,
        "/login",
        "half signed-in is not signed in"
    );
    sign_in(&c, &base, "nora", OTHER_PASSWORD).await;
    wait_path(&c, "/login/2fa").await;
    // The enrolment's code is spent; the next step's is good.
    fill(&c, "#code", &totp::code_for_step(&key, step + 1)).await;
    click(&c, "#verify").await;
    wait_path(&c, "/dashboard").await;

    // And with a recovery code instead of the app.
    click(&c, "#sign-out").await;
    wait_path(&c, "/login").await;
    sign_in(&c, &base, "nora@example.org", OTHER_PASSWORD).await;
    wait_path(&c, "/login/2fa").await;
    fill(&c, "#code", &codes[0]).await;
    click(&c, "#verify").await;
    wait_path(&c, "/dashboard").await;
    // Spent: the same recovery code does not work twice.
    let reuse = other_device_attempt(&app, "nora", &codes[0]).await;
    assert_eq!(reuse, 401, "a recovery code is single-use");

    // Another device signs in; the browser sees it in the list and ends it.
    let other = other_device(&app, "nora", &codes[1]).await;
    let (status, _, _) = http_full(app.addr, "GET", "/account", &[("Cookie", &other)], "").await;
    assert_eq!(status, 200, "the other device is signed in");
    c.goto(&format!("{base}/account/sessions")).await.unwrap();
    let rows = c
        .find_all(Locator::Css("#sessions tbody tr"))
        .await
        .unwrap();
    // This browser, the other device, and the refused attempt with the spent
    // recovery code, listed as still waiting for its second factor.
    assert_eq!(rows.len(), 3, "{}", c.source().await.unwrap());
    let mut ended = false;
    for row in rows {
        let current = row.attr("class").await.unwrap().as_deref() == Some("current");
        let waiting = row
            .text()
            .await
            .unwrap()
            .contains("waiting for the second factor");
        if current || waiting {
            continue;
        }
        row.find(Locator::Css("button.end-session"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        ended = true;
        break;
    }
    assert!(ended, "a session other than this one was listed");
    // The form posts and the list comes back without the other device's row.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let rows = c.find_all(Locator::Css("#sessions tbody tr")).await;
        if rows.is_ok_and(|r| r.len() == 2) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the other device's session is still listed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, head, _) = http_full(app.addr, "GET", "/account", &[("Cookie", &other)], "").await;
    assert_eq!(status, 303, "the other device is signed out: {head}");
    c.close().await.unwrap();
}

/// A second-factor attempt over HTTP; returns the status of the code step.
async fn other_device_attempt(app: &App, login: &str, code: &str) -> u16 {
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let (_, head, _) = http_full(app.addr, "GET", "/login", &[], "").await;
    let pre = cookie_in(&head, "cohealth_login_csrf").unwrap();
    let token = pre.split_once('=').unwrap().1.to_owned();
    let body = format!(
        "login={login}&password={}&csrf={token}",
        OTHER_PASSWORD.replace(' ', "+")
    );
    let (_, head, _) =
        http_full(app.addr, "POST", "/login", &[form, ("Cookie", &pre)], &body).await;
    let pending = cookie_in(&head, "cohealth_session").unwrap();
    let (_, _, page) = http_full(app.addr, "GET", "/login/2fa", &[("Cookie", &pending)], "").await;
    let body = format!("code={code}&csrf={}", csrf_in(&page));
    http_full(
        app.addr,
        "POST",
        "/login/2fa",
        &[form, ("Cookie", &pending)],
        &body,
    )
    .await
    .0
}

#[tokio::test]
async fn the_admin_invites_shares_vitals_and_revokes() {
    let driver = Driver::start();
    let app = App::configure_without_mqtt("").spawn_serve();
    let base = format!("http://{}", app.addr);
    let c = driver.browser().await;

    // The admin registers, then makes an invitation link for a caregiver.
    c.goto(&format!("{base}/register")).await.unwrap();
    fill(&c, "#name", "Ada Admin").await;
    fill(&c, "#username", "ada").await;
    fill(&c, "#email", "ada@example.org").await;
    fill(&c, "#password", PASSWORD).await;
    fill(&c, "#confirm", PASSWORD).await;
    click(&c, "#register").await;
    wait_path(&c, "/onboarding").await;
    click(&c, "#onboard").await;
    wait_path(&c, "/dashboard").await;
    c.goto(&format!("{base}/admin/household")).await.unwrap();
    c.find(Locator::Css("#role option[value=caregiver]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&c, "#make-invite").await;
    let link = c
        .wait()
        .for_element(Locator::Css("#invite-link"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(link.contains("/register?invite="), "{link}");
    click(&c, "#sign-out").await;
    wait_path(&c, "/login").await;

    // The caregiver follows the link and registers.
    c.goto(&link).await.unwrap();
    assert!(c.source().await.unwrap().contains("caregiver"));
    fill(&c, "#name", "Cora Carer").await;
    fill(&c, "#username", "cora").await;
    fill(&c, "#email", "cora@example.org").await;
    fill(&c, "#password", OTHER_PASSWORD).await;
    fill(&c, "#confirm", OTHER_PASSWORD).await;
    click(&c, "#register").await;
    wait_path(&c, "/onboarding").await;
    click(&c, "#onboard").await;
    wait_path(&c, "/dashboard").await;
    c.goto(&format!("{base}/sharing")).await.unwrap();
    assert!(
        c.source()
            .await
            .unwrap()
            .contains("Nobody shares data with you")
    );
    click(&c, "#sign-out").await;
    wait_path(&c, "/login").await;

    // The admin shares vitals with the caregiver.
    sign_in(&c, &base, "ada", PASSWORD).await;
    wait_path(&c, "/dashboard").await;
    c.goto(&format!("{base}/sharing")).await.unwrap();
    click(&c, "#share-vitals").await;
    click(&c, "#share").await;
    c.wait()
        .for_element(Locator::Css("button.revoke"))
        .await
        .expect("the grant is listed");
    assert!(c.source().await.unwrap().contains("Cora Carer"));
    click(&c, "#sign-out").await;
    wait_path(&c, "/login").await;

    // The caregiver views the admin's vitals, and only those.
    sign_in(&c, &base, "cora", OTHER_PASSWORD).await;
    wait_path(&c, "/dashboard").await;
    c.goto(&format!("{base}/sharing")).await.unwrap();
    click(&c, "a.view-shared").await;
    wait_path(&c, "/dashboard").await;
    let shared_url = c.current_url().await.unwrap().to_string();
    assert!(shared_url.contains("person="), "{shared_url}");
    let page = c.source().await.unwrap();
    assert!(page.contains("Ada Admin"), "whose data is on view");
    assert!(page.contains(r#"data-metric="heart_rate""#));
    assert!(
        !page.contains(r#"data-metric="steps""#),
        "activity was not shared"
    );
    click(&c, "#sign-out").await;
    wait_path(&c, "/login").await;

    // The admin revokes, and sees the caregiver's look in the audit log.
    sign_in(&c, &base, "ada", PASSWORD).await;
    wait_path(&c, "/dashboard").await;
    c.goto(&format!("{base}/sharing")).await.unwrap();
    assert!(
        c.find(Locator::Css("#audit"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("Cora Carer")
    );
    click(&c, "button.revoke").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while c.find(Locator::Css("button.revoke")).await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the grant was not revoked"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    click(&c, "#sign-out").await;
    wait_path(&c, "/login").await;

    // The caregiver's view is now refused.
    sign_in(&c, &base, "cora", OTHER_PASSWORD).await;
    wait_path(&c, "/dashboard").await;
    c.goto(&shared_url).await.unwrap();
    let page = c.source().await.unwrap();
    assert!(page.contains("403"), "refused after revoking: {page}");
    c.close().await.unwrap();
}
