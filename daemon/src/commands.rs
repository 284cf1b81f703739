//! The admin subcommands: short-lived, they open the store, act and exit.
//! Their output is for people, so it goes to stdout as plain text or JSON.

use std::io::{IsTerminal, Read, Write};

use anyhow::{Context, bail};
use cohealth_ingest::DeviceId;
use cohealth_portal::auth::password::hash_password;
use cohealth_store::{NewUser, Store};

use crate::cli::{DeadLetterCommand, DeviceCommand, UserCommand};
use crate::serve::open_store;
use crate::settings::Settings;

/// `cohealth migrate`.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    println!("database is up to date ({})", store.backend());
    store.close().await;
    Ok(())
}

/// `cohealth check-config`.
pub fn check_config(settings: &Settings) -> anyhow::Result<()> {
    // Device ids and models in [[ble.devices]] are checked, not just parsed.
    settings.ble.manager_settings()?;
    // So are the HTTPS certificate and key.
    if let (Some(cert), Some(key)) = (&settings.portal.tls_cert, &settings.portal.tls_key) {
        let tls = crate::tls::load(cert, key)?;
        if tls.self_signed {
            println!("# portal.tls_cert is self-signed: no HSTS unless portal.hsts = \"on\"");
        }
    }
    println!("{}\nconfiguration is valid", settings.to_toml_hidden()?);
    Ok(())
}

/// A named account or record that does not exist: the process exits with 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Missing(pub String);

/// `cohealth user …`.
pub async fn user(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    let (email, username, name, time_zone) = match command {
        UserCommand::Add {
            email,
            username,
            name,
            time_zone,
        } => (email, username, name, time_zone),
        UserCommand::Reset { user } => return reset_link(settings, &user).await,
        UserCommand::ResetTwoFactor { login } => return reset_two_factor(settings, &login).await,
    };
    check_email(&email)?;
    if let Some(name) = &username {
        check_username(name)?;
    }
    let password = read_password()?;
    if password.chars().count() < 12 || password.trim().is_empty() {
        bail!("the password must have at least 12 characters, not all spaces");
    }
    let hash = hash_password(&password)?;
    let display = name.unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let store = open_store(settings).await?;
    let user = store
        .add_user(
            &NewUser {
                email: &email,
                username: username.as_deref(),
                display_name: &display,
                password_hash: &hash,
                time_zone: &time_zone,
            },
            now_ms(),
        )
        .await?;
    println!("created {} ({})", user.email, user.role.as_str());
    store.close().await;
    Ok(())
}

/// `cohealth user reset`: prints a one-time password-reset link.
async fn reset_link(settings: &Settings, login: &str) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let Some(user) = store.user_by_login(login).await? else {
        store.close().await;
        return Err(Missing(format!("no account `{login}`")).into());
    };
    let link = cohealth_portal::auth::email_token::create_reset_link(
        &store,
        &user,
        &settings.public_url(),
        now_ms(),
    )
    .await?;
    store.close().await;
    println!("{link}");
    eprintln!(
        "one-time link for {login}: it works once, for 30 minutes, and sets a new password \
         (every session of the account ends). Older unused links of the account no longer work."
    );
    Ok(())
}

/// `cohealth user reset-2fa`: the way back in for someone who lost their
/// authenticator and every recovery code. Whoever can run this already holds
/// the database, so it asks nothing more.
async fn reset_two_factor(settings: &Settings, login: &str) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let Some(user) = store.user_by_login(login).await? else {
        store.close().await;
        return Err(Missing(format!("no account `{login}`")).into());
    };
    if user.totp_enabled_ms.is_none() {
        store.close().await;
        println!("{} has no two-factor sign-in; nothing changed", user.email);
        return Ok(());
    }
    store.disable_totp(user.id).await?;
    let ended = store.delete_sessions_of(user.id, None).await?;
    store.close().await;
    println!(
        "two-factor sign-in is off for {}; {ended} session(s) ended. They can enrol again on the Two-factor page.",
        user.email
    );
    Ok(())
}

/// A plausible address: one `@`, something before it, a dotted domain after it.
fn check_email(email: &str) -> anyhow::Result<()> {
    let ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    anyhow::ensure!(ok, "`{email}` is not an email address");
    Ok(())
}

/// User names sign in like emails, so they may not contain `@` (and so can
/// never equal someone's email) and must be visible text.
fn check_username(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 64
        && !name.contains('@')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-".contains(c));
    anyhow::ensure!(
        ok,
        "user names are 1 to 64 letters, digits, dots, dashes or underscores, without @"
    );
    Ok(())
}

/// Reads a password from a prompt on a terminal, else the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            bail!("the passwords differ");
        }
        return Ok(first);
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the password from stdin")?;
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

/// `cohealth device …`.
pub async fn device(settings: &Settings, command: DeviceCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match command {
        DeviceCommand::List { json } => list_devices(&store, json).await?,
        DeviceCommand::Claim { device, user } => {
            let moved = claim(&store, &device, &user).await?;
            let id = parse_device(&device)?;
            println!("claimed {id} for {user}; {moved} waiting samples moved");
        }
        DeviceCommand::Token { device, revoke } => {
            let id = parse_device(&device)?;
            if revoke {
                let n = store.revoke_ingest_tokens(id.as_str()).await?;
                println!("revoked {n} token(s) of {id}");
            } else {
                let token = crate::http_ingest::new_token()?;
                store
                    .create_ingest_token(
                        &crate::http_ingest::token_hash(&token),
                        id.as_str(),
                        now_ms(),
                    )
                    .await?;
                println!("{token}");
                eprintln!(
                    "token for {id}, shown once. In Health Auto Export (REST API): URL \
                     http://<this host>:{}/api/v1/ingest/health-auto-export, header \
                     Authorization: Bearer <token>",
                    settings.listen.port()
                );
            }
        }
    }
    store.close().await;
    Ok(())
}

async fn list_devices(store: &Store, json: bool) -> anyhow::Result<()> {
    let devices = store.list_devices().await?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &devices)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<20} {:<18} {:<22} {:<20} {:>7} {:>5}  claimed",
        "id", "name", "model", "last seen (UTC)", "battery", "rssi"
    )?;
    for d in devices {
        let seen = chrono::DateTime::from_timestamp_millis(d.last_seen_ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default();
        let battery = d
            .battery
            .map(|b| format!("{b:.0}%"))
            .unwrap_or_else(|| "-".into());
        let rssi = d.rssi.map(|r| r.to_string()).unwrap_or_else(|| "-".into());
        let claimed = match d.person_id {
            Some(p) => format!("yes (person {p})"),
            None => format!("no ({} waiting)", d.pending),
        };
        writeln!(
            out,
            "{:<20} {:<18} {:<22} {:<20} {:>7} {:>5}  {claimed}",
            d.id,
            cell(d.name.as_deref(), 18),
            cell(d.model.as_deref(), 22),
            seen,
            battery,
            rssi,
        )?;
    }
    Ok(())
}

/// A table cell of at most `width` characters ("-" when empty, "…" when cut).
fn cell(text: Option<&str>, width: usize) -> String {
    let text = text.unwrap_or("-");
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(width - 1).collect();
    cut.push('…');
    cut
}

async fn claim(store: &Store, device: &str, user: &str) -> anyhow::Result<u64> {
    let id = parse_device(device)?;
    let seen = store
        .list_devices()
        .await?
        .iter()
        .any(|d| d.id == id.as_str());
    if !seen {
        eprintln!("note: {id} has not been heard yet; it is claimed in advance");
    }
    let owner = store
        .user_by_login(user)
        .await?
        .with_context(|| format!("no account `{user}`"))?;
    Ok(store
        .claim_device(id.as_str(), owner.person_id, now_ms())
        .await?
        .moved)
}

/// A device id from the command line. Something written like a MAC address must be
/// one: a typo there would otherwise claim a device that never exists.
fn parse_device(raw: &str) -> anyhow::Result<DeviceId> {
    let raw = raw.trim();
    let mac_shaped = raw.len() == 17
        && raw.char_indices().all(|(i, c)| {
            if i % 3 == 2 {
                c == ':' || c == '-'
            } else {
                c.is_ascii_alphanumeric()
            }
        });
    let id = DeviceId::parse(raw).with_context(|| format!("`{raw}` is not a device id"))?;
    anyhow::ensure!(
        !mac_shaped || id.is_mac(),
        "`{raw}` is not a valid MAC address"
    );
    Ok(id)
}

/// Applies `[[claims]]` from the configuration at start.
pub async fn apply_config_claims(store: &Store, settings: &Settings) -> anyhow::Result<()> {
    for c in &settings.claims {
        claim(store, &c.device, &c.user)
            .await
            .with_context(|| format!("claiming {} from the configuration", c.device))?;
    }
    Ok(())
}

/// `cohealth deadletters …`.
pub async fn deadletters(settings: &Settings, command: DeadLetterCommand) -> anyhow::Result<()> {
    let DeadLetterCommand::List { limit } = command;
    let store = open_store(settings).await?;
    let mut out = std::io::stdout().lock();
    for d in store.list_dead_letters(limit).await? {
        let at = chrono::DateTime::from_timestamp_millis(d.received_ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        writeln!(
            out,
            "{at}  {}  ({} bytes)  {}",
            d.topic, d.payload_len, d.error
        )?;
    }
    store.close().await;
    Ok(())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
