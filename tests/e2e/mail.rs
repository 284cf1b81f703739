//! Password reset end to end: `cohealth user reset` prints a working link, and
//! `/forgot` mails one through a real SMTP server without the address, the
//! token or a password reaching the log.

use std::net::SocketAddr;
use std::time::Duration;

use crate::harness::{App, eventually, free_port, http_full};
use crate::smtp_sink::{SmtpSink, link_in};

const OLD_PASSWORD: &str = "sentinel-old-pass-5d1e9c";
const NEW_PASSWORD: &str = "orchid tumble 7b2f harbor wax";

/// One form request; returns status, the raw head and the body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: &str,
) -> (u16, String, String) {
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(c) = cookie {
        headers.push(("Cookie", c));
    }
    http_full(addr, method, path, &headers, form).await
}

/// `name=value` of a cookie set in a response head.
fn cookie_in(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .filter_map(|v| v.split(';').next())
        .find(|v| v.starts_with(&format!("{name}=")) && v.len() > name.len() + 1)
        .map(str::to_owned)
}

fn plus(s: &str) -> String {
    s.replace(' ', "+").replace('@', "%40")
}

/// Opens `path` (a form page) and posts `fields` with its CSRF cookie and token.
async fn submit(addr: SocketAddr, path: &str, fields: &str) -> (u16, String, String) {
    let (status, head, _) = request(addr, "GET", path, None, "").await;
    assert_eq!(status, 200, "{path}: {head}");
    let cookie = cookie_in(&head, "cohealth_login_csrf").unwrap();
    let token = cookie.split_once('=').unwrap().1.to_owned();
    request(
        addr,
        "POST",
        path,
        Some(&cookie),
        &format!("{fields}&csrf={token}"),
    )
    .await
}

async fn sign_in(addr: SocketAddr, login: &str, password: &str) -> Option<String> {
    let form = format!("login={}&password={}", plus(login), plus(password));
    let (status, head, _) = submit(addr, "/login", &form).await;
    (status == 303).then(|| cookie_in(&head, "cohealth_session").unwrap())
}

async fn reset_with(addr: SocketAddr, path: &str, password: &str) -> (u16, String) {
    let p = plus(password);
    let (status, head, _) = submit(addr, path, &format!("password={p}&again={p}")).await;
    (status, head)
}

fn location(head: &str) -> &str {
    head.lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or_default()
}

#[tokio::test]
async fn user_reset_prints_a_link_that_works() {
    let dead_broker = format!("mqtt://127.0.0.1:{}", free_port());
    let app = App::configure(&dead_broker, "");
    app.cli(
        &["user", "add", "ann@example.org"],
        &format!("{OLD_PASSWORD}\n"),
    );
    let out = app
        .command(&["user", "reset", "nobody@example.org"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "unknown account");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no account"));

    let first = app.cli(&["user", "reset", "ann@example.org"], "");
    let link = app.cli(&["user", "reset", "ann@example.org"], "");
    let base = format!("http://{}/reset/", app.addr);
    assert!(link.trim().starts_with(&base), "{link}");
    let path = link
        .trim()
        .strip_prefix(&format!("http://{}", app.addr))
        .unwrap()
        .to_owned();
    let stale = first
        .trim()
        .strip_prefix(&format!("http://{}", app.addr))
        .unwrap()
        .to_owned();

    let app = app.spawn_serve();
    let (status, _, _) = request(app.addr, "GET", &stale, None, "").await;
    assert_eq!(status, 410, "a newer link voids the older one");
    let (status, head) = reset_with(app.addr, &path, NEW_PASSWORD).await;
    assert_eq!(status, 303, "{head}");
    assert_eq!(location(&head), "/login?notice=password-set");
    assert!(
        sign_in(app.addr, "ann@example.org", OLD_PASSWORD)
            .await
            .is_none()
    );
    assert!(
        sign_in(app.addr, "ann@example.org", NEW_PASSWORD)
            .await
            .is_some()
    );
    let (status, _, _) = request(app.addr, "GET", &path, None, "").await;
    assert_eq!(status, 410, "the link works once");
}

#[tokio::test]
async fn forgot_by_mail_keeps_secrets_out_of_the_log() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let email = "sentinel-mailbox-3c8e@example.org";
    let dead_broker = format!("mqtt://127.0.0.1:{}", free_port());
    let smtp = format!(
        "[portal.smtp]\nurl = \"smtp://127.0.0.1:{}\"\nfrom = \"CoHealth <hub@example.org>\"\n",
        sink.port
    );
    let app = App::configure(&dead_broker, &smtp);
    app.cli(&["user", "add", email], &format!("{OLD_PASSWORD}\n"));
    let app = app.spawn_serve();
    let old_session = sign_in(app.addr, email, OLD_PASSWORD).await.unwrap();

    let (status, _, body) = submit(app.addr, "/forgot", &format!("login={}", plus(email))).await;
    assert_eq!(status, 200);
    assert!(body.contains("If an account with that email or user name exists"));
    let mails = sink.wait_for(1).await;
    let link = link_in(&mails[0], &format!("http://{}/reset/", app.addr)).unwrap();
    let token = link.rsplit('/').next().unwrap().to_owned();
    let path = format!("/reset/{token}");

    let (status, head) = reset_with(app.addr, &path, NEW_PASSWORD).await;
    assert_eq!(status, 303, "{head}");
    let (status, head, _) = request(app.addr, "GET", "/dashboard", Some(&old_session), "").await;
    assert_eq!(
        (status, location(&head)),
        (303, "/login"),
        "old session ended"
    );
    let (status, _, _) = request(app.addr, "GET", &path, None, "").await;
    assert_eq!(status, 410);
    assert!(sign_in(app.addr, email, NEW_PASSWORD).await.is_some());

    eventually(
        Duration::from_secs(10),
        "the mail logged as sent",
        || async { app.log().contains("mail handed to the server") },
    )
    .await;
    let log = app.log();
    for secret in [
        email,
        "sentinel-mailbox",
        &token,
        OLD_PASSWORD,
        NEW_PASSWORD,
        "sentinel",
    ] {
        assert!(!log.contains(secret), "`{secret}` in the log:\n{log}");
    }
    assert!(log.contains("password reset; every session ended"), "{log}");
}
