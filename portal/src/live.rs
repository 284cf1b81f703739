//! `GET /live`: the signed-in person's new samples as server-sent events.
//!
//! Every committed sample of every person passes the broadcast channel; each
//! stream keeps only its own person's. A slow page that falls behind skips what it
//! missed (the next reload shows it) rather than holding memory for it. Streams end
//! when the portal shuts down, so graceful shutdown does not wait on open pages,
//! and when their session ends (signed out elsewhere, timed out, password
//! changed): the session is checked again every [`RECHECK`].

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::Portal;
use crate::auth::session::Session;

/// One event's data: `{"metric":"heart_rate","ts_ms":…,"value":…,"unit":"bpm"}`.
#[derive(serde::Serialize)]
struct LiveEvent {
    metric: &'static str,
    ts_ms: i64,
    value: f64,
    unit: &'static str,
}

/// How often an open stream makes sure its session still stands.
const RECHECK: Duration = Duration::from_secs(5);

/// Whether the session behind a stream is still signed in.
async fn still_signed_in(portal: &Portal, id_hash: &str) -> bool {
    let now = portal.clock.now_ms();
    match portal.app.store.session(id_hash).await {
        Ok(Some(row)) => {
            row.stage == cohealth_store::SessionStage::Full
                && now - row.last_seen_ms <= crate::auth::session::IDLE_MS
                && now - row.created_ms <= crate::auth::session::LIFETIME_MS
        }
        Ok(None) => false,
        // A store hiccup does not end a stream; the next check decides.
        Err(_) => true,
    }
}

/// `GET /live`.
pub(crate) async fn stream(
    State(portal): State<Portal>,
    session: Session,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let person = session.user.person_id;
    let receiver = portal.app.live.subscribe();
    tracing::debug!(person.id = person, "live stream opened");
    let id_hash = session.id_hash;
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = (receiver, portal, recheck, id_hash);
    let events = futures::stream::unfold(
        state,
        move |(mut rx, portal, mut recheck, id_hash)| async move {
            loop {
                let next = tokio::select! {
                    () = portal.stop.cancelled() => return None,
                    _ = recheck.tick() => {
                        if still_signed_in(&portal, &id_hash).await {
                            continue;
                        }
                        tracing::debug!(
                            person.id = person,
                            "live stream closed: the session ended"
                        );
                        return None;
                    }
                    next = rx.recv() => next,
                };
                match next {
                    Ok(s) if s.person_id == person => {
                        let data = LiveEvent {
                            metric: s.metric.as_str(),
                            ts_ms: s.ts_ms,
                            value: s.value,
                            unit: s.metric.unit(),
                        };
                        let event = Event::default()
                            .event("sample")
                            .json_data(data)
                            .unwrap_or_default();
                        return Some((Ok(event), (rx, portal, recheck, id_hash)));
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
}
