//! Brokers that want a password, and brokers behind TLS (mqtts:// through rustls).

use std::process::Command;
use std::time::Duration;

use crate::harness::{App, Broker, eventually};

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn password_broker() -> Broker {
    Broker::start_configured(|dir| {
        let file = dir.join("passwords");
        run(Command::new("mosquitto_passwd")
            .args(["-b", "-c"])
            .arg(&file)
            .args(["cohealth", "s3cret-pass"]));
        format!("allow_anonymous false\npassword_file {}\n", file.display())
    })
}

#[tokio::test]
async fn credentials_from_a_file_open_a_password_broker() {
    let broker = password_broker();
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("mqtt-password");
    std::fs::write(&secret, "s3cret-pass\n").unwrap();
    let app = App::configure_mqtt(
        &broker.url(),
        &format!(
            "username = \"cohealth\"\npassword_file = \"{}\"\n",
            secret.display()
        ),
    )
    .spawn_serve();
    eventually(Duration::from_secs(10), "connected", || async {
        app.log().contains("connected to MQTT broker")
    })
    .await;
    assert!(!app.log().contains("s3cret-pass"));
}

#[tokio::test]
async fn a_wrong_password_is_reported_as_a_refusal() {
    let broker = password_broker();
    let app = App::configure_mqtt(
        &broker.url(),
        "username = \"cohealth\"\npassword = \"wrong\"\n",
    )
    .spawn_serve();
    eventually(Duration::from_secs(10), "refusal reported", || async {
        app.log().contains("the MQTT broker refused us")
    })
    .await;
    assert!(!app.log().contains("connected to MQTT broker"));
}

#[tokio::test]
async fn mqtts_with_our_own_ca() {
    let broker = Broker::start_configured(|dir| {
        let p = |f: &str| dir.join(f).display().to_string();
        run(Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=CoHealth test CA",
                "-keyout",
                &p("ca.key"),
                "-out",
                &p("ca.pem"),
            ]));
        run(Command::new("openssl")
            .args([
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
            ])
            .args(["-keyout", &p("server.key"), "-out", &p("server.csr")]));
        std::fs::write(p("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
        run(Command::new("openssl")
            .args(["x509", "-req", "-days", "1", "-in", &p("server.csr")])
            .args([
                "-CA",
                &p("ca.pem"),
                "-CAkey",
                &p("ca.key"),
                "-CAcreateserial",
            ])
            .args(["-out", &p("server.pem"), "-extfile", &p("san.ext")]));
        format!(
            "allow_anonymous true\ncafile {}\ncertfile {}\nkeyfile {}\n",
            p("ca.pem"),
            p("server.pem"),
            p("server.key")
        )
    });
    let ca = broker.dir().join("ca.pem");
    let url = format!("mqtts://localhost:{}", broker.port);
    let app = App::configure_mqtt(&url, &format!("ca_file = \"{}\"\n", ca.display()));
    app.user_with_device("ann@example.org", "thermometer");
    let app = app.spawn_serve();
    app.wait_subscribed(4);
    run(Command::new("mosquitto_pub")
        .args([
            "-h",
            "localhost",
            "-p",
            &broker.port.to_string(),
            "--cafile",
        ])
        .arg(&ca)
        .args([
            "-q",
            "1",
            "-t",
            "cohealth/ingest/thermometer",
            "-m",
            r#"{"metric":"body_temperature","value":36.8}"#,
        ]));
    let (store, ann_person) = app.store_and_person("ann@example.org").await;
    eventually(Duration::from_secs(10), "the reading over TLS", || async {
        store
            .count_samples(ann_person, cohealth_ingest::Metric::BodyTemperature)
            .await
            .unwrap()
            == 1
    })
    .await;
}
