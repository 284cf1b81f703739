//! One typed settings tree: defaults → `cohealth.toml` → `COHEALTH_*` environment →
//! command-line flags. Unknown keys are errors that name the key, so a typo never
//! silently falls back to a default. Every key is documented in
//! `config/cohealth.toml`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cohealth_ingest::topics::{Route, default_routes};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::ble_settings::BleSection;

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Where the SQLite database and other state live.
    pub data_dir: PathBuf,
    /// Address the portal listens on.
    pub listen: SocketAddr,
    /// Database URL; empty means SQLite at `<data_dir>/cohealth.db`.
    pub database: String,
    /// Log filter (`info`, `cohealth=debug`, …); `RUST_LOG` wins when set.
    pub log: String,
    /// The MQTT source.
    pub mqtt: MqttSection,
    /// The pending area for unclaimed devices.
    pub pending: PendingSection,
    /// The Bluetooth LE connection manager.
    pub ble: BleSection,
    /// The web portal: HTTPS, its public address and outgoing mail.
    pub portal: PortalSection,
    /// Devices to claim at start (the store is the truth afterwards).
    pub claims: Vec<ClaimSection>,
    /// The scheduled export for backups.
    pub export: crate::export_job::ExportSection,
}

/// `[mqtt]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSection {
    /// Whether to connect at all.
    pub enabled: bool,
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub url: String,
    /// Client id; the broker keeps our persistent session under it.
    pub client_id: String,
    /// User name.
    pub username: Option<String>,
    /// Password (prefer `password_file`).
    pub password: Option<Secret>,
    /// File holding the password (for systemd credentials).
    pub password_file: Option<PathBuf>,
    /// Extra CA certificate (PEM) for `mqtts://`.
    pub ca_file: Option<PathBuf>,
    /// Keep-alive interval, seconds.
    pub keep_alive_seconds: u64,
    /// Most messages per commit.
    pub batch_max: usize,
    /// Longest wait for a batch to fill, milliseconds.
    pub linger_ms: u64,
    /// Topic filters and their decoders.
    pub topics: Vec<Route>,
}

/// `[portal.smtp]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    /// `smtp://host[:port]`, `smtp+starttls://host[:port]` or `smtps://host[:port]`.
    pub url: String,
    /// The sender: `CoHealth <cohealth@example.org>` or a bare address.
    pub from: String,
    /// User name, if the server asks for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password (prefer `password_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// File holding the password (for systemd credentials); wins over `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Extra CA certificate (PEM) trusted for the server's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl SmtpSection {
    /// What the portal's mailer needs.
    pub fn mail_settings(&self) -> cohealth_portal::mail::MailSettings {
        cohealth_portal::mail::MailSettings {
            url: self.url.clone(),
            from: self.from.clone(),
            username: self.username.clone(),
            password: self.password.as_ref().map(|p| p.expose().to_owned()),
            ca_file: self.ca_file.clone(),
        }
    }
}

/// `[pending]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PendingSection {
    /// How long unclaimed devices' samples wait, seconds.
    pub ttl_seconds: i64,
    /// Most samples waiting; the oldest are evicted first.
    pub max_samples: i64,
}

/// `[portal]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalSection {
    /// Certificate chain (PEM, leaf first); with `tls_key`, the portal speaks HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, RSA or SEC1).
    pub tls_key: Option<PathBuf>,
    /// Whether to send `Strict-Transport-Security`.
    pub hsts: Hsts,
    /// The portal's address as people reach it, the base of links in emails;
    /// empty means `http(s)://<listen>`.
    pub public_url: String,
    /// Outgoing mail; absent means mail is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpSection>,
}

/// `portal.hsts`: when browsers are told to insist on HTTPS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hsts {
    /// Only with a certificate that is not self-signed.
    #[default]
    Auto,
    /// Whenever the portal serves HTTPS, even with a self-signed certificate.
    On,
    /// Never.
    Off,
}

/// One `[[claims]]` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimSection {
    /// Device id in any MAC spelling, or a non-BLE id.
    pub device: String,
    /// Email or user name of the person who owns it.
    pub user: String,
}

/// A string that never appears in logs or debug output.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("./data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database: String::new(),
            log: "info".into(),
            mqtt: MqttSection::default(),
            pending: PendingSection::default(),
            ble: BleSection::default(),
            portal: PortalSection::default(),
            claims: Vec::new(),
            export: crate::export_job::ExportSection::default(),
        }
    }
}

impl Default for MqttSection {
    fn default() -> Self {
        MqttSection {
            enabled: true,
            url: "mqtt://127.0.0.1:1883".into(),
            client_id: "cohealth".into(),
            username: None,
            password: None,
            password_file: None,
            ca_file: None,
            keep_alive_seconds: 30,
            batch_max: 1000,
            linger_ms: 20,
            topics: default_routes(),
        }
    }
}

impl Default for PendingSection {
    fn default() -> Self {
        PendingSection {
            ttl_seconds: 24 * 3600,
            max_samples: 200_000,
        }
    }
}

/// Flags that override every other layer when given.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--database`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// `--log`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// `--mqtt` (nested as `mqtt.url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mqtt: Option<MqttOverride>,
}

/// The `[mqtt]` part of [`Overrides`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct MqttOverride {
    /// `--mqtt`.
    pub url: String,
}

impl Settings {
    /// Loads the layers; `config` is the TOML file, if any.
    pub fn load(config: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Settings> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = config {
            anyhow::ensure!(
                path.exists(),
                "config file {} does not exist",
                path.display()
            );
            figment = figment.merge(Toml::file_exact(path));
        }
        let settings: Settings = figment
            .merge(
                // COHEALTH_TEST_* belong to the test suite (scripts/test exports them).
                Env::prefixed("COHEALTH_")
                    .filter(|key| !key.as_str().to_ascii_lowercase().starts_with("test_"))
                    .split("__")
                    .ignore(&["config"]),
            )
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| anyhow::anyhow!("{}", figment_message(e)))?;
        let settings = settings.resolve_secrets()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Refuses values that type-check but cannot work, before anything starts.
    fn validate(&self) -> anyhow::Result<()> {
        if self.mqtt.enabled {
            cohealth_ingest::mqtt::validate_url(&self.mqtt.url)
                .map_err(|e| anyhow::anyhow!("configuration key `mqtt.url`: {e}"))?;
        }
        let db = self.database.as_str();
        let known = db.is_empty()
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://")
            || db.starts_with("sqlite:")
            || !db.contains("://");
        anyhow::ensure!(
            known,
            "configuration key `database`: use a file path, sqlite://… or postgres://…"
        );
        let p = &self.portal;
        anyhow::ensure!(
            p.tls_cert.is_some() == p.tls_key.is_some(),
            "configuration keys `portal.tls_cert` and `portal.tls_key`: set both (HTTPS) or neither (HTTP)"
        );
        anyhow::ensure!(
            p.hsts != Hsts::On || p.tls_cert.is_some(),
            "configuration key `portal.hsts`: \"on\" needs HTTPS (`portal.tls_cert` and `portal.tls_key`)"
        );
        self.export.validate()?;
        tracing_subscriber::EnvFilter::try_new(&self.log)
            .map_err(|e| anyhow::anyhow!("configuration key `log`: {e}"))?;
        let public = self.portal.public_url.as_str();
        anyhow::ensure!(
            public.is_empty()
                || ((public.starts_with("http://") || public.starts_with("https://"))
                    && !public.contains(char::is_whitespace)),
            "configuration key `portal.public_url`: use http://… or https://…"
        );
        if let Some(smtp) = &self.portal.smtp {
            smtp.mail_settings()
                .check()
                .map_err(|e| anyhow::anyhow!("configuration key `portal.smtp`: {e}"))?;
        }
        Ok(())
    }

    /// The configuration as TOML, with every secret replaced.
    pub fn to_toml_hidden(&self) -> anyhow::Result<String> {
        let mut shown = self.clone();
        if shown.mqtt.password.is_some() {
            shown.mqtt.password = Some(Secret("(hidden)".into()));
        }
        shown.database = hide_url_password(&shown.database);
        if let Some(smtp) = &mut shown.portal.smtp
            && smtp.password.is_some()
        {
            smtp.password = Some(Secret("(hidden)".into()));
        }
        Ok(toml::to_string_pretty(&shown)?)
    }

    /// Reads `*_file` secrets so the rest of the program sees one value.
    fn resolve_secrets(mut self) -> anyhow::Result<Settings> {
        if let Some(path) = &self.mqtt.password_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading mqtt.password_file {}", path.display()))?;
            self.mqtt.password = Some(Secret(text.trim_end_matches(['\r', '\n']).to_owned()));
        }
        if let Some(smtp) = &mut self.portal.smtp
            && let Some(path) = &smtp.password_file
        {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading portal.smtp.password_file {}", path.display()))?;
            smtp.password = Some(Secret(text.trim_end_matches(['\r', '\n']).to_owned()));
        }
        Ok(self)
    }

    /// The base of links in emails: `portal.public_url`, else
    /// `http(s)://<listen>`.
    pub fn public_url(&self) -> String {
        let configured = self.portal.public_url.trim_end_matches('/');
        if configured.is_empty() {
            let scheme = if self.portal.tls_cert.is_some() {
                "https"
            } else {
                "http"
            };
            format!("{scheme}://{}", self.listen)
        } else {
            configured.to_owned()
        }
    }

    /// The database URL, defaulting to SQLite in the data directory.
    pub fn database_url(&self) -> String {
        if self.database.is_empty() {
            self.data_dir.join("cohealth.db").display().to_string()
        } else {
            self.database.clone()
        }
    }
}

/// `scheme://user:secret@host/db` → `scheme://user:(hidden)@host/db`.
fn hide_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:(hidden)@{host}"),
        None => url.to_owned(),
    }
}

/// Joins figment's errors into lines that name the offending key.
fn figment_message(e: figment::Error) -> String {
    e.into_iter()
        .map(|e| {
            let key = e.path.join(".");
            if key.is_empty() {
                format!("configuration: {}", e.kind)
            } else {
                format!("configuration key `{key}`: {}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment's Jail API returns its own error type"
)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_is_the_defaults() {
        // Inside a jail: other tests set COHEALTH_* variables in this process.
        figment::Jail::expect_with(|_| {
            let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/cohealth.toml");
            let loaded = Settings::load(Some(Path::new(example)), &Overrides::default()).unwrap();
            let defaults = Settings::default();
            assert_eq!(
                toml::to_string(&loaded).unwrap(),
                toml::to_string(&defaults).unwrap()
            );
            Ok(())
        });
    }

    #[test]
    fn secrets_are_hidden_and_bad_values_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("COHEALTH_DATABASE", "postgres://root:pw-123@127.0.0.1/x");
            let s = Settings::load(None, &Overrides::default()).unwrap();
            let shown = s.to_toml_hidden().unwrap();
            assert!(
                !shown.contains("pw-123") && shown.contains("root:(hidden)@"),
                "{shown}"
            );
            jail.set_env("COHEALTH_MQTT__URL", "http://x");
            let err = Settings::load(None, &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("mqtt.url"), "{err}");
            jail.set_env("COHEALTH_MQTT__URL", "mqtt://x");
            jail.set_env("COHEALTH_LOG", "nonsense[[");
            let err = Settings::load(None, &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("`log`"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn smtp_settings_load_and_hide_the_password() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[portal]\npublic_url = \"https://hub.example.org/\"\n[portal.smtp]\n\
                 url = \"smtp+starttls://mail.example.org\"\nfrom = \"CoHealth <hub@example.org>\"\n\
                 username = \"hub\"\npassword_file = \"pw\"\n",
            )?;
            jail.create_file("pw", "smtp-sentinel-pw\n")?;
            let s = Settings::load(Some(Path::new("c.toml")), &Overrides::default()).unwrap();
            let smtp = s.portal.smtp.as_ref().unwrap();
            assert_eq!(smtp.password.as_ref().unwrap().expose(), "smtp-sentinel-pw");
            assert_eq!(s.public_url(), "https://hub.example.org");
            let shown = s.to_toml_hidden().unwrap();
            assert!(!shown.contains("smtp-sentinel-pw"), "{shown}");
            assert!(
                shown.contains("[portal.smtp]") && shown.contains("(hidden)"),
                "{shown}"
            );

            jail.set_env("COHEALTH_PORTAL__SMTP__URL", "imap://mail.example.org");
            let err = Settings::load(Some(Path::new("c.toml")), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("portal.smtp"), "{err}");
            jail.set_env("COHEALTH_PORTAL__SMTP__URL", "smtp://127.0.0.1:2525");
            jail.set_env("COHEALTH_PORTAL__PUBLIC_URL", "hub.example.org");
            let err = Settings::load(Some(Path::new("c.toml")), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("portal.public_url"), "{err}");

            let defaults = Settings::default();
            assert!(defaults.portal.smtp.is_none());
            assert_eq!(defaults.public_url(), "http://127.0.0.1:8080");
            Ok(())
        });
    }

    #[test]
    fn tls_settings_come_in_pairs() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "[portal]\ntls_cert = \"/etc/cohealth/cert.pem\"\nhsts = \"off\"\n",
            )?;
            let err = Settings::load(Some(Path::new("c.toml")), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("portal.tls_key"), "{err}");
            jail.set_env("COHEALTH_PORTAL__TLS_KEY", "/etc/cohealth/key.pem");
            let s = Settings::load(Some(Path::new("c.toml")), &Overrides::default()).unwrap();
            assert_eq!(s.portal.hsts, Hsts::Off);
            assert_eq!(
                s.portal.tls_key.as_deref(),
                Some(Path::new("/etc/cohealth/key.pem"))
            );
            jail.clear_env();
            jail.create_file("plain.toml", "[portal]\nhsts = \"on\"\n")?;
            let err =
                Settings::load(Some(Path::new("plain.toml")), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("portal.hsts"), "{err}");
            jail.create_file("typo.toml", "[portal]\nhsts = \"yes\"\n")?;
            let err =
                Settings::load(Some(Path::new("typo.toml")), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("portal.hsts"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_named() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("c.toml", "listen = \"127.0.0.1:9\"\n[mqtt]\nurll = \"x\"\n")?;
            let err = Settings::load(Some(Path::new("c.toml")), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("urll"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "c.toml",
                "listen = \"127.0.0.1:9\"\nlog = \"debug\"\n[mqtt]\nurl = \"mqtt://file\"\n",
            )?;
            jail.set_env("COHEALTH_LOG", "warn");
            jail.set_env("COHEALTH_TEST_SOMETHING", "not a config key");
            jail.set_env("COHEALTH_MQTT__CLIENT_ID", "from-env");
            jail.create_file("pw", "s3cret\n")?;
            jail.set_env("COHEALTH_MQTT__PASSWORD_FILE", "pw");
            let flags = Overrides {
                mqtt: Some(MqttOverride {
                    url: "mqtt://flag".into(),
                }),
                ..Overrides::default()
            };
            let s = Settings::load(Some(Path::new("c.toml")), &flags).unwrap();
            assert_eq!(s.listen.port(), 9);
            assert_eq!(s.log, "warn");
            assert_eq!(s.mqtt.client_id, "from-env");
            assert_eq!(s.mqtt.url, "mqtt://flag");
            assert_eq!(s.mqtt.password.as_ref().unwrap().expose(), "s3cret");
            assert!(!format!("{s:?}").contains("s3cret"));
            Ok(())
        });
    }
}
