//! `GET /live`: the signed-in person's new samples as server-sent events.
//!
//! Every committed sample of every person passes the broadcast channel; each
//! stream keeps only its own person's. A slow page that falls behind skips what it
//! missed (the next reload shows it) rather than holding memory for it. Streams end
//! when the portal shuts down, so graceful shutdown does not wait on open pages.

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

/// `GET /live`.
pub(crate) async fn stream(
    State(portal): State<Portal>,
    session: Session,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let person = session.user.person_id;
    let receiver = portal.app.live.subscribe();
    tracing::debug!(person.id = person, "live stream opened");
    let events =
        futures::stream::unfold((receiver, portal.stop), move |(mut rx, stop)| async move {
            loop {
                let next = tokio::select! {
                    () = stop.cancelled() => return None,
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
                        return Some((Ok(event), (rx, stop)));
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return None,
                }
            }
        });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
}
