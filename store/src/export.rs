//! Reading everything of one person back out, page by page, for "take all your
//! data with you".
//!
//! Every query here is keyed on one subject person and walks its table in
//! primary-key order with a keyset cursor (`> last key`), so an export of a
//! year of 1 Hz data never holds more than one page in memory and each page is
//! an index range scan on either backend. Account secrets (password hash, TOTP
//! secret, token hashes) are never selected.

use serde::Serialize;

use crate::{Result, Store, on_pool};

/// The person and, when they can sign in, their account: what an export
/// carries about who the data belongs to. Holds no secrets.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportProfile {
    /// Person id.
    pub person_id: i64,
    /// The household the person belongs to.
    pub household_id: i64,
    /// Name shown in the portal.
    pub display_name: String,
    /// IANA time zone used for local days.
    pub time_zone: String,
    /// When the person was added, UTC ms.
    pub created_ms: i64,
    /// ISO date, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// As the person states it.
    pub sex: Option<String>,
    /// Height in centimetres.
    pub height_cm: Option<f64>,
    /// `metric` or `imperial`.
    pub units: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Known conditions, free text.
    pub conditions: Option<String>,
    /// Allergies, free text.
    pub allergies: Option<String>,
    /// ABO/Rh blood type.
    pub blood_type: Option<String>,
    /// When onboarding was finished, UTC ms.
    pub onboarded_ms: Option<i64>,
    /// The account, when the person has one.
    pub account: Option<ExportAccount>,
}

/// The account fields an export carries (never hashes or secrets).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExportAccount {
    /// Sign-in email.
    pub email: String,
    /// Optional user name.
    pub username: Option<String>,
    /// Household role.
    pub role: String,
    /// When the account was made, UTC ms.
    pub created_ms: i64,
    /// When the email address was confirmed, UTC ms.
    pub email_verified_ms: Option<i64>,
    /// When the password was last changed, UTC ms.
    pub password_changed_ms: Option<i64>,
    /// When two-factor sign-in was switched on, UTC ms.
    pub totp_enabled_ms: Option<i64>,
}

/// A device the person has claimed.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct ExportDevice {
    /// Canonical device id.
    pub id: String,
    /// Name the device gave.
    pub name: Option<String>,
    /// Model a decoder recognised.
    pub model: Option<String>,
    /// First heard, UTC ms.
    pub first_seen_ms: i64,
    /// Last heard, UTC ms.
    pub last_seen_ms: i64,
    /// When the person claimed it, UTC ms.
    pub claimed_ms: Option<i64>,
}

/// One raw sample with where it came from; the cursor is
/// `(metric_id, ts_ms, source_id)`.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct ExportSample {
    /// Metric id (see `metric_from_id`).
    pub metric_id: i64,
    /// Instant, UTC ms.
    pub ts_ms: i64,
    /// Source id (part of the key).
    pub source_id: i64,
    /// Value in the metric's unit.
    pub value: f64,
    /// Original UTC offset, seconds, when the source gave one.
    pub offset_s: Option<i64>,
    /// Source path kind (`ble`, `gateway`, `phone`, `import`).
    pub kind: String,
    /// Gateway name or exporter source string.
    pub sub_source: String,
    /// The device it came from.
    pub device: String,
}

/// One local day's aggregate of one metric; the cursor is `(metric_id, day)`.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct ExportDay {
    /// Metric id.
    pub metric_id: i64,
    /// Local date, `YYYY-MM-DD`, in the person's zone.
    pub day: String,
    /// Day start, UTC ms.
    pub start_ms: i64,
    /// Next day's start, UTC ms.
    pub end_ms: i64,
    /// Samples counted.
    pub n: i64,
    /// Sum of values.
    pub total: f64,
    /// Smallest value.
    pub lo: f64,
    /// Largest value.
    pub hi: f64,
}

/// One UTC minute's aggregate of one metric.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct ExportMinute {
    /// Minute start, UTC ms.
    pub bucket_ms: i64,
    /// Samples counted.
    pub n: i64,
    /// Sum of values.
    pub total: f64,
}

/// A systolic and a diastolic sample from one source at one instant.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct ExportPressure {
    /// Instant, UTC ms.
    pub ts_ms: i64,
    /// Source id (cursor).
    pub source_id: i64,
    /// Systolic, mmHg.
    pub systolic: f64,
    /// Diastolic, mmHg.
    pub diastolic: f64,
}

/// Where a page starts: after this key, or from the beginning.
pub type SampleCursor = Option<(i64, i64, i64)>;

type ProfileRow = (
    i64,
    i64,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<f64>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

type AccountRow = (
    String,
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

impl Store {
    /// The person and their account, without secrets; `None` if no such person.
    pub async fn export_profile(&self, person: i64) -> Result<Option<ExportProfile>> {
        let row: Option<ProfileRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, household_id, display_name, time_zone, created_ms, date_of_birth, sex,
                    height_cm, units, phone, conditions, allergies, blood_type, onboarded_ms
             FROM person WHERE id = $1",
        ).bind(person).fetch_optional(p).await?);
        let Some(r) = row else {
            return Ok(None);
        };
        let account: Option<AccountRow> = on_pool!(self, p => sqlx::query_as(
            "SELECT email, username, role, created_ms, email_verified_ms, password_changed_ms,
                    totp_enabled_ms
             FROM app_user WHERE person_id = $1",
        ).bind(person).fetch_optional(p).await?);
        Ok(Some(ExportProfile {
            person_id: r.0,
            household_id: r.1,
            display_name: r.2,
            time_zone: r.3,
            created_ms: r.4,
            date_of_birth: r.5,
            sex: r.6,
            height_cm: r.7,
            units: r.8,
            phone: r.9,
            conditions: r.10,
            allergies: r.11,
            blood_type: r.12,
            onboarded_ms: r.13,
            account: account.map(|a| ExportAccount {
                email: a.0,
                username: a.1,
                role: a.2,
                created_ms: a.3,
                email_verified_ms: a.4,
                password_changed_ms: a.5,
                totp_enabled_ms: a.6,
            }),
        }))
    }

    /// Every person id, oldest first (the scheduled export writes one file each).
    pub async fn person_ids(&self) -> Result<Vec<i64>> {
        Ok(
            on_pool!(self, p => sqlx::query_scalar("SELECT id FROM person ORDER BY id")
            .fetch_all(p).await?),
        )
    }

    /// The devices `person` has claimed, by id.
    pub async fn export_devices(&self, person: i64) -> Result<Vec<ExportDevice>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT id, name, model, first_seen_ms, last_seen_ms, claimed_ms
             FROM device WHERE person_id = $1 ORDER BY id",
        ).bind(person).fetch_all(p).await?))
    }

    /// One page of `person`'s raw samples in `[from_ms, to_ms)`, in key order
    /// (metric, instant, source), after `after`; at most `limit` rows.
    pub async fn export_samples_page(
        &self,
        person: i64,
        from_ms: i64,
        to_ms: i64,
        after: SampleCursor,
        limit: i64,
    ) -> Result<Vec<ExportSample>> {
        let (m, t, s) = after.unwrap_or((i64::MIN, i64::MIN, i64::MIN));
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT s.metric_id, s.ts_ms, s.source_id, s.value, s.offset_s, src.kind,
                    src.sub_source, src.device_id AS device
             FROM sample s JOIN source src ON src.id = s.source_id
             WHERE s.person_id = $1 AND s.ts_ms >= $2 AND s.ts_ms < $3
               AND (s.metric_id > $4
                    OR (s.metric_id = $4 AND s.ts_ms > $5)
                    OR (s.metric_id = $4 AND s.ts_ms = $5 AND s.source_id > $6))
             ORDER BY s.metric_id, s.ts_ms, s.source_id LIMIT $7",
        )
        .bind(person).bind(from_ms).bind(to_ms).bind(m).bind(t).bind(s).bind(limit)
        .fetch_all(p).await?))
    }

    /// One page of `person`'s samples of one metric in `[from_ms, to_ms)`, after
    /// `(ts_ms, source_id)`; at most `limit` rows.
    pub async fn export_metric_page(
        &self,
        person: i64,
        metric_id: i64,
        from_ms: i64,
        to_ms: i64,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<ExportSample>> {
        let (t, s) = after.unwrap_or((i64::MIN, i64::MIN));
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT s.metric_id, s.ts_ms, s.source_id, s.value, s.offset_s, src.kind,
                    src.sub_source, src.device_id AS device
             FROM sample s JOIN source src ON src.id = s.source_id
             WHERE s.person_id = $1 AND s.metric_id = $2 AND s.ts_ms >= $3 AND s.ts_ms < $4
               AND (s.ts_ms > $5 OR (s.ts_ms = $5 AND s.source_id > $6))
             ORDER BY s.ts_ms, s.source_id LIMIT $7",
        )
        .bind(person).bind(metric_id).bind(from_ms).bind(to_ms).bind(t).bind(s).bind(limit)
        .fetch_all(p).await?))
    }

    /// One page of `person`'s day rollups whose day starts in `[from_ms, to_ms)`,
    /// in (metric, day) order after `after`; at most `limit` rows.
    pub async fn export_days_page(
        &self,
        person: i64,
        from_ms: i64,
        to_ms: i64,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<ExportDay>> {
        let (m, d) = after.unwrap_or((i64::MIN, String::new()));
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT metric_id, day, start_ms, end_ms, n, total, lo, hi FROM rollup_day
             WHERE person_id = $1 AND start_ms >= $2 AND start_ms < $3
               AND (metric_id > $4 OR (metric_id = $4 AND day > $5))
             ORDER BY metric_id, day LIMIT $6",
        )
        .bind(person).bind(from_ms).bind(to_ms).bind(m).bind(d).bind(limit)
        .fetch_all(p).await?))
    }

    /// One page of `person`'s minute rollups of one metric in `[from_ms, to_ms)`,
    /// after the minute `after`; at most `limit` rows.
    pub async fn export_minutes_page(
        &self,
        person: i64,
        metric_id: i64,
        from_ms: i64,
        to_ms: i64,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<ExportMinute>> {
        let start = after.map_or(from_ms, |a| a.saturating_add(1).max(from_ms));
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT bucket_ms, n, total FROM rollup_minute
             WHERE person_id = $1 AND metric_id = $2 AND bucket_ms >= $3 AND bucket_ms < $4
             ORDER BY bucket_ms LIMIT $5",
        )
        .bind(person).bind(metric_id).bind(start).bind(to_ms).bind(limit)
        .fetch_all(p).await?))
    }

    /// One page of blood-pressure pairs: a systolic and a diastolic sample of
    /// `person` from the same source at the same instant, after `(ts_ms, source_id)`.
    #[allow(clippy::too_many_arguments)]
    pub async fn export_pressure_page(
        &self,
        person: i64,
        systolic_id: i64,
        diastolic_id: i64,
        from_ms: i64,
        to_ms: i64,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> Result<Vec<ExportPressure>> {
        let (t, s) = after.unwrap_or((i64::MIN, i64::MIN));
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT s.ts_ms, s.source_id, s.value AS systolic, d.value AS diastolic
             FROM sample s JOIN sample d
               ON d.person_id = s.person_id AND d.metric_id = $3
              AND d.ts_ms = s.ts_ms AND d.source_id = s.source_id
             WHERE s.person_id = $1 AND s.metric_id = $2 AND s.ts_ms >= $4 AND s.ts_ms < $5
               AND (s.ts_ms > $6 OR (s.ts_ms = $6 AND s.source_id > $7))
             ORDER BY s.ts_ms, s.source_id LIMIT $8",
        )
        .bind(person).bind(systolic_id).bind(diastolic_id).bind(from_ms).bind(to_ms)
        .bind(t).bind(s).bind(limit)
        .fetch_all(p).await?))
    }
}
