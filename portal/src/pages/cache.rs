//! Rendered dashboard parts (tiles and charts) kept for a minute per person and
//! range, and whole pages per session (a page holds the session's CSRF token).
//!
//! The charts' windows move by the minute, so within one minute a page differs
//! only when new samples arrive; every committed sample passes the live channel,
//! and a person's entries are dropped as soon as one of theirs does. What does not
//! pass it (a bulk import, pending samples moved by a claim) shows within
//! [`TTL_MS`]. A change of time zone is part of the key and shows at once.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use cohealth_store::LiveSample;
use minijinja::Value;
use tokio::sync::broadcast::{self, error::TryRecvError};

/// How long an entry may serve, ms.
pub(crate) const TTL_MS: i64 = 60_000;
const MAX_ENTRIES: usize = 4096;

/// (person, range, time zone, minute of "now").
type Key = (i64, &'static str, String, i64);

/// What a dashboard page caches: its tiles and its charts, ready to render.
#[derive(Clone, Debug)]
pub(crate) struct Parts {
    pub tiles: Value,
    pub charts: Value,
}

/// The cache, shared by every request.
pub(crate) struct DashboardCache {
    entries: Mutex<HashMap<Key, (i64, Parts)>>,
    pages: Mutex<HashMap<(Key, String), (i64, Bytes)>>,
    live: Mutex<broadcast::Receiver<LiveSample>>,
}

impl DashboardCache {
    /// A cache that watches `live` for new samples.
    pub fn new(live: &broadcast::Sender<LiveSample>) -> DashboardCache {
        DashboardCache {
            entries: Mutex::default(),
            pages: Mutex::default(),
            live: Mutex::new(live.subscribe()),
        }
    }

    /// The parts for `key`, if fresh and no new sample of the person arrived.
    pub fn get(&self, person: i64, range: &'static str, tz: &str, now_ms: i64) -> Option<Parts> {
        self.forget_changed();
        let entries = self.entries.lock().ok()?;
        let (made, parts) = entries.get(&key(person, range, tz, now_ms))?;
        (now_ms - made < TTL_MS).then(|| parts.clone())
    }

    /// Keeps `parts` for `key`.
    pub fn put(&self, person: i64, range: &'static str, tz: &str, now_ms: i64, parts: Parts) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        make_room(&mut entries, now_ms);
        entries.insert(key(person, range, tz, now_ms), (now_ms, parts));
    }

    /// The page rendered for session `id_hash`, if still fresh.
    pub fn page(
        &self,
        person: i64,
        range: &'static str,
        tz: &str,
        now_ms: i64,
        id_hash: &str,
    ) -> Option<Bytes> {
        self.forget_changed();
        let pages = self.pages.lock().ok()?;
        let (made, page) = pages.get(&(key(person, range, tz, now_ms), id_hash.to_owned()))?;
        (now_ms - made < TTL_MS).then(|| page.clone())
    }

    /// Keeps a page rendered for session `id_hash`.
    pub fn put_page(
        &self,
        person: i64,
        range: &'static str,
        tz: &str,
        now_ms: i64,
        id_hash: &str,
        page: Bytes,
    ) {
        let Ok(mut pages) = self.pages.lock() else {
            return;
        };
        make_room(&mut pages, now_ms);
        pages.insert(
            (key(person, range, tz, now_ms), id_hash.to_owned()),
            (now_ms, page),
        );
    }

    /// Drops the entries of every person with a sample on the live channel.
    fn forget_changed(&self) {
        let (Ok(mut live), Ok(mut entries), Ok(mut pages)) =
            (self.live.lock(), self.entries.lock(), self.pages.lock())
        else {
            return;
        };
        loop {
            match live.try_recv() {
                Ok(sample) => {
                    entries.retain(|k, _| k.0 != sample.person_id);
                    pages.retain(|k, _| k.0.0 != sample.person_id);
                }
                Err(TryRecvError::Lagged(_)) => {
                    entries.clear();
                    pages.clear();
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        }
    }
}

fn key(person: i64, range: &'static str, tz: &str, now_ms: i64) -> Key {
    (person, range, tz.to_owned(), now_ms.div_euclid(60_000))
}

/// Drops stale entries when a map is full, and everything if all are fresh.
fn make_room<K, V>(map: &mut HashMap<K, (i64, V)>, now_ms: i64) {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, (made, _)| now_ms - *made < TTL_MS);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
    }
}
