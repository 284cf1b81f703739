//! `cohealth`: the daemon, the portal and the admin tools in one binary.
//!
//! # Layout
//! - `cli`: flags and subcommands.
//! - `settings`: the layered configuration.
//! - `serve`: wiring and the one shutdown path.
//! - `commands`: the admin subcommands (`user`, `device`, `deadletters`, …).
//! - `tls`: HTTPS for the portal; `tls_cmd`: `cohealth tls self-signed`.

mod ble_cmd;
mod ble_live;
mod ble_settings;
mod cli;
mod commands;
mod derive;
mod export_job;
mod http_ingest;
mod serve;
mod settings;
mod tls;
mod tls_cmd;

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::settings::Settings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref(), &cli.overrides()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cohealth: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings.log);
    // One TLS crypto provider for the whole process (ring), chosen before any
    // connection: see ARCHITECTURE.md, "TLS".
    let _ = rustls::crypto::ring::default_provider().install_default();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cohealth: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cohealth: {e:#}");
            if e.downcast_ref::<commands::Missing>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve => serve::run(settings, serve::Parts::BOTH).await,
        Command::Daemon => serve::run(settings, serve::Parts::DAEMON).await,
        Command::Portal => serve::run(settings, serve::Parts::PORTAL).await,
        Command::Migrate => commands::migrate(&settings).await,
        Command::CheckConfig => commands::check_config(&settings),
        Command::User(c) => commands::user(&settings, c).await,
        Command::Device(c) => commands::device(&settings, c).await,
        Command::Deadletters(c) => commands::deadletters(&settings, c).await,
        Command::Ble(c) => ble_cmd::run(&settings, c).await,
        Command::Tls(cli::TlsCommand::SelfSigned { out, hosts, force }) => {
            let out = out.unwrap_or_else(|| settings.data_dir.clone());
            let written = tls_cmd::self_signed(&out, &hosts, force)?;
            print!("{}", tls_cmd::report(&written));
            Ok(())
        }
    }
    .map(|()| ExitCode::SUCCESS)
}

fn init_logging(filter: &str) {
    let mut filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // bluez-async says "Services already resolved." at info on every BLE connect.
    if !filter.to_string().contains("bluez_async")
        && let Ok(quiet) = "bluez_async=warn".parse()
    {
        filter = filter.add_directive(quiet);
    }
    // rustls warns about what clients send (odd alerts, unexpected messages):
    // anyone can reach the HTTPS port, so that is debug material, not ours to warn about.
    if !filter.to_string().contains("rustls")
        && let Ok(quiet) = "rustls=error".parse()
    {
        filter = filter.add_directive(quiet);
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}
