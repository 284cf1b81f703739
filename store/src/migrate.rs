//! Per-backend migrations, applied in order at start and recorded in
//! `schema_migration`. A landed migration is never edited; fixes are new files.

use crate::{Pool, Result, Store, StoreError};

const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (2, include_str!("../migrations/sqlite/0002_portal.sql")),
    (
        3,
        include_str!("../migrations/sqlite/0003_ingest_token.sql"),
    ),
    (4, include_str!("../migrations/sqlite/0004_accounts.sql")),
    (5, include_str!("../migrations/sqlite/0005_sharing.sql")),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_init.sql")),
    (2, include_str!("../migrations/postgres/0002_portal.sql")),
    (
        3,
        include_str!("../migrations/postgres/0003_ingest_token.sql"),
    ),
    (4, include_str!("../migrations/postgres/0004_accounts.sql")),
    (5, include_str!("../migrations/postgres/0005_sharing.sql")),
];

/// Applies every migration the database has not recorded yet, in version order.
pub(crate) async fn run(store: &Store) -> Result<()> {
    match &store.pool {
        Pool::Sqlite(p) => apply(p, SQLITE).await,
        Pool::Postgres(p) => apply(p, POSTGRES).await,
    }
}

async fn apply<DB>(pool: &sqlx::Pool<DB>, steps: &[(i64, &'static str)]) -> Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB> + for<'q> sqlx::Encode<'q, DB>,
    (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    (i64,): Send + Unpin,
{
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migration (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await?;
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM schema_migration")
        .fetch_all(&mut *conn)
        .await?;
    let done = |v: i64| applied.iter().any(|(a,)| *a == v);
    // By version, not by the highest applied: migrations written on two branches
    // at once (0002 and 0003) both apply, whichever landed first.
    for &(version, sql) in steps.iter().filter(|(v, _)| !done(*v)) {
        let err = |source| StoreError::Migration { version, source };
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(err)?;
        sqlx::query("INSERT INTO schema_migration (version, applied_ms) VALUES ($1, $2)")
            .bind(version)
            .bind(chrono::Utc::now().timestamp_millis())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        tx.commit().await.map_err(err)?;
        tracing::info!(migration.version = version, "applied migration");
    }
    Ok(())
}
