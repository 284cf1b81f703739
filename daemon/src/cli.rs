//! The command line: global flags that override the configuration, and the
//! subcommands.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::settings::{MqttOverride, Overrides};

/// CoHealth: a self-hosted health hub.
#[derive(Debug, Parser)]
#[command(name = "cohealth", version, about)]
pub struct Cli {
    /// Configuration file (TOML); every key is documented in config/cohealth.toml.
    #[arg(long, global = true, env = "COHEALTH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database and other state [default: ./data].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Address the portal listens on [default: 127.0.0.1:8080].
    #[arg(long, global = true)]
    pub listen: Option<SocketAddr>,
    /// MQTT broker URL, mqtt:// or mqtts:// [default: mqtt://127.0.0.1:1883].
    #[arg(long, global = true)]
    pub mqtt: Option<String>,
    /// Database URL: a SQLite file path or postgres://… [default: <data-dir>/cohealth.db].
    #[arg(long, global = true)]
    pub database: Option<String>,
    /// Log filter, e.g. `info` or `cohealth_ingest=debug`.
    #[arg(long, global = true)]
    pub log: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon and the portal in one process (the home-hub default).
    Serve,
    /// Run only the daemon (ingest, rules).
    Daemon,
    /// Run only the portal.
    Portal,
    /// Apply database migrations and exit.
    Migrate,
    /// Load and validate the configuration, print it (secrets hidden) and exit.
    CheckConfig,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage devices and claims.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Inspect messages that could not be decoded.
    #[command(subcommand)]
    Deadletters(DeadLetterCommand),
    /// Bluetooth LE tools: decode a frame, replay a recorded session.
    #[command(subcommand)]
    Ble(BleCommand),
    /// HTTPS helpers.
    #[command(subcommand)]
    Tls(TlsCommand),
}

/// `cohealth tls …`.
#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Write a self-signed certificate (cert.pem) and key (key.pem, mode 0600) for
    /// HTTPS on the LAN, valid for one year, and print the settings that use them.
    SelfSigned {
        /// Directory for the two files [default: the data directory].
        #[arg(long)]
        out: Option<PathBuf>,
        /// A name or address the portal is reached by (repeatable); this machine's
        /// name, localhost, 127.0.0.1 and ::1 are always added.
        #[arg(long = "host", value_name = "NAME")]
        hosts: Vec<String>,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
}

/// `cohealth ble …`.
#[derive(Debug, Subcommand)]
pub enum BleCommand {
    /// Decode one characteristic value and print it as JSON (spec units and ours).
    Decode {
        /// Characteristic UUID: 2a37, 0x2A37 or the full 128-bit form.
        characteristic: String,
        /// The value's bytes in hex (spaces and colons allowed).
        hex: String,
        /// Device model, for vendors that reuse SIG characteristics (e.g. MIBFS).
        #[arg(long)]
        model: Option<String>,
    },
    /// Feed a recorded session (see README, "Replay files") into the store.
    Replay {
        /// The replay file.
        file: PathBuf,
    },
    /// Record live adverts and claimed devices' frames into a replay file (for
    /// bug reports); nothing is stored.
    Record {
        /// The replay file to write.
        file: PathBuf,
        /// Stop after this many seconds (default: at Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
    },
}

/// `cohealth user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from stdin or a prompt, never argv.
    Add {
        /// Email address (also a sign-in name).
        email: String,
        /// Optional user name for signing in.
        #[arg(long)]
        username: Option<String>,
        /// Name shown in the portal [default: the part of the email before @].
        #[arg(long)]
        name: Option<String>,
        /// IANA time zone for days and schedules.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    /// Print a one-time link (valid 30 minutes) that sets a new password, for
    /// households without outgoing mail. Older unused links of the account stop
    /// working.
    Reset {
        /// Email or user name of the account.
        user: String,
    },
    /// Switch two-factor sign-in off for an account whose owner lost both the
    /// authenticator app and the recovery codes; ends the account's sessions.
    #[command(name = "reset-2fa")]
    ResetTwoFactor {
        /// The account's email or user name.
        login: String,
    },
}

/// `cohealth device …`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// List every device seen: id, name, model, last seen, battery, RSSI, claim.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Claim a device for a person (by email or user name).
    Claim {
        /// Device id, in any MAC spelling or as the source named it.
        device: String,
        /// Email or user name of the owner.
        user: String,
    },
    /// Make a bearer token for a device that posts over HTTP (Health Auto Export).
    Token {
        /// Device id, e.g. hae:annas-iphone.
        device: String,
        /// Revoke the device's tokens instead.
        #[arg(long)]
        revoke: bool,
    },
}

/// `cohealth deadletters …`.
#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// Show the newest dead letters.
    List {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

impl Cli {
    /// The flags as the top configuration layer.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            listen: self.listen,
            database: self.database.clone(),
            log: self.log.clone(),
            mqtt: self.mqtt.clone().map(|url| MqttOverride { url }),
        }
    }
}
