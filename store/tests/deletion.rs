//! Deletion and retention, run on SQLite and on PostgreSQL: a purged account
//! leaves nothing behind (checked against the database catalogue, so a table
//! added later is searched too), range and device deletions rebuild rollups
//! exactly, and retention drops raw samples but keeps rollups.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]
#![allow(missing_docs)]

mod common;

use cohealth_ingest::mqtt::Batch;
use cohealth_ingest::{DeviceId, Instant, Measurement, Metric, Reading, SourceKind};
use cohealth_store::{
    Bucket, DELETED_ACTOR_NAME, DELETION_GRACE_MS, Limits, NewSession, SessionStage, Store,
};
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};

use common::{Backend, fresh, person};

const T0: i64 = 1_780_000_000_000; // 2026-05-28T20:26:40Z
const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn reading(device: &str, source: SourceKind, ms: Vec<Measurement>) -> Reading {
    let received = ms
        .iter()
        .filter_map(|m| m.at.map(|a| a.utc_ms))
        .max()
        .unwrap_or(T0);
    let mut r = Reading::new(DeviceId::parse(device).unwrap(), source, received);
    r.measurements = ms;
    r
}

fn at(metric: Metric, value: f64, ts: i64) -> Measurement {
    Measurement::gauge_at(metric, value, Instant::from_ms(ts))
}

fn total(metric: Metric, value: f64, ts: i64) -> Measurement {
    let mut m = Measurement::cumulative(metric, value);
    m.at = Some(Instant::from_ms(ts));
    m
}

async fn ingest(store: &Store, readings: Vec<Reading>) {
    store
        .commit_batch(&Batch {
            readings,
            dead: vec![],
        })
        .await
        .unwrap();
}

async fn claim(store: &Store, device: &str, person: i64) {
    let id = DeviceId::parse(device).unwrap();
    store.claim_device(id.as_str(), person, 0).await.unwrap();
}

/// (count, sum) of a person's series over a span.
async fn totals(store: &Store, p: i64, m: Metric, b: Bucket, from: i64, to: i64) -> (i64, f64) {
    let points = store.series(p, m, b, from, to).await.unwrap();
    (
        points.iter().map(|x| x.count).sum(),
        points.iter().map(|x| x.sum).sum(),
    )
}

/// A direct connection to the test database, for what the store has no API for
/// (other features' rows) and for reading the catalogue.
enum Raw {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

macro_rules! on_raw {
    ($raw:expr, $c:ident => $body:expr) => {
        match $raw {
            Raw::Sqlite($c) => $body,
            Raw::Postgres($c) => $body,
        }
    };
}

impl Raw {
    async fn open(url: &str) -> Raw {
        if url.starts_with("postgres") {
            Raw::Postgres(PgConnection::connect(url).await.unwrap())
        } else {
            Raw::Sqlite(
                SqliteConnection::connect(&format!("sqlite://{url}"))
                    .await
                    .unwrap(),
            )
        }
    }

    async fn exec(&mut self, sql: &str) {
        on_raw!(self, c => sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(&mut *c).await.unwrap().rows_affected());
    }

    async fn count(&mut self, sql: &str) -> i64 {
        on_raw!(self, c => sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut *c).await.unwrap())
    }

    /// Every (table, column, holds text) in the schema.
    async fn columns(&mut self) -> Vec<(String, String, bool)> {
        match self {
            Raw::Postgres(c) => {
                let rows: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT table_name::text, column_name::text, data_type::text
                     FROM information_schema.columns
                     WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
                )
                .fetch_all(&mut *c)
                .await
                .unwrap();
                rows.into_iter()
                    .map(|(t, col, ty)| {
                        let text = ty == "text" || ty.starts_with("character");
                        (t, col, text)
                    })
                    .collect()
            }
            Raw::Sqlite(c) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table'
                     AND name NOT LIKE 'sqlite_%' ORDER BY name",
                )
                .fetch_all(&mut *c)
                .await
                .unwrap();
                let mut out = Vec::new();
                for t in tables {
                    let cols: Vec<(String, String)> =
                        sqlx::query_as("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                            .bind(&t)
                            .fetch_all(&mut *c)
                            .await
                            .unwrap();
                    for (col, ty) in cols {
                        let text = ty.to_uppercase().contains("TEXT");
                        out.push((t.clone(), col, text));
                    }
                }
                out
            }
        }
    }

    /// Rows in every table, by table name.
    async fn row_counts(&mut self) -> Vec<(String, i64)> {
        let mut tables: Vec<String> = self.columns().await.into_iter().map(|c| c.0).collect();
        tables.dedup();
        let mut out = Vec::new();
        for t in tables {
            let n = self.count(&format!("SELECT COUNT(*) FROM \"{t}\"")).await;
            out.push((t, n));
        }
        out
    }
}

/// Column names that refer to a person or an account.
const ID_COLUMNS: [&str; 9] = [
    "person",
    "user",
    "owner",
    "grantee",
    "subject",
    "actor",
    "created_by",
    "used_by",
    "managed_by",
];

/// Searches every table for the ids and the address; returns where they remain.
async fn leftovers(raw: &mut Raw, person: i64, user: i64, email: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (table, column, text) in raw.columns().await {
        let name = column.to_lowercase();
        if ID_COLUMNS.iter().any(|w| name.contains(w)) {
            for id in [person, user] {
                let n = raw
                    .count(&format!(
                        "SELECT COUNT(*) FROM \"{table}\" WHERE CAST(\"{column}\" AS TEXT) = '{id}'"
                    ))
                    .await;
                if n > 0 {
                    found.push(format!("{table}.{column} = {id} ({n} rows)"));
                }
            }
        }
        if text {
            let n = raw
                .count(&format!(
                    "SELECT COUNT(*) FROM \"{table}\" WHERE LOWER(\"{column}\") LIKE '%{email}%'"
                ))
                .await;
            if n > 0 {
                found.push(format!("{table}.{column} holds the email ({n} rows)"));
            }
        }
    }
    found
}

async fn user_of(store: &Store, email: &str) -> i64 {
    store.user_by_login(email).await.unwrap().unwrap().id
}

async fn deletion_leaves_nothing_behind(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let s = &t.store;
    let ann = person(s, "ann@example.org", "UTC").await;
    let cy = person(s, "cy@example.org", "UTC").await;
    let vic = person(s, "vic@example.org", "Europe/Berlin").await;
    let (ann_u, cy_u, vic_u) = (
        user_of(s, "ann@example.org").await,
        user_of(s, "cy@example.org").await,
        user_of(s, "vic@example.org").await,
    );
    // The victim's ids must not collide with anyone else's for the search to mean
    // something.
    assert!(vic > ann.max(cy) && vic_u > ann_u.max(cy_u));
    let vic_email = "vic@example.org";

    // Samples: several metrics, two devices each side; steps make counter state.
    claim(s, "AA:BB:CC:DD:EE:31", vic).await;
    claim(s, "vic-phone", vic).await;
    claim(s, "ann-phone", ann).await;
    ingest(
        s,
        vec![
            reading(
                "AA:BB:CC:DD:EE:31",
                SourceKind::Gateway,
                vec![
                    at(Metric::HeartRate, 61.0, T0),
                    at(Metric::HeartRate, 64.0, T0 + MIN),
                    total(Metric::Steps, 100.0, T0),
                    total(Metric::Steps, 180.0, T0 + 2 * MIN),
                ],
            ),
            reading(
                "vic-phone",
                SourceKind::Phone,
                vec![
                    at(Metric::Weight, 71.5, T0 + HOUR),
                    at(Metric::HeartRate, 70.0, T0 + 2 * HOUR),
                ],
            ),
            reading(
                "ann-phone",
                SourceKind::Phone,
                vec![
                    at(Metric::HeartRate, 55.0, T0),
                    total(Metric::Steps, 40.0, T0),
                    total(Metric::Steps, 90.0, T0 + MIN),
                ],
            ),
        ],
    )
    .await;
    assert_eq!(s.count_samples(vic, Metric::HeartRate).await.unwrap(), 3);
    s.create_ingest_token("vic-token-hash", "vic-phone", T0)
        .await
        .unwrap();
    s.create_ingest_token("ann-token-hash", "ann-phone", T0)
        .await
        .unwrap();

    for (user, hash) in [(vic_u, "vic-session"), (ann_u, "ann-session")] {
        s.create_session(&NewSession {
            id_hash: hash,
            user_id: user,
            csrf: "c",
            now_ms: T0,
            stage: SessionStage::Full,
            user_agent: Some("Firefox on Linux"),
            client_addr: Some("127.0.0.1"),
        })
        .await
        .unwrap();
    }
    s.create_personal_token(vic_u, "export", "vic-pat", "read", T0, None)
        .await
        .unwrap();
    s.create_invitation(&cohealth_store::NewInvitation {
        token_hash: "vic-made",
        household: 1,
        role: cohealth_store::Role::Adult,
        email: Some("friend@example.org"),
        created_by: vic_u,
        now_ms: T0,
        expires_ms: T0 + DAY,
    })
    .await
    .unwrap();

    // Rows of features built elsewhere, inserted directly.
    let mut raw = Raw::open(&t.url).await;
    let pending_source: i64 = raw
        .count("SELECT MIN(id) FROM source WHERE device_id = 'vic-phone'")
        .await;
    for sql in [
        format!(
            "INSERT INTO pending_sample (source_id, metric_id, ts_ms, device_id, value, received_ms)
             VALUES ({pending_source}, 1, {T0}, 'vic-phone', 66.0, {T0})"
        ),
        format!("INSERT INTO source_priority (person_id, kind, priority) VALUES ({vic}, 'phone', 1)"),
        format!("INSERT INTO recovery_code (user_id, code_hash, created_ms) VALUES ({vic_u}, 'rc1', {T0})"),
        format!(
            "INSERT INTO email_token (token_hash, user_id, purpose, email, created_ms, expires_ms)
             VALUES ('et1', {vic_u}, 'verify', '{vic_email}', {T0}, {T0})"
        ),
        format!(
            "INSERT INTO invitation (token_hash, household_id, role, email, created_by, created_ms,
             expires_ms, used_ms, used_by)
             VALUES ('vic-came', 1, 'adult', '{vic_email}', {ann_u}, {T0}, {T0}, {T0}, {vic_u})"
        ),
        format!(
            "INSERT INTO data_grant (owner_person, grantee_person, category, created_ms, created_by)
             VALUES ({vic}, {ann}, 'vitals', {T0}, {vic_u}),
                    ({ann}, {vic}, 'activity', {T0}, {ann_u}),
                    ({ann}, {cy}, 'vitals', {T0}, {vic_u})"
        ),
        format!(
            "INSERT INTO audit_log (ts_ms, actor_user, actor_person, actor_name, subject_person, action)
             VALUES ({T0}, {ann_u}, {ann}, 'Ann', {vic}, 'read'),
                    ({T0}, {vic_u}, {vic}, 'Vic', {ann}, 'read'),
                    ({T0}, {ann_u}, {ann}, 'Ann', {ann}, 'export')"
        ),
        format!(
            "INSERT INTO person (household_id, display_name, time_zone, created_ms, managed_by)
             VALUES (1, 'Kid', 'UTC', {T0}, {vic})"
        ),
        format!(
            "INSERT INTO deletion_request (person_id, requested_ms, due_ms, requested_by)
             VALUES ({cy}, {T0}, {}, {vic_u})",
            T0 + 100 * DAY
        ),
    ] {
        raw.exec(&sql).await;
    }
    assert!(!leftovers(&mut raw, vic, vic_u, vic_email).await.is_empty());

    let ann_rollups = format!(
        "SELECT (SELECT COUNT(*) FROM rollup_minute WHERE person_id = {ann})
              + (SELECT COUNT(*) FROM rollup_hour WHERE person_id = {ann})
              + (SELECT COUNT(*) FROM rollup_day WHERE person_id = {ann})"
    );
    let ann_before = raw.count(&ann_rollups).await;
    assert!(ann_before > 0);
    let ann_counters = "SELECT COUNT(*) FROM counter_state WHERE source_id IN
        (SELECT id FROM source WHERE device_id = 'ann-phone')";
    let ann_counters_before = raw.count(ann_counters).await;
    assert_eq!(ann_counters_before, 1);

    // Requested now, due in seven days: an early purge changes nothing.
    let now = T0 + DAY;
    let request = s.request_deletion(vic, Some(vic_u), now).await.unwrap();
    assert_eq!(request.due_ms, now + DELETION_GRACE_MS);
    let again = s
        .request_deletion(vic, Some(vic_u), now + HOUR)
        .await
        .unwrap();
    assert_eq!(again.due_ms, request.due_ms, "asking again keeps the date");
    let before = raw.row_counts().await;
    assert_eq!(s.purge_due_deletions(request.due_ms - 1).await.unwrap(), 0);
    assert_eq!(raw.row_counts().await, before);
    assert_eq!(s.count_samples(vic, Metric::HeartRate).await.unwrap(), 3);

    // Due: everything about the victim goes.
    assert_eq!(s.purge_due_deletions(request.due_ms).await.unwrap(), 1);
    let found = leftovers(&mut raw, vic, vic_u, vic_email).await;
    assert!(found.is_empty(), "left behind: {found:#?}");
    assert!(s.user_by_login(vic_email).await.unwrap().is_none());
    assert!(s.person(vic).await.unwrap().is_none());
    let devices: Vec<String> = s
        .list_devices()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(devices, ["ann-phone"], "the victim's devices are forgotten");
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM source WHERE device_id <> 'ann-phone'")
            .await,
        0
    );
    assert_eq!(
        raw.count(
            "SELECT COUNT(*) FROM counter_state WHERE source_id NOT IN (SELECT id FROM source)"
        )
        .await,
        0
    );
    assert_eq!(raw.count("SELECT COUNT(*) FROM pending_sample").await, 0);
    assert_eq!(
        s.use_ingest_token("vic-token-hash", now).await.unwrap(),
        None
    );
    // Their actions on others stay, with the actor anonymised.
    assert_eq!(
        raw.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE subject_person = {ann}
             AND actor_user IS NULL AND actor_person IS NULL
             AND actor_name = '{DELETED_ACTOR_NAME}'"
        ))
        .await,
        1
    );
    assert_eq!(
        raw.count("SELECT COUNT(*) FROM person WHERE display_name = 'Kid' AND managed_by IS NULL")
            .await,
        1
    );

    // Everyone else's data is untouched.
    assert_eq!(s.count_samples(ann, Metric::HeartRate).await.unwrap(), 1);
    assert_eq!(s.count_samples(ann, Metric::Steps).await.unwrap(), 2);
    assert_eq!(raw.count(&ann_rollups).await, ann_before);
    assert_eq!(raw.count(ann_counters).await, ann_counters_before);
    assert_eq!(
        s.use_ingest_token("ann-token-hash", now)
            .await
            .unwrap()
            .as_deref(),
        Some("ann-phone")
    );
    assert!(s.session("ann-session").await.unwrap().is_some());
    assert_eq!(
        raw.count(&format!(
            "SELECT COUNT(*) FROM data_grant WHERE owner_person = {ann} AND grantee_person = {cy}
             AND created_by IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        raw.count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE subject_person = {ann}"
        ))
        .await,
        2
    );
    let cy_request = s.deletion_request(cy).await.unwrap().unwrap();
    assert_eq!(cy_request.due_ms, T0 + 100 * DAY);
    assert!(s.user_by_login("cy@example.org").await.unwrap().is_some());
}
both_backends!(
    deletion_leaves_nothing_behind,
    deletion_leaves_nothing_behind
);

async fn cancelled_deletion_is_not_carried_out(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let s = &t.store;
    let p = person(s, "may@example.org", "UTC").await;
    let r = s.request_deletion(p, None, T0).await.unwrap();
    assert_eq!(s.deletion_request(p).await.unwrap(), Some(r));
    assert!(s.cancel_deletion(p).await.unwrap());
    assert!(!s.cancel_deletion(p).await.unwrap());
    assert_eq!(s.deletion_request(p).await.unwrap(), None);
    assert_eq!(s.purge_due_deletions(r.due_ms + DAY).await.unwrap(), 0);
    assert!(s.person(p).await.unwrap().is_some());
}
both_backends!(cancelled_deletion, cancelled_deletion_is_not_carried_out);

async fn range_deletion_rebuilds_rollups(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let s = &t.store;
    let p = person(s, "rae@example.org", "UTC").await;
    claim(s, "strap", p).await;
    // 2026-05-28 UTC: T0 is 20:26:40. Day starts at 00:00.
    let day1 = T0 - T0.rem_euclid(DAY);
    let h = |hour: i64, minute: i64| day1 + hour * HOUR + minute * MIN;
    ingest(
        s,
        vec![reading(
            "strap",
            SourceKind::Phone,
            vec![
                at(Metric::HeartRate, 60.0, h(9, 30)),
                at(Metric::HeartRate, 71.0, h(10, 10)),
                at(Metric::HeartRate, 72.0, h(10, 20) + 5_000),
                at(Metric::HeartRate, 73.0, h(10, 20) + 9_000),
                at(Metric::HeartRate, 80.0, h(11, 30)),
                at(Metric::HeartRate, 90.0, h(24 + 10, 15)),
                at(Metric::Weight, 70.0, h(10, 30)),
            ],
        )],
    )
    .await;
    let hr = Metric::HeartRate;
    let (n_day, sum_day) = totals(s, p, hr, Bucket::Day, day1, day1 + DAY).await;
    assert_eq!((n_day, sum_day), (5, 356.0));
    let next_day = totals(s, p, hr, Bucket::Day, day1 + DAY, day1 + 2 * DAY).await;
    let hour9 = totals(s, p, hr, Bucket::Hour, h(9, 0), h(10, 0)).await;
    let hour11 = totals(s, p, hr, Bucket::Hour, h(11, 0), h(12, 0)).await;

    let deleted = s
        .delete_metric_range(p, hr, h(10, 0), h(11, 0))
        .await
        .unwrap();
    assert_eq!(deleted, 3);
    // The day drops by exactly the deleted samples.
    assert_eq!(
        totals(s, p, hr, Bucket::Day, day1, day1 + DAY).await,
        (n_day - 3, sum_day - (71.0 + 72.0 + 73.0))
    );
    assert_eq!(
        totals(s, p, hr, Bucket::Hour, h(10, 0), h(11, 0)).await,
        (0, 0.0)
    );
    assert!(
        s.series(p, hr, Bucket::Minute, h(10, 0), h(11, 0))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.samples(p, hr, h(10, 0), h(11, 0), 10).await.unwrap(), []);
    // Neighbouring hours, the next day and other metrics are untouched.
    assert_eq!(
        totals(s, p, hr, Bucket::Hour, h(9, 0), h(10, 0)).await,
        hour9
    );
    assert_eq!(
        totals(s, p, hr, Bucket::Hour, h(11, 0), h(12, 0)).await,
        hour11
    );
    assert_eq!(
        totals(s, p, hr, Bucket::Day, day1 + DAY, day1 + 2 * DAY).await,
        next_day
    );
    assert_eq!(
        totals(s, p, Metric::Weight, Bucket::Day, day1, day1 + DAY).await,
        (1, 70.0)
    );
    assert!(
        s.delete_metric_range(p, hr, h(11, 0), h(11, 0))
            .await
            .is_err()
    );
}
both_backends!(range_deletion, range_deletion_rebuilds_rollups);

async fn device_deletion_rebuilds_rollups(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let s = &t.store;
    let p = person(s, "dev@example.org", "UTC").await;
    let other = person(s, "oth@example.org", "UTC").await;
    claim(s, "band-a", p).await;
    claim(s, "band-b", p).await;
    claim(s, "band-o", other).await;
    let day1 = T0 - T0.rem_euclid(DAY);
    ingest(
        s,
        vec![
            reading(
                "band-a",
                SourceKind::Phone,
                vec![
                    at(Metric::HeartRate, 60.0, day1 + HOUR),
                    total(Metric::Steps, 500.0, day1 + HOUR),
                ],
            ),
            reading(
                "band-b",
                SourceKind::Phone,
                vec![
                    at(Metric::HeartRate, 80.0, day1 + 2 * HOUR),
                    at(Metric::HeartRate, 82.0, day1 + 3 * HOUR),
                    total(Metric::Steps, 300.0, day1 + 2 * HOUR),
                ],
            ),
            reading(
                "band-o",
                SourceKind::Phone,
                vec![at(Metric::HeartRate, 50.0, day1 + HOUR)],
            ),
        ],
    )
    .await;
    s.create_ingest_token("band-b-token", "band-b", T0)
        .await
        .unwrap();
    let hr = Metric::HeartRate;
    assert_eq!(
        totals(s, p, hr, Bucket::Day, day1, day1 + DAY).await,
        (3, 222.0)
    );

    // Someone else's device is not the person's to delete.
    assert!(s.delete_device_data(p, "band-o").await.is_err());
    let outcome = s.delete_device_data(p, "band-b").await.unwrap();
    assert_eq!(outcome.samples, 3);
    assert_eq!(outcome.forgotten, Some(true));
    assert_eq!(
        totals(s, p, hr, Bucket::Day, day1, day1 + DAY).await,
        (1, 60.0)
    );
    assert_eq!(
        totals(s, p, Metric::Steps, Bucket::Day, day1, day1 + DAY).await,
        (1, 500.0)
    );
    assert_eq!(
        totals(s, p, hr, Bucket::Hour, day1 + 2 * HOUR, day1 + 4 * HOUR).await,
        (0, 0.0)
    );
    assert_eq!(
        totals(s, other, hr, Bucket::Day, day1, day1 + DAY).await,
        (1, 50.0)
    );
    let devices: Vec<String> = s
        .list_devices()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert!(!devices.contains(&"band-b".to_owned()));
    assert!(devices.contains(&"band-a".to_owned()));
    assert_eq!(s.use_ingest_token("band-b-token", T0).await.unwrap(), None);
    let mut raw = Raw::open(&t.url).await;
    assert_eq!(
        raw.count(
            "SELECT COUNT(*) FROM counter_state WHERE source_id NOT IN (SELECT id FROM source)"
        )
        .await,
        0
    );

    // Heard again, the forgotten device starts over as an unclaimed one: its
    // readings wait in the pending area instead of landing in the person's data.
    ingest(
        s,
        vec![reading(
            "band-b",
            SourceKind::Phone,
            vec![at(Metric::HeartRate, 81.0, day1 + 5 * HOUR)],
        )],
    )
    .await;
    assert_eq!(
        totals(s, p, hr, Bucket::Day, day1, day1 + DAY).await,
        (1, 60.0)
    );
    let b = s
        .list_devices()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.id == "band-b")
        .unwrap();
    assert_eq!((b.person_id, b.pending), (None, 1));

    // A device that changed hands is only released: the earlier owner's samples
    // still need its sources.
    claim(s, "band-a", p).await;
    s.unclaim_device("band-a", p).await.unwrap();
    claim(s, "band-a", other).await;
    ingest(
        s,
        vec![reading(
            "band-a",
            SourceKind::Phone,
            vec![at(Metric::HeartRate, 65.0, day1 + 6 * HOUR)],
        )],
    )
    .await;
    let outcome = s.delete_device_data(other, "band-a").await.unwrap();
    assert_eq!((outcome.samples, outcome.forgotten), (1, Some(false)));
    assert_eq!(
        totals(s, p, hr, Bucket::Day, day1, day1 + DAY).await,
        (1, 60.0)
    );
    s.delete_metric_range(p, hr, day1, day1 + DAY)
        .await
        .unwrap();
    assert_eq!(
        totals(s, p, Metric::Steps, Bucket::Day, day1, day1 + DAY).await,
        (1, 500.0)
    );
}
both_backends!(device_deletion, device_deletion_rebuilds_rollups);

async fn retention_keeps_rollups(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let s = &t.store;
    let p = person(s, "ret@example.org", "UTC").await;
    claim(s, "scale", p).await;
    let now = T0;
    let old = now - 40 * DAY;
    let recent = now - DAY;
    ingest(
        s,
        vec![reading(
            "scale",
            SourceKind::Phone,
            vec![
                at(Metric::Weight, 72.0, old),
                at(Metric::Weight, 71.0, recent),
            ],
        )],
    )
    .await;
    let household = s
        .user_by_login("ret@example.org")
        .await
        .unwrap()
        .unwrap()
        .household_id;
    assert_eq!(s.retention_days(household).await.unwrap(), None);
    assert_eq!(
        s.apply_retention(now).await.unwrap(),
        0,
        "no retention set keeps all"
    );
    assert!(s.set_retention_days(household, Some(0)).await.is_err());
    s.set_retention_days(household, Some(30)).await.unwrap();
    assert_eq!(s.retention_days(household).await.unwrap(), Some(30));

    assert_eq!(s.apply_retention(now).await.unwrap(), 1);
    let w = Metric::Weight;
    assert_eq!(s.samples(p, w, old - DAY, old + DAY, 10).await.unwrap(), []);
    assert_eq!(
        s.samples(p, w, recent - DAY, now, 10).await.unwrap().len(),
        1
    );
    // The old reading's rollups stay, every bucket size.
    for b in [Bucket::Minute, Bucket::Hour, Bucket::Day] {
        assert_eq!(totals(s, p, w, b, old - DAY, old + DAY).await, (1, 72.0));
    }
    s.set_retention_days(household, None).await.unwrap();
    assert_eq!(s.retention_days(household).await.unwrap(), None);

    // Deleting the span later removes those kept rollups too, though no raw
    // sample is left to delete.
    let gone = s
        .delete_metric_range(p, w, old - DAY, old + DAY)
        .await
        .unwrap();
    assert_eq!(gone, 0);
    for b in [Bucket::Minute, Bucket::Hour, Bucket::Day] {
        assert_eq!(totals(s, p, w, b, old - DAY, old + DAY).await, (0, 0.0));
    }
    assert_eq!(
        totals(s, p, w, Bucket::Day, recent - DAY, now).await,
        (1, 71.0)
    );
}
both_backends!(retention, retention_keeps_rollups);
