//! Starting the real `cohealth` binary against real services for end-to-end tests.
//!
//! Every test gets its own Mosquitto on a free loopback port (with its own
//! persistence directory, so it can be restarted), its own data directory and
//! SQLite file, and its own portal port: tests run in parallel without sharing
//! anything but the machine.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cohealth_store::{Limits, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The binary under test, built by cargo for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_cohealth");

/// `cohealth` with none of the test run's own `COHEALTH_*` variables
/// (`COHEALTH_TEST_POSTGRES`, …), which it would read as unknown config keys.
pub fn cohealth() -> Command {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("COHEALTH_") {
            command.env_remove(key);
        }
    }
    command
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not open port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends a signal with the system `kill` (SIGTERM lets the process flush).
pub fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status();
    assert!(
        status.map(|s| s.success()).unwrap_or(false),
        "kill -{sig} failed"
    );
}

/// A private Mosquitto broker.
pub struct Broker {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Broker {
    /// Starts a broker with the settings README.md recommends for households.
    pub fn start() -> Broker {
        Broker::start_with(1000)
    }

    /// Starts a broker that keeps at most `max_inflight` unacked messages in flight
    /// to one client (Mosquitto's default is 20).
    pub fn start_with(max_inflight: u32) -> Broker {
        Broker::start_configured(|_| {
            format!("allow_anonymous true\nmax_inflight_messages {max_inflight}\n")
        })
    }

    /// Starts a broker whose listener and access settings come from `settings`,
    /// given the broker's own directory (for password files and certificates).
    pub fn start_configured(settings: impl FnOnce(&Path) -> String) -> Broker {
        let dir = tempfile::tempdir().expect("broker dir");
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            // `user root` keeps a root-started broker able to read our temp files;
            // it has no effect when the tests run as another user.
            "user root\nper_listener_settings false\nlistener {port} 127.0.0.1\n{}\npersistence true\n\
             persistence_location {d}/\nmax_queued_messages 1000000\nlog_dest file {d}/mosquitto.log\n",
            settings(dir.path())
        );
        std::fs::write(dir.path().join("mosquitto.conf"), conf).expect("write broker conf");
        let mut broker = Broker {
            port,
            dir,
            child: None,
        };
        broker.launch();
        broker
    }

    /// The broker's directory (its config, log, password file, certificates).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn launch(&mut self) {
        let exe = if Path::new("/usr/sbin/mosquitto").exists() {
            "/usr/sbin/mosquitto"
        } else {
            "mosquitto"
        };
        let child = Command::new(exe)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto must be installed (apt-get install mosquitto)");
        self.child = Some(child);
        wait_for_port(self.port, "mosquitto");
    }

    /// Stops the broker cleanly (it saves its queues) and starts it again.
    pub fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(&c, "TERM");
            let _ = c.wait();
        }
        self.launch();
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A `cohealth serve` process with its own data directory and config.
pub struct App {
    /// Where the portal listens.
    pub addr: SocketAddr,
    /// The data directory (SQLite lives here).
    pub data_dir: PathBuf,
    config: PathBuf,
    log: PathBuf,
    env: Vec<(String, String)>,
    _dir: tempfile::TempDir,
    child: Option<Child>,
}

impl App {
    /// Writes a config for `broker` (plus `extra` TOML) and starts `cohealth serve`.
    pub fn start(broker_url: &str, extra: &str) -> App {
        let app = App::configure(broker_url, extra);
        app.spawn_serve()
    }

    /// Writes the config without starting anything (for admin commands first).
    pub fn configure(broker_url: &str, extra: &str) -> App {
        App::configure_all(broker_url, extra, "")
    }

    /// Writes a config with MQTT switched off (plus `extra` TOML), starting nothing.
    pub fn configure_without_mqtt(extra: &str) -> App {
        App::configure_all("mqtt://127.0.0.1:1883", extra, "enabled = false\n")
    }

    /// Like [`App::configure`], with extra keys for the `[mqtt]` table.
    pub fn configure_mqtt(broker_url: &str, mqtt_extra: &str) -> App {
        App::configure_all(broker_url, "", mqtt_extra)
    }

    fn configure_all(broker_url: &str, extra: &str, mqtt_extra: &str) -> App {
        let dir = tempfile::tempdir().expect("app dir");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let data_dir = dir.path().join("data");
        let config = dir.path().join("cohealth.toml");
        let client_id = format!("cohealth-test-{}-{}", std::process::id(), addr.port());
        let toml = format!(
            "data_dir = \"{}\"\nlisten = \"{addr}\"\nlog = \"info\"\n{extra}\n[mqtt]\nurl = \"{broker_url}\"\nclient_id = \"{client_id}\"\n{mqtt_extra}",
            data_dir.display()
        );
        std::fs::write(&config, toml).expect("write config");
        let log = dir.path().join("cohealth.log");
        App {
            addr,
            data_dir,
            config,
            log,
            env: Vec::new(),
            _dir: dir,
            child: None,
        }
    }

    /// Sets an environment variable for `cohealth serve`.
    pub fn with_env(mut self, key: &str, value: &str) -> App {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Starts `cohealth serve` and waits until the portal answers.
    pub fn spawn_serve(mut self) -> App {
        self.launch();
        self
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = cohealth()
            .args(["serve", "--config"])
            .arg(&self.config)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start cohealth");
        self.child = Some(child);
        wait_for_port(self.addr.port(), "cohealth serve");
    }

    /// Waits until the daemon has subscribed to all its topics.
    pub fn wait_subscribed(&self, subscriptions: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.log().matches("subscribed").count() < subscriptions {
            assert!(
                Instant::now() < deadline,
                "no MQTT subscription: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A subcommand with this app's config, to spawn as the test likes.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = cohealth();
        command.args(args).arg("--config").arg(&self.config);
        command
    }

    /// Runs an admin subcommand with this app's config; returns stdout.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        let mut child = cohealth()
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run cohealth");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait cohealth");
        assert!(
            out.status.success(),
            "cohealth {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates an account and claims `device` for it.
    pub fn user_with_device(&self, email: &str, device: &str) {
        self.cli(&["user", "add", email], "a-long-enough-password\n");
        self.cli(&["device", "claim", device, email], "");
    }

    /// kill -9: no flush, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        match self.child.take() {
            Some(mut c) => {
                signal(&c, "TERM");
                c.wait().map(|s| s.success()).unwrap_or(false)
            }
            None => false,
        }
    }

    /// The process id, while running (the bench samples its memory).
    #[allow(dead_code, reason = "used by the ingest bench, not by every test")]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts the process again on the same data and config.
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The store and the person id of the account `email`.
    pub async fn store_and_person(&self, email: &str) -> (Store, i64) {
        let store = self.store().await;
        let user = store
            .user_by_login(email)
            .await
            .expect("look up the account");
        let person = user.expect("the account exists").person_id;
        (store, person)
    }

    /// The store, opened beside the running process (SQLite WAL allows it).
    pub async fn store(&self) -> Store {
        let url = self.data_dir.join("cohealth.db").display().to_string();
        Store::open(&url, Limits::default())
            .await
            .expect("open the app's store")
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A plain HTTP/1.1 GET; returns the status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(addr, "GET", path, &[], "").await
}

/// A plain HTTP/1.1 request with extra headers and a body; returns status and body.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let (status, _, body) = http_full(addr, method, path, headers, body).await;
    (status, body)
}

/// As [`http`], also returning the response head (status line and headers).
pub async fn http_full(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect portal");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.expect("send request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_owned(), body.to_owned())
}

/// Waits until `check` is true, polling; panics with `what` after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
