//! Password reset and address verification through a real SMTP server
//! (aiosmtpd on loopback): the mail arrives, its link works once.

use axum::http::{StatusCode, header};
use cohealth_portal::auth::email_token::{RESET_TTL_MS, create_reset_link};
use cohealth_portal::mail::{MailSettings, Mailer};

use crate::common::{NOW, PASSWORD, PUBLIC_URL, TestPortal, set_cookie, text};
use crate::smtp_sink::{SinkTls, SmtpSink, link_in};

const NEW_PASSWORD: &str = "lantern meadow copper ninety";

fn mailer(url: &str, ca_file: Option<std::path::PathBuf>) -> Mailer {
    Mailer::new(&MailSettings {
        url: url.into(),
        from: "CoHealth <hub@example.org>".into(),
        ca_file,
        ..Default::default()
    })
    .unwrap()
}

/// The pre-session form cookie and token of a page such as `/forgot`.
async fn form_cookie(t: &TestPortal, uri: &str) -> (String, String, String) {
    let page = t.get(uri, None).await;
    let cookie = set_cookie(&page, "cohealth_login_csrf").unwrap();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    (cookie, token, text(page).await)
}

async fn ask_for_reset(t: &TestPortal, login: &str) -> (StatusCode, String) {
    let (cookie, token, _) = form_cookie(t, "/forgot").await;
    let r = t
        .post_form(
            "/forgot",
            Some(&cookie),
            &format!("login={}&csrf={token}", login.replace('@', "%40")),
        )
        .await;
    (r.status(), text(r).await)
}

async fn sign_in_with(t: &TestPortal, password: &str) -> StatusCode {
    let (cookie, token, _) = form_cookie(t, "/login").await;
    let body = format!(
        "login=ada%40example.org&password={}&csrf={token}",
        password.replace(' ', "+")
    );
    t.post_form("/login", Some(&cookie), &body).await.status()
}

/// The path of a link in a mail (`/reset/…`), checking it points at the portal.
fn path_of(link: &str) -> String {
    link.strip_prefix(PUBLIC_URL).unwrap().to_owned()
}

async fn post_reset(
    t: &TestPortal,
    path: &str,
    password: &str,
    again: &str,
) -> (StatusCode, String) {
    let (cookie, token, _) = form_cookie(t, "/forgot").await;
    let body = format!(
        "password={}&again={}&csrf={token}",
        password.replace(' ', "+"),
        again.replace(' ', "+")
    );
    let r = t.post_form(path, Some(&cookie), &body).await;
    let status = r.status();
    let location = r
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, format!("{location}\n{}", text(r).await))
}

#[tokio::test]
async fn reset_by_mail_works_once_and_ends_every_session() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let t = TestPortal::with_mail(mailer(&format!("smtp://127.0.0.1:{}", sink.port), None)).await;
    let (old_session, _) = t.sign_in().await;

    // Known and unknown accounts get the same answer; only the known one a mail.
    let (status, known) = ask_for_reset(&t, "ada@example.org").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        known.contains("If an account with that email or user name exists"),
        "{known}"
    );
    let (_, unknown) = ask_for_reset(&t, "nobody@example.org").await;
    assert_eq!(
        crate::common::stable(&known),
        crate::common::stable(&unknown)
    );
    let mails = sink.wait_for(1).await;
    let mail = &mails[0];
    assert!(mail.contains("To: ada@example.org"), "{mail}");
    assert!(
        mail.contains("Subject: Set a new CoHealth password"),
        "{mail}"
    );
    let link = link_in(mail, &format!("{PUBLIC_URL}/reset/")).unwrap();
    let path = path_of(&link);

    // The form opens; mismatched and weak passwords are explained.
    let form = t.get(&path, None).await;
    assert_eq!(form.status(), StatusCode::OK);
    assert!(set_cookie(&form, "cohealth_login_csrf").is_some());
    let (status, page) = post_reset(&t, &path, NEW_PASSWORD, "something else entirely").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("The two passwords differ"), "{page}");
    let (status, page) = post_reset(&t, &path, "ada example", "ada example").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("at least 12 characters"), "{page}");

    // The real change: sent to sign in, every session gone, the address verified.
    let (status, page) = post_reset(&t, &path, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(page.starts_with("/login?notice=password-set"), "{page}");
    let notice = text(t.get("/login?notice=password-set", None).await).await;
    assert!(notice.contains("Your new password is set"), "{notice}");
    let old = t.get("/devices", Some(&old_session)).await;
    assert_eq!(old.status(), StatusCode::SEE_OTHER, "the old session ended");
    assert_eq!(old.headers().get(header::LOCATION).unwrap(), "/login");
    assert!(t.store.sessions_of(t.user.id).await.unwrap().is_empty());
    let user = t.store.user_by_id(t.user.id).await.unwrap().unwrap();
    assert_eq!(user.email_verified_ms, Some(NOW));
    assert_eq!(sign_in_with(&t, PASSWORD).await, StatusCode::UNAUTHORIZED);
    assert_eq!(sign_in_with(&t, NEW_PASSWORD).await, StatusCode::SEE_OTHER);

    // The same link again: refused, and nothing changes.
    let again = t.get(&path, None).await;
    assert_eq!(again.status(), StatusCode::GONE);
    let again = text(again).await;
    assert!(again.contains("does not work any more"), "{again}");
    let (status, _) = post_reset(
        &t,
        &path,
        "another fine passphrase here",
        "another fine passphrase here",
    )
    .await;
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(sign_in_with(&t, NEW_PASSWORD).await, StatusCode::SEE_OTHER);
    assert_eq!(sink.messages().len(), 1, "no mail for the unknown account");
}

#[tokio::test]
async fn expired_and_malformed_links_are_refused() {
    let t = TestPortal::new().await;
    // Made 31 minutes before the portal's fixed "now".
    let link = create_reset_link(&t.store, &t.user, PUBLIC_URL, NOW - RESET_TTL_MS - 60_000)
        .await
        .unwrap();
    let path = path_of(&link);
    assert_eq!(t.get(&path, None).await.status(), StatusCode::GONE);
    let (status, _) = post_reset(&t, &path, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(status, StatusCode::GONE);
    // A fresh one works, and voided the expired one for good.
    let fresh = create_reset_link(&t.store, &t.user, PUBLIC_URL, NOW - 60_000)
        .await
        .unwrap();
    assert_eq!(t.get(&path_of(&fresh), None).await.status(), StatusCode::OK);
    for bad in ["/reset/x", "/reset/%2e%2e", "/verify/abc"] {
        assert_eq!(t.get(bad, None).await.status(), StatusCode::GONE, "{bad}");
    }
    // Without the form cookie the post is refused before anything else.
    let r = t
        .post_form(&path_of(&fresh), None, "password=a&again=a&csrf=x")
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn without_mail_the_pages_say_so() {
    let t = TestPortal::new().await;
    let (_, _, page) = form_cookie(&t, "/forgot").await;
    assert!(page.contains("cohealth user reset"), "{page}");
    assert!(!page.contains("<form"), "{page}");
    let login = text(t.get("/login", None).await).await;
    assert!(login.contains(r#"href="/forgot""#), "{login}");
    let (session, csrf) = t.sign_in().await;
    let verify = text(t.get("/verify", Some(&session)).await).await;
    assert!(verify.contains("id=\"mail-off\""), "{verify}");
    let r = t
        .post_form("/verify/resend", Some(&session), &format!("csrf={csrf}"))
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn reset_requests_are_throttled_per_account() {
    let t = TestPortal::new().await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(ask_for_reset(&t, "ada@example.org").await.0);
    }
    assert_eq!(statuses[..3], [StatusCode::OK; 3], "{statuses:?}");
    assert_eq!(statuses[4], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

#[tokio::test]
async fn verification_link_marks_the_address() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let t = TestPortal::with_mail(mailer(&format!("smtp://127.0.0.1:{}", sink.port), None)).await;
    let (session, csrf) = t.sign_in().await;
    let page = text(t.get("/verify", Some(&session)).await).await;
    assert!(page.contains("id=\"unverified\""), "{page}");
    let r = t
        .post_form("/verify/resend", Some(&session), &format!("csrf={csrf}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mails = sink.wait_for(1).await;
    let link = link_in(&mails[0], &format!("{PUBLIC_URL}/verify/")).unwrap();
    let done = t.get(&path_of(&link), None).await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(text(done).await.contains("confirmed"));
    let user = t.store.user_by_id(t.user.id).await.unwrap().unwrap();
    assert_eq!(user.email_verified_ms, Some(NOW));
    assert_eq!(
        t.get(&path_of(&link), None).await.status(),
        StatusCode::GONE
    );
    let page = text(t.get("/verify", Some(&session)).await).await;
    assert!(page.contains("id=\"verified\""), "{page}");
}

/// A CA and a `localhost` certificate it signed, written as PEM files.
fn test_pki(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "CoHealth test household CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    (ca, cert, key)
}

#[tokio::test]
async fn starttls_with_a_household_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki(dir.path());
    let Some(sink) = SmtpSink::start_with(Some(SinkTls {
        cert: &cert,
        key: &key,
    })) else {
        return;
    };
    let url = format!("smtp+starttls://localhost:{}", sink.port);

    // Without the CA the server is not trusted and nothing is sent.
    let untrusted = mailer(&url, None);
    let err = untrusted
        .send_now("test", "ada@example.org", "hello", "body".into())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("SMTP"), "{err}");
    assert_eq!(
        untrusted
            .stats()
            .failed
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );

    // Plain SMTP to a server that requires STARTTLS is refused by the server.
    let plain = mailer(&format!("smtp://127.0.0.1:{}", sink.port), None);
    assert!(
        plain
            .send_now("test", "ada@example.org", "hello", "body".into())
            .await
            .is_err()
    );
    assert!(sink.messages().is_empty());

    // With the household's CA: delivered over TLS.
    let trusted = mailer(&url, Some(ca));
    trusted
        .send_now("test", "ada@example.org", "over tls", "sealed body".into())
        .await
        .unwrap();
    assert_eq!(
        trusted
            .stats()
            .sent
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let mails = sink.wait_for(1).await;
    assert!(mails[0].contains("sealed body"), "{}", mails[0]);
}

#[tokio::test]
async fn a_silent_mail_server_does_not_hold_up_the_page() {
    // Accepts connections (the kernel's backlog) but never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let m = mailer(&format!("smtp://127.0.0.1:{port}"), None);
    let t = TestPortal::with_mail(m.clone()).await;
    let (status, page) = ask_for_reset(&t, "ada@example.org").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("If an account with that email"), "{page}");
    // The answer came while the mail's fate is still open.
    let stats = m.stats();
    let settled = stats.sent.load(std::sync::atomic::Ordering::Relaxed)
        + stats.failed.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(settled, 0);
    drop(silent);
}

#[tokio::test]
async fn a_dead_mail_server_is_counted_not_fatal() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let m = mailer(&format!("smtp://127.0.0.1:{port}"), None);
    assert!(
        m.send_now("test", "ada@example.org", "hello", "body".into())
            .await
            .is_err()
    );
    assert!(
        m.send_now("test", "not an address", "hello", "body".into())
            .await
            .is_err()
    );
    assert_eq!(
        m.stats().failed.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn a_changed_password_or_email_is_announced_by_mail() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let t = TestPortal::with_mail(mailer(&format!("smtp://127.0.0.1:{}", sink.port), None)).await;
    let (session, csrf) = t.sign_in().await;
    let body = format!(
        "csrf={csrf}&current={}&password={}&confirm={}",
        PASSWORD.replace(' ', "+"),
        NEW_PASSWORD.replace(' ', "+"),
        NEW_PASSWORD.replace(' ', "+")
    );
    let r = t
        .post_form("/account/password", Some(&session), &body)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(&r, "cohealth_session").unwrap();
    let mails = sink.wait_for(1).await;
    assert!(mails[0].contains("To: ada@example.org"), "{}", mails[0]);
    assert!(
        mails[0].contains("your password was changed"),
        "{}",
        mails[0]
    );
    assert!(
        !mails[0].contains(NEW_PASSWORD),
        "the notice never holds the password"
    );

    // A new address: the old one is told, the new one gets a confirmation link.
    let page = text(t.get("/account", Some(&session)).await).await;
    let csrf = crate::common::csrf_of(&page);
    let body = format!(
        "csrf={csrf}&current={}&email=ada.new%40example.org",
        NEW_PASSWORD.replace(' ', "+")
    );
    let r = t.post_form("/account/email", Some(&session), &body).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let mails = sink.wait_for(3).await;
    assert!(
        mails.iter().any(|m| m.contains("To: ada@example.org")
            && m.contains("email address of your account was changed")),
        "{mails:?}"
    );
    assert!(
        mails
            .iter()
            .any(|m| m.contains("To: ada.new@example.org") && m.contains("/verify/")),
        "{mails:?}"
    );
}
