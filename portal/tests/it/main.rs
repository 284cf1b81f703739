//! The portal's integration tests: every handler through the router, no sockets.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod accounts;
mod api;
mod common;
mod export;
mod pages;
mod security;
mod year;
