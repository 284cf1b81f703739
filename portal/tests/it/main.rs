//! The portal's integration tests: every handler through the router, no sockets.

mod api;
mod common;
mod pages;
mod year;
