//! HTTPS served by `cohealth serve` itself: `cohealth tls self-signed` makes a
//! pair, the portal answers over TLS with the security headers and `Secure`
//! cookies, HSTS appears only with a certificate from a CA, and a wrong key stops
//! the start with a message naming the file.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{App, cohealth};

/// One HTTP/1.1 answer read off the wire.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.all(name).into_iter().next()
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn cookie(&self, name: &str) -> Option<&str> {
        self.all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

/// A rustls client trusting only `root` (PEM).
fn connector(root: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(root).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// One request over HTTPS to `addr`, checking the certificate for `name`.
async fn https(
    tls: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
    name: &str,
    request: (&str, &str, &[(&str, &str)], &str),
) -> Answer {
    let (method, path, headers, body) = request;
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let server_name = match name.parse::<IpAddr>() {
        Ok(ip) => ServerName::IpAddress(ip.into()),
        Err(_) => ServerName::try_from(name.to_owned()).unwrap(),
    };
    let mut stream = tls.connect(server_name, tcp).await.expect("TLS handshake");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw).await {
        // A peer that closes without close_notify still sent a whole answer.
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

async fn get(tls: &tokio_rustls::TlsConnector, addr: SocketAddr, name: &str, path: &str) -> Answer {
    https(tls, addr, name, ("GET", path, &[], "")).await
}

/// `[portal]` keys for a certificate and key.
fn portal_section(cert: &Path, key: &Path) -> String {
    format!(
        "[portal]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
        cert.display(),
        key.display()
    )
}

/// Runs `cohealth tls self-signed` and returns its output.
fn self_signed(out: &Path, extra: &[&str]) -> Output {
    cohealth()
        .args(["tls", "self-signed", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// Runs a command that must end on its own (a start that fails); a process
/// still running after a minute is killed and the test fails.
fn run_to_exit(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "cohealth serve did not stop: {:?}",
                child.wait_with_output()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn assert_security_headers(answer: &Answer, what: &str) {
    let csp = answer.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(csp.contains("script-src 'self'"), "{what}: {csp}");
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("x-frame-options"), Some("DENY"));
    assert!(answer.header("referrer-policy").is_some(), "{what}");
    assert!(
        answer
            .header("permissions-policy")
            .is_some_and(|p| p.contains("camera=(self)")),
        "{what}"
    );
}

#[tokio::test]
async fn a_self_signed_pair_serves_https_with_secure_cookies_and_no_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tls");
    let made = self_signed(&out, &["--host", "hub.cohealth.test"]);
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (cert, key) = (out.join("cert.pem"), out.join("key.pem"));
    assert!(cert.is_file() && key.is_file());
    assert!(said.contains("[portal]\ntls_cert = \""), "{said}");
    assert!(
        said.contains("hub.cohealth.test") && said.contains("valid until"),
        "{said}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is private");
    }
    let again = self_signed(&out, &[]);
    assert!(!again.status.success(), "existing files are kept");
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));

    let app = App::configure_without_mqtt(&portal_section(&cert, &key));
    app.cli(
        &["user", "add", "ann@example.org"],
        "a-long-enough-password\n",
    );
    let app = app.spawn_serve();
    let tls = connector(&cert);
    for name in ["127.0.0.1", "localhost", "hub.cohealth.test"] {
        let login = get(&tls, app.addr, name, "/login").await;
        assert_eq!(login.status, 200, "{name}: {}", login.body);
        assert!(login.body.contains("<form"), "the sign-in page");
        assert_security_headers(&login, name);
        assert_eq!(
            login.header("strict-transport-security"),
            None,
            "no HSTS with a self-signed certificate"
        );
        let csrf = login.cookie("cohealth_login_csrf").unwrap();
        assert!(csrf.ends_with("; Secure"), "{csrf}");
    }

    // Sign in over HTTPS: the session cookie is Secure and the session remembers
    // the peer address, so ConnectInfo survives the TLS listener.
    let login = get(&tls, app.addr, "localhost", "/login").await;
    let pre = login.cookie("cohealth_login_csrf").unwrap();
    let pre = pre.split(';').next().unwrap().to_owned();
    let token = pre.split_once('=').unwrap().1;
    let form = format!("login=ann%40example.org&password=a-long-enough-password&csrf={token}");
    let signed_in = https(
        &tls,
        app.addr,
        "localhost",
        (
            "POST",
            "/login",
            &[
                ("Cookie", &pre),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &form,
        ),
    )
    .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_security_headers(&signed_in, "the redirect after sign-in");
    let session = signed_in.cookie("cohealth_session").unwrap();
    assert!(
        session.contains("HttpOnly") && session.ends_with("; Secure"),
        "{session}"
    );
    let store = app.store().await;
    let user = store
        .user_by_login("ann@example.org")
        .await
        .unwrap()
        .unwrap();
    let sessions = store.sessions_of(user.id).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].client_addr.as_deref(), Some("127.0.0.1"));

    // Plain HTTP on the HTTPS port gets only a note to use https://, and neither
    // it nor the failed handshakes are worth a line at info.
    let mut plain = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    plain
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    plain.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(raw.ends_with("put https:// in front of it.\n"), "{raw}");
    assert!(!raw.contains("cohealth_login_csrf"), "{raw}");
    // A client that does not trust the certificate gets nowhere.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let (other_ca, _, _) = ca_and_leaf(&other);
    let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let refused = connector(&other_ca)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await;
    assert!(refused.is_err(), "a certificate nobody vouched for");
    let healthz = get(&tls, app.addr, "localhost", "/healthz").await;
    assert_eq!((healthz.status, healthz.body.as_str()), (200, "ok\n"));
    let log = app.log();
    assert!(
        log.contains("portal listening") && log.contains("https"),
        "{log}"
    );
    assert!(!log.to_lowercase().contains("handshake"), "{log}");
}

/// A CA and a leaf it signed for localhost and 127.0.0.1, written as PEM files;
/// returns (CA certificate, leaf certificate, leaf key).
fn ca_and_leaf(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "CoHealth test CA");
    ca.distinguished_name = ca_name;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let mut leaf_name = DistinguishedName::new();
    leaf_name.push(DnType::CommonName, "localhost");
    leaf.distinguished_name = leaf_name;
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();

    let paths = (
        dir.join("ca.pem"),
        dir.join("leaf.pem"),
        dir.join("leaf.key"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).unwrap();
    std::fs::write(&paths.1, leaf_cert.pem()).unwrap();
    std::fs::write(&paths.2, leaf_key.serialize_pem()).unwrap();
    paths
}

#[tokio::test]
async fn a_certificate_from_a_ca_gets_hsts_on_every_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = ca_and_leaf(dir.path());
    let app = App::configure_without_mqtt(&portal_section(&cert, &key)).spawn_serve();
    let tls = connector(&ca);
    for path in [
        "/login",
        "/nowhere",
        "/static/app.css",
        "/api/v1/devices",
        "/",
    ] {
        let answer = get(&tls, app.addr, "127.0.0.1", path).await;
        assert_security_headers(&answer, path);
        assert_eq!(
            answer.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{path} ({})",
            answer.status
        );
    }
    // The Health Auto Export route is merged beside the portal's and still gets them.
    let ingest = https(
        &tls,
        app.addr,
        "127.0.0.1",
        ("POST", "/api/v1/ingest/health-auto-export", &[], "{}"),
    )
    .await;
    assert_eq!(ingest.status, 401);
    assert_security_headers(&ingest, "ingest");
    assert_eq!(
        ingest.header("strict-transport-security"),
        Some("max-age=31536000")
    );
}

#[tokio::test]
async fn hsts_off_is_obeyed_even_with_a_ca_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = ca_and_leaf(dir.path());
    let config = format!("{}hsts = \"off\"\n", portal_section(&cert, &key));
    let app = App::configure_without_mqtt(&config).spawn_serve();
    let answer = get(&connector(&ca), app.addr, "localhost", "/login").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("strict-transport-security"), None);
}

#[test]
fn a_wrong_key_or_certificate_stops_the_start_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert!(self_signed(&a, &[]).status.success());
    assert!(self_signed(&b, &[]).status.success());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a key\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let cert = a.join("cert.pem");
    let cases = [
        (
            cert.clone(),
            b.join("key.pem"),
            b.join("key.pem"),
            "does not fit",
        ),
        (
            cert.clone(),
            garbage.clone(),
            garbage.clone(),
            "no usable private key",
        ),
        (
            garbage.clone(),
            a.join("key.pem"),
            garbage.clone(),
            "no PEM certificate",
        ),
        (
            missing.clone(),
            a.join("key.pem"),
            missing.clone(),
            "reading portal.tls_cert",
        ),
    ];
    for (cert, key, named, says) in cases {
        let app = App::configure_without_mqtt(&portal_section(&cert, &key));
        let out = run_to_exit(app.command(&["serve"]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(
            stderr.contains(&named.display().to_string()),
            "names {}: {stderr}",
            named.display()
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
