//! Readings over HTTP: `POST /api/v1/ingest/health-auto-export`, for Health Auto
//! Export's REST mode. A bearer token says whose phone is posting: a personal
//! access token with the `ingest:write` scope (made on the portal's token page),
//! or a token bound to one device (`cohealth device token <device>`). The
//! payload takes the same decoder and the same batch write as the MQTT topic.

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
    let device = match authorised_device(&sink, &headers).await {
        Ok(device) => device,
        Err(refusal) => return refusal,
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

/// The device a post is from: the one its device token is bound to, or, for a
/// personal access token with the `ingest:write` scope, a device of its own
/// (`hae:token-<id>`) claimed for the token's owner on first use.
async fn authorised_device(sink: &StoreSink, headers: &HeaderMap) -> Result<DeviceId, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(unauthorised)?;
    let now = now_ms();
    let store = &sink.store;
    let failed = |e: cohealth_store::StoreError| {
        warn!(error = %e, "checking an ingest token failed");
        unauthorised()
    };
    if token.starts_with("chp_") {
        let (pat, user) = store
            .use_personal_token(&token_hash(token), now)
            .await
            .map_err(failed)?
            .ok_or_else(unauthorised)?;
        if !pat.has_scope("ingest:write") {
            return Err((
                StatusCode::FORBIDDEN,
                axum::Json(json!({ "error": "this token lacks the `ingest:write` scope" })),
            )
                .into_response());
        }
        let device = format!("hae:token-{}", pat.id);
        store
            .claim_device(&device, user.person_id, now)
            .await
            .map_err(failed)?;
        return DeviceId::parse(&device).ok_or_else(unauthorised);
    }
    store
        .use_ingest_token(&token_hash(token), now)
        .await
        .map_err(failed)?
        .as_deref()
        .and_then(DeviceId::parse)
        .ok_or_else(unauthorised)
}

fn unauthorised() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        axum::Json(
            json!({ "error": "a valid ingest token is required: a personal access token with the ingest:write scope, or `cohealth device token <device>`" }),
        ),
    )
        .into_response()
}
