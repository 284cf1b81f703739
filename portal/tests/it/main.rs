//! The portal's integration tests: every handler through the router, no sockets.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod access;
mod accounts;
mod api;
mod common;
mod data;
mod export;
mod mail;
mod pages;
mod security;
mod twofactor;
mod year;

#[path = "../../../tests/e2e/smtp_sink.rs"]
#[allow(dead_code, reason = "shared with the e2e tests")]
mod smtp_sink;
