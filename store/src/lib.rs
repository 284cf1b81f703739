//! CoHealth's store: one API over SQLite (the embedded default) and PostgreSQL.
//!
//! # Layout
//! - [`Store`]: opening, migrating, and the backend switch.
//! - `ingest`: the durable, idempotent batch write the daemon acks after.
//! - `rollup`: minute, hour and day aggregates kept as samples arrive.
//! - `deletion`, `retention`: removing a person's data, and old raw samples.
//! - `mfa`: two-factor state (TOTP secret and last step, recovery codes, the
//!   household's requirement).
//! - `devices`, `people`, `query`, `deadletters`: the rest of the API.
//! - `export`: one person's everything, page by page, for exports.
//! - `email_tokens`: single-use reset and verification links.
//!
//! Every query is a runtime query written once in portable SQL with `$n` binds
//! (SQLite accepts them too); a macro runs it against whichever pool is open. The
//! SQL dialects differ only in the migrations, kept per backend.

mod accounts;
mod bulk;
mod counters;
mod dashboard;
mod deadletters;
mod deletion;
mod devices;
mod email_tokens;
mod export;
mod ingest;
mod metrics;
mod mfa;
mod migrate;
mod people;
mod personal_tokens;
mod query;
mod retention;
mod rollup;
mod sharing;
mod tokens;
mod tx;

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use accounts::{
    BLOOD_TYPES, HouseholdSettings, InvitationRow, Member, NewInvitation, Profile, plain_name,
};
pub use bulk::BulkReport;
pub use deadletters::DeadLetterRow;
pub use deletion::{DELETED_ACTOR_NAME, DELETION_GRACE_MS, DeletionRequest, DeviceDeletion};
pub use devices::{ClaimOutcome, DeviceRow};
pub use email_tokens::{EmailToken, NewEmailToken, TokenPurpose};
pub use export::{
    ExportAccount, ExportDay, ExportDevice, ExportMinute, ExportPressure, ExportProfile,
    ExportSample, SampleCursor,
};
pub use ingest::{CommitReport, LIVE_MAX, LiveSample};
pub use metrics::{metric_from_id, metric_id};
pub use mfa::{StoredRecoveryCode, TotpState};
pub use people::{NewSession, NewUser, Person, Role, SessionRow, SessionStage, UserRow};
pub use personal_tokens::PersonalTokenRow;
pub use query::{Bucket, SampleRow, SeriesPoint};
pub use retention::RETENTION_MAX_DAYS;
pub use rollup::{Agg, RawPoint, day_start, local_days, minute_aggregates};
pub use sharing::{AuditEntry, AuditRow, Category, GrantRow, PersonFacts};

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration {version}: {source}")]
    Migration {
        /// The migration's number.
        version: i64,
        /// The database error.
        source: sqlx::Error,
    },
    /// The database URL is neither a file path, `sqlite:` nor `postgres://`.
    #[error("unsupported database URL `{0}`: use a file path, sqlite://… or postgres://…")]
    Url(String),
    /// A named record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// A unique value (email, username) is taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// A value is not acceptable (bad time zone, bad id).
    #[error("invalid {0}")]
    Invalid(String),
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs one body against whichever pool is open; `$p` is bound to the pool.
macro_rules! on_pool {
    ($store:expr, $p:ident => $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($p) => $body,
            $crate::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// (device id, source kind, sub-source): what names one source.
pub(crate) type SourceKey = (String, String, String);

/// The store handle; cheap to clone, shared by daemon and portal.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
    pub(crate) sources: Arc<Mutex<HashMap<SourceKey, i64>>>,
    pub(crate) limits: Limits,
}

/// Bounds on the pending area and dead letters.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// How long unclaimed devices' samples wait, ms.
    pub pending_ttl_ms: i64,
    /// Most samples the pending area holds; the oldest go first.
    pub pending_max: i64,
    /// Most dead letters kept; the oldest go first.
    pub dead_letters_max: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            pending_ttl_ms: 24 * 3600 * 1000,
            pending_max: 200_000,
            dead_letters_max: 1000,
        }
    }
}

impl Store {
    /// Opens the database at `url` and applies pending migrations.
    ///
    /// `url` is `postgres://…`, `sqlite://path`, or a plain file path (SQLite).
    pub async fn open(url: &str, limits: Limits) -> Result<Store> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Pool::Postgres(pool)
        } else {
            Pool::Sqlite(open_sqlite(url).await?)
        };
        let store = Store {
            pool,
            sources: Arc::default(),
            limits,
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// Which backend is open: `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Closes every connection, waiting for open transactions.
    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// SQLite in WAL mode with `synchronous=FULL`: a commit is on disk before we ack.
/// Creates `dir` (and its parents) readable by the owner only.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the database file, if new, as 0600 before SQLite opens it: SQLite
/// keeps an existing file's mode and gives its `-wal` and `-shm` files the same
/// one. An existing file keeps the mode its admin chose.
fn private_file(path: &Path) -> std::io::Result<()> {
    if path.as_os_str().is_empty() || path.to_str() == Some(":memory:") || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

async fn open_sqlite(url: &str) -> Result<SqlitePool> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.contains("://") {
        return Err(StoreError::Url(url.to_owned()));
    }
    if let Some(dir) = Path::new(path).parent()
        && !dir.as_os_str().is_empty()
        && !dir.exists()
    {
        private_dir(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
    }
    // The database holds health data, hashes and the API's signing key: create
    // it readable by its owner only, whatever the umask of a hand-run process.
    private_file(Path::new(path)).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?)
}
