//! Fresh databases for the store suite: a temp SQLite file, or a new PostgreSQL
//! database per test (server from `COHEALTH_TEST_POSTGRES`, default the local one).

use std::sync::atomic::{AtomicU32, Ordering};

use cohealth_store::{Limits, NewUser, Store};
use sqlx::Connection;

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A store on a fresh database, and what keeps it alive.
pub struct TestStore {
    pub store: Store,
    /// The database's URL, for tests that look at it directly.
    #[allow(dead_code)]
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn postgres_admin_url() -> String {
    std::env::var("COHEALTH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/postgres".into())
}

pub async fn fresh(backend: Backend, limits: Limits) -> TestStore {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = dir.path().join("t.db").display().to_string();
            let store = Store::open(&url, limits).await.expect("open sqlite");
            TestStore {
                store,
                url,
                _dir: Some(dir),
            }
        }
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let name = format!(
                "cohealth_t_{}_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst),
                chrono::Utc::now().timestamp_micros() % 1_000_000
            );
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL at {admin} is needed for this test: {e}"));
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create database");
            let (base, _) = admin.rsplit_once('/').expect("database url");
            let url = format!("{base}/{name}");
            let store = Store::open(&url, limits).await.expect("open postgres");
            TestStore {
                store,
                url,
                _dir: None,
            }
        }
    }
}

/// Creates an account and returns its person id.
pub async fn person(store: &Store, email: &str, zone: &str) -> i64 {
    let user = store
        .add_user(
            &NewUser {
                email,
                username: None,
                display_name: "Test",
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                time_zone: zone,
            },
            0,
        )
        .await
        .expect("add user");
    user.person_id
}

/// Runs one async test body on both backends, as two tests.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                $body(common::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                $body(common::Backend::Postgres).await;
            }
        }
    };
}
