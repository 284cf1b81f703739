//! Readings over HTTP: `POST /api/v1/ingest/health-auto-export`, for Health Auto
//! Export's REST mode. A bearer token bound to one device (made with
//! `cohealth device token <device>`) says whose phone is posting; the payload takes
//! the same decoder and the same batch write as the MQTT topic.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use cohealth_ingest::DeviceId;
use cohealth_ingest::hae::decode_hae;
use cohealth_ingest::mqtt::{Batch, DEAD_LETTER_PAYLOAD_MAX, DeadLetter, now_ms};
use cohealth_ingest::stats::IngestStats;
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::serve::StoreSink;

/// Where Health Auto Export posts.
const PATH: &str = "/api/v1/ingest/health-auto-export";

/// Largest payload accepted: a month of minute-level exports fits comfortably.
const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The ingest routes, to merge into the portal's router.
pub fn router(sink: Arc<StoreSink>) -> Router {
    Router::new()
        .route(
            "/api/v1/ingest/health-auto-export",
            post(health_auto_export),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(sink)
}

/// The hash under which a token is stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh random token (32 bytes, hex).
pub fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(format!("cht_{}", hex::encode(bytes)))
}

async fn health_auto_export(
    State(sink): State<Arc<StoreSink>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(device) = authorised_device(&sink, &headers).await else {
        return unauthorised();
    };
    IngestStats::add(&sink.stats.readings_in, 1);
    let decoded = match decode_hae(&device, &body, now_ms()) {
        Ok(d) => d,
        Err(e) => {
            IngestStats::add(&sink.stats.dead_letters, 1);
            warn!(device.id = %device, error = %e, "refused a Health Auto Export post");
            let cut = body.len().min(DEAD_LETTER_PAYLOAD_MAX);
            let dead = DeadLetter {
                topic: format!("http:{PATH}#{device}"),
                error: e.to_string(),
                payload: body[..cut].to_vec(),
                received_ms: now_ms(),
            };
            let kept = Batch {
                readings: Vec::new(),
                dead: vec![dead],
            };
            if let Err(e) = sink.store.commit_batch(&kept).await {
                warn!(error = %e, "could not keep the refused post as a dead letter");
            }
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "error": e.to_string() })),
            )
                .into_response();
        }
    };
    IngestStats::add(&sink.stats.rejected_values, decoded.skipped.len() as u64);
    let batch = Batch {
        readings: decoded.readings,
        dead: Vec::new(),
    };
    match sink.commit_counted(&batch).await {
        Ok(report) => {
            info!(device.id = %device, samples.written = report.written, "Health Auto Export post stored");
            let skipped: Vec<_> = decoded
                .skipped
                .iter()
                .map(|(m, why)| json!({ "metric": m, "reason": why }))
                .collect();
            axum::Json(json!({
                "samples_written": report.written,
                "duplicates": report.duplicates,
                "waiting_for_claim": report.pending,
                "skipped": skipped,
            }))
            .into_response()
        }
        Err(e) => {
            tracing::error!(device.id = %device, error = %e, "storing a Health Auto Export post failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "error": "store unavailable, retry later" })),
            )
                .into_response()
        }
    }
}

async fn authorised_device(sink: &StoreSink, headers: &HeaderMap) -> Option<DeviceId> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    if token.is_empty() {
        return None;
    }
    match sink
        .store
        .use_ingest_token(&token_hash(token), now_ms())
        .await
    {
        Ok(device) => device.as_deref().and_then(DeviceId::parse),
        Err(e) => {
            warn!(error = %e, "checking an ingest token failed");
            None
        }
    }
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(
            json!({ "error": "a valid ingest token is required (cohealth device token <device>)" }),
        ),
    )
        .into_response()
}
