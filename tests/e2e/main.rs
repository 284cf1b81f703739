//! End-to-end tests: the real `cohealth` binary, a private Mosquitto per test,
//! real SQLite files. Run with `cargo test --workspace` (see README.md).

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]
#![allow(missing_docs)]

mod browser;
mod browser_accounts;
mod exactly_once;
mod gateways;

mod ble;
mod bluez;
mod broker_auth;
mod harness;
mod http_ingest;
mod log_secrets;
mod mail;
mod publisher;
mod replay;
mod serve;
mod smtp_sink;
mod tls;
mod twofactor;
