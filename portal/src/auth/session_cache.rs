//! Recently checked sessions, so that a page view does not cost two store reads.
//!
//! An entry serves for [`FRESH`] of real time; signing out here forgets it at
//! once. A session ended elsewhere (another portal process, a future admin
//! command) stays usable here for at most that long.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cohealth_store::{SessionStage, UserRow};

/// How long a checked session is trusted without asking the store again.
pub(crate) const FRESH: Duration = Duration::from_secs(10);
const MAX_ENTRIES: usize = 10_000;

/// What the store said about a session.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub user: UserRow,
    pub csrf: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub stage: SessionStage,
    /// When the account's requested deletion is due, if one is pending.
    pub deletion_due_ms: Option<i64>,
}

/// Sessions by the hash of their id.
#[derive(Default)]
pub(crate) struct SessionCache {
    entries: Mutex<HashMap<String, (Instant, Record)>>,
}

impl SessionCache {
    /// The record for `id_hash`, if checked within [`FRESH`].
    pub fn get(&self, id_hash: &str) -> Option<Record> {
        let entries = self.entries.lock().ok()?;
        let (at, record) = entries.get(id_hash)?;
        (at.elapsed() < FRESH).then(|| record.clone())
    }

    /// Remembers a record just read from the store.
    pub fn put(&self, id_hash: &str, record: Record) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < FRESH);
        }
        entries.insert(id_hash.to_owned(), (Instant::now(), record));
    }

    /// Forgets a session (signed out or expired).
    pub fn forget(&self, id_hash: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(id_hash);
        }
    }

    /// Forgets every session of an account (signed out everywhere, password
    /// changed, role changed), so none outlives the change here.
    pub fn forget_user(&self, user_id: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, (_, record)| record.user.id != user_id);
        }
    }
}
