//! A new user's first visit in a real headless Chromium: sign in, see the charts,
//! watch a reading published to the broker arrive without a reload, sign out.
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test fails
//! and says how to install them, rather than passing without having looked.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::harness::{App, Broker, eventually, free_port};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "a-long-enough-password";

/// chromedriver on a free loopback port, killed when dropped.
pub(crate) struct Driver {
    port: u16,
    child: Child,
    _profile: tempfile::TempDir,
}

impl Driver {
    pub(crate) fn start() -> Driver {
        for exe in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(exe).exists(),
                "{exe} is missing: the browser test needs `apt-get install chromium chromium-driver`"
            );
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver {
            port,
            child,
            _profile: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) async fn browser(&self) -> Client {
        let profile = format!("--user-data-dir={}", self._profile.path().display());
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=412,900",
            profile.as_str(),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": CHROMIUM, "args": args }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a chromium session through chromedriver")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_new_user_signs_in_sees_live_data_and_signs_out() {
    let driver = Driver::start();
    let broker = Broker::start();
    let app = App::configure(&broker.url(), "");
    app.user_with_device("ann@example.org", "strap");
    let app = app.spawn_serve();
    eventually(Duration::from_secs(10), "MQTT connected", || async {
        app.log().contains("connected to MQTT broker")
    })
    .await;
    let base = format!("http://{}", app.addr);
    let c = driver.browser().await;

    // A stranger lands on the sign-in page.
    c.goto(&base).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    c.find(Locator::Css("#login"))
        .await
        .unwrap()
        .send_keys("ann@example.org")
        .await
        .unwrap();
    c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("#sign-in"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The dashboard, with charts drawn by the server.
    c.wait()
        .for_url(&format!("{base}/dashboard").parse().unwrap())
        .await
        .unwrap();
    let charts = c.find_all(Locator::Css("svg.chart")).await.unwrap();
    assert!(charts.len() >= 3, "{} charts", charts.len());
    assert_eq!(
        text_of(&c, r#".tile[data-metric="heart_rate"] .value"#).await,
        "–"
    );

    // A reading published to the broker shows up without a reload.
    let tiles = c.find(Locator::Css("#tiles")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tiles.attr("data-live-state").await.unwrap().as_deref() != Some("open") {
        assert!(Instant::now() < deadline, "the live stream did not open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.execute("window.notReloaded = true;", vec![])
        .await
        .unwrap();
    let published = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
        .args([
            "-t",
            "cohealth/ingest/strap",
            "-m",
            r#"{"metric":"heart_rate","value":123}"#,
        ])
        .status()
        .expect("mosquitto_pub (apt-get install mosquitto-clients)");
    assert!(published.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while text_of(&c, r#".tile[data-metric="heart_rate"] .value"#).await != "123" {
        assert!(
            Instant::now() < deadline,
            "the reading did not arrive live: {}",
            app.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let same_page = c
        .execute("return window.notReloaded === true;", vec![])
        .await
        .unwrap();
    assert_eq!(
        same_page,
        serde_json::Value::Bool(true),
        "no reload happened"
    );
    assert!(
        !c.find_all(Locator::Css("svg.chart circle.live"))
            .await
            .unwrap()
            .is_empty(),
        "a live dot on the chart"
    );
    if let Ok(dir) = std::env::var("PORTAL_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        std::fs::write(Path::new(&dir).join("dashboard.png"), png).unwrap();
    }

    // Signing out ends the session: the dashboard sends us back to sign in.
    c.find(Locator::Css("#sign-out"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait()
        .for_url(&format!("{base}/login").parse().unwrap())
        .await
        .unwrap();
    c.goto(&format!("{base}/dashboard")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/login"));
    c.close().await.unwrap();
}
