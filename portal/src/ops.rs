//! Operational endpoints: liveness and Prometheus counters.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use std::fmt::Write;
use std::sync::atomic::Ordering;

use crate::Portal;

/// `GET /healthz`: answers while the process runs.
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /metrics`: ingest counters (and mail counters when mail is on) in
/// Prometheus text format.
pub(crate) async fn metrics(State(portal): State<Portal>) -> impl IntoResponse {
    let mut text = portal.app.stats.render();
    if let Some((mailer, _)) = &portal.mail {
        let stats = mailer.stats();
        for (name, help, value) in [
            (
                "cohealth_mail_sent_total",
                "Emails the mail server accepted.",
                stats.sent.load(Ordering::Relaxed),
            ),
            (
                "cohealth_mail_failed_total",
                "Emails that could not be handed to the mail server.",
                stats.failed.load(Ordering::Relaxed),
            ),
        ] {
            let _ = write!(
                text,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            );
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
