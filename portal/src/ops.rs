//! Operational endpoints: liveness and Prometheus counters.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

/// `GET /healthz`: answers while the process runs.
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /metrics`: ingest counters in Prometheus text format.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.stats.render(),
    )
}
