//! A real SMTP server for mail tests: aiosmtpd (PyPI) on a free loopback port,
//! writing every message it accepts into a Maildir in a temp folder.
//!
//! `scripts/test` installs aiosmtpd into `target/bluez-standin-venv` and exports
//! `COHEALTH_TEST_SMTP_PYTHON`. Without that venv a test skips loudly, unless the
//! variable is set (scripts/test, hence CI) or `CI` is, where a missing sink fails. Shared by
//! the e2e tests and the portal's integration tests (included by path).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running aiosmtpd; stopped (by its own pid) when dropped.
pub struct SmtpSink {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

/// TLS material for a sink that offers STARTTLS.
pub struct SinkTls<'a> {
    /// PEM certificate chain file.
    pub cert: &'a Path,
    /// PEM private key file.
    pub key: &'a Path,
}

/// The venv's python with aiosmtpd, or `None` (after saying why) when the test
/// should skip. Panics in CI.
fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("COHEALTH_TEST_SMTP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bluez-standin-venv/bin/python3")
        });
    let usable = Command::new(&candidate)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if usable {
        return Some(candidate);
    }
    let in_ci =
        std::env::var_os("CI").is_some() || std::env::var_os("COHEALTH_TEST_SMTP_PYTHON").is_some();
    assert!(
        !in_ci,
        "no python with aiosmtpd at {}: scripts/test installs it",
        candidate.display()
    );
    eprintln!(
        "\n!!! SKIPPED: no python with aiosmtpd at {} (run scripts/test once to install it) !!!\n",
        candidate.display()
    );
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl SmtpSink {
    /// Starts a plain sink; `None` when aiosmtpd is not installed outside CI.
    pub fn start() -> Option<SmtpSink> {
        SmtpSink::start_with(None)
    }

    /// Starts a sink, offering (and requiring) STARTTLS when `tls` is given.
    pub fn start_with(tls: Option<SinkTls<'_>>) -> Option<SmtpSink> {
        let python = python()?;
        let dir = tempfile::tempdir().expect("sink dir");
        let maildir = dir.path().join("maildir");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
        }
        let port = free_port();
        let mut command = Command::new(python);
        command
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"]);
        if let Some(tls) = &tls {
            command
                .arg("--tlscert")
                .arg(tls.cert)
                .arg("--tlskey")
                .arg(tls.key);
        }
        let log = std::fs::File::create(dir.path().join("sink.log")).expect("sink log");
        let child = command
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start aiosmtpd");
        let sink = SmtpSink { port, dir, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start: {}",
                sink.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(sink)
    }

    /// What aiosmtpd wrote to stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sink.log")).unwrap_or_default()
    }

    /// Every message received so far, as raw text, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("maildir").join("new");
        let mut files: Vec<_> = std::fs::read_dir(new)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .unwrap_or(std::time::SystemTime::UNIX_EPOCH)
        });
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    }

    /// Waits (polling, at most 60 s) until `count` messages have arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.messages();
            if got.len() >= count {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {count} mails arrived; sink log: {}",
                got.len(),
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first link in a mail that starts with `prefix`, undoing quoted-printable
/// soft line breaks.
pub fn link_in(mail: &str, prefix: &str) -> Option<String> {
    let text = mail.replace("=\r\n", "").replace("=\n", "");
    let start = text.find(prefix)?;
    let link: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_/:.".contains(*c))
        .collect();
    Some(link)
}
