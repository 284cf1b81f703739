//! The portal's integration tests: every handler through the router, no sockets.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod access;
mod accounts;
mod api;
mod common;
mod pages;
mod security;
mod year;
