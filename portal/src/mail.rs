//! Outgoing email: plain-text messages to one person over SMTP.
//!
//! The portal mails password-reset and address-verification links. A household
//! points CoHealth at its own mail server (or a provider's submission port);
//! without one, mail is off and the pages say what to do instead. Transport
//! security is rustls with the process's one crypto provider (ring); a
//! household's own CA can be added with `ca_file`.
//!
//! A request never waits for the mail server: [`Mailer::send`] hands the
//! message to a background task with its own deadline, so a slow or dead server
//! costs the person nothing but the mail, and the answer takes the same time
//! whether or not a mail was sent. Failures are logged without the address and
//! counted ([`MailStats`]); they never reach the person.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// Each SMTP command's deadline.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// The deadline for one whole message, connection to QUIT.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// How to reach the mail server, as configured (`[portal.smtp]`).
#[derive(Clone, Default)]
pub struct MailSettings {
    /// `smtp://host[:port]` (plain, port 25), `smtp+starttls://host[:port]`
    /// (STARTTLS required, port 587) or `smtps://host[:port]` (TLS, port 465).
    pub url: String,
    /// The sender, `CoHealth <cohealth@example.org>` or a bare address.
    pub from: String,
    /// User name for SMTP authentication, if the server wants one.
    pub username: Option<String>,
    /// Password for SMTP authentication.
    pub password: Option<String>,
    /// Extra CA certificate (PEM) trusted for the server's certificate.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

/// Why a mailer could not be set up or a message not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The SMTP URL is not one of the three accepted forms.
    #[error("`{0}`: use smtp://host[:port], smtp+starttls://host[:port] or smtps://host[:port]")]
    Url(String),
    /// The sender is not an address.
    #[error("the sender `{0}` is not an email address")]
    From(String),
    /// The recipient is not an address (the address itself is not repeated).
    #[error("the recipient is not an email address")]
    To,
    /// The CA file cannot be read or holds no certificate.
    #[error("ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The message could not be built.
    #[error("building the message: {0}")]
    Build(String),
    /// The server refused, the connection failed or TLS failed.
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    /// The whole exchange took longer than its deadline.
    #[error("SMTP: no answer within {} s", SEND_TIMEOUT.as_secs())]
    Timeout,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct MailStats {
    /// Messages the server accepted.
    pub sent: AtomicU64,
    /// Messages that could not be delivered to the server.
    pub failed: AtomicU64,
}

/// The scheme's security and default port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Security {
    Plain,
    StartTls,
    Wrapper,
}

/// `scheme://host[:port]` taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Endpoint {
    security: Security,
    host: String,
    port: u16,
}

fn parse_url(url: &str) -> Result<Endpoint, MailError> {
    let bad = || MailError::Url(url.to_owned());
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "smtp" => (Security::Plain, 25),
        "smtp+starttls" => (Security::StartTls, 587),
        "smtps" => (Security::Wrapper, 465),
        _ => return Err(bad()),
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '@', '?', '#']) {
        return Err(bad());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        match after.strip_prefix(':') {
            Some(p) => (host, p.parse().map_err(|_| bad())?),
            None if after.is_empty() => (host, default_port),
            None => return Err(bad()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, p)) => (host, p.parse().map_err(|_| bad())?),
            None => (authority, default_port),
        }
    };
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(Endpoint {
        security,
        host: host.to_owned(),
        port,
    })
}

impl MailSettings {
    /// Checks the URL and the sender without touching the network or files.
    pub fn check(&self) -> Result<(), MailError> {
        parse_url(&self.url)?;
        self.from
            .parse::<Mailbox>()
            .map_err(|_| MailError::From(self.from.clone()))?;
        Ok(())
    }
}

/// Sends plain-text emails; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    stats: Arc<MailStats>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").finish_non_exhaustive()
    }
}

impl Mailer {
    /// Sets up the transport (no connection is made until a message is sent).
    pub fn new(settings: &MailSettings) -> Result<Mailer, MailError> {
        settings.check()?;
        let endpoint = parse_url(&settings.url)?;
        let from = settings
            .from
            .parse::<Mailbox>()
            .map_err(|_| MailError::From(settings.from.clone()))?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&endpoint.host)
            .port(endpoint.port)
            .timeout(Some(COMMAND_TIMEOUT));
        if endpoint.security != Security::Plain {
            let mut tls = TlsParameters::builder(endpoint.host.clone());
            if let Some(path) = &settings.ca_file {
                let ca_error = |reason: String| MailError::CaFile {
                    path: path.display().to_string(),
                    reason,
                };
                let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
                tls = tls.add_root_certificate(cert);
            }
            let tls = tls.build_rustls()?;
            builder = builder.tls(match endpoint.security {
                Security::Wrapper => Tls::Wrapper(tls),
                _ => Tls::Required(tls),
            });
        }
        if let Some(user) = &settings.username {
            let password = settings.password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            stats: Arc::default(),
        })
    }

    /// The counters of this mailer (and its clones).
    pub fn stats(&self) -> &MailStats {
        &self.stats
    }

    /// Sends in the background and returns at once; the outcome is logged and
    /// counted. `kind` names the message in logs ("password reset").
    pub fn send(&self, kind: &'static str, to: &str, subject: &str, body: String) {
        let message = match self.message(to, subject, body) {
            Ok(m) => m,
            Err(e) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(mail.kind = kind, error = %e, "mail not sent");
                return;
            }
        };
        let mailer = self.clone();
        tokio::spawn(async move {
            let _ = mailer.deliver(kind, message).await;
        });
    }

    /// Sends and waits for the server's answer (within the send deadline).
    pub async fn send_now(
        &self,
        kind: &'static str,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<(), MailError> {
        let message = self.message(to, subject, body)?;
        self.deliver(kind, message).await
    }

    fn message(&self, to: &str, subject: &str, body: String) -> Result<Message, MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::To)?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Build(e.to_string()))
    }

    async fn deliver(&self, kind: &'static str, message: Message) -> Result<(), MailError> {
        let outcome = match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(MailError::Smtp(e)),
            Err(_) => Err(MailError::Timeout),
        };
        match &outcome {
            Ok(()) => {
                self.stats.sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!(mail.kind = kind, "mail handed to the server");
            }
            Err(e) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                // The server's reply can quote the address: only the kind of
                // failure at warn, the whole error at debug.
                tracing::warn!(
                    mail.kind = kind,
                    mail.failure = failure_kind(e),
                    "mail not sent"
                );
                tracing::debug!(mail.kind = kind, error = %e, "mail failure detail");
            }
        }
        outcome
    }
}

fn failure_kind(e: &MailError) -> &'static str {
    match e {
        MailError::Timeout => "timeout",
        MailError::Smtp(e) if e.is_timeout() => "timeout",
        MailError::Smtp(e) if e.is_tls() => "tls",
        MailError::Smtp(e) if e.is_permanent() => "refused",
        MailError::Smtp(e) if e.is_transient() => "deferred",
        MailError::Smtp(e) if e.is_client() => "client",
        MailError::Smtp(_) => "connection",
        _ => "message",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_security_and_port() {
        let e = parse_url("smtp+starttls://mail.example.org").unwrap();
        assert_eq!((e.security, e.port), (Security::StartTls, 587));
        let e = parse_url("smtps://mail.example.org:2465/").unwrap();
        assert_eq!(
            (e.security, e.host.as_str(), e.port),
            (Security::Wrapper, "mail.example.org", 2465)
        );
        let e = parse_url("smtp://[::1]:2525").unwrap();
        assert_eq!(
            (e.security, e.host.as_str(), e.port),
            (Security::Plain, "::1", 2525)
        );
        for bad in [
            "mail.example.org",
            "http://x",
            "smtp://",
            "smtp://x:port",
            "smtp://u:p@x",
            "smtp://x:0",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn settings_check_the_sender() {
        let mut s = MailSettings {
            url: "smtp://127.0.0.1:25".into(),
            from: "CoHealth <hub@example.org>".into(),
            ..Default::default()
        };
        assert!(s.check().is_ok());
        s.from = "not an address".into();
        assert!(matches!(s.check(), Err(MailError::From(_))));
        s.password = Some("pw-sentinel".into());
        assert!(!format!("{s:?}").contains("pw-sentinel"));
    }
}
