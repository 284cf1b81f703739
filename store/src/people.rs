//! Households, persons, users (persons who can sign in) and web sessions.

use serde::Serialize;

use crate::tx::on_tx;
use crate::{Result, Store, StoreError, on_pool};

/// A member's role in the household (DESIGN.md's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages members, devices and settings; no extra data access.
    Admin,
    /// Sees their own data and their household's children's.
    Adult,
    /// Sees their own data; cannot change sharing.
    Child,
    /// Sees nothing without a grant.
    Caregiver,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Adult => "adult",
            Role::Child => "child",
            Role::Caregiver => "caregiver",
        }
    }

    pub(crate) fn parse(s: &str) -> Role {
        match s {
            "admin" => Role::Admin,
            "child" => Role::Child,
            "caregiver" => Role::Caregiver,
            _ => Role::Adult,
        }
    }
}

/// A person whose data we keep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Person {
    /// Person id.
    pub id: i64,
    /// Name shown in the portal.
    pub display_name: String,
    /// IANA time zone for days and schedules.
    pub time_zone: String,
}

/// An account.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UserRow {
    /// User id.
    pub id: i64,
    /// The person the account belongs to.
    pub person_id: i64,
    /// Lower-cased email.
    pub email: String,
    /// Optional user name.
    pub username: Option<String>,
    /// PHC-format password hash (never shown).
    #[serde(skip)]
    pub password_hash: String,
    /// Household role.
    pub role: Role,
    /// The person's time zone.
    pub time_zone: String,
    /// The person's display name.
    pub display_name: String,
    /// The person's household.
    pub household_id: i64,
    /// When the email address was confirmed by a link, if it was.
    pub email_verified_ms: Option<i64>,
    /// When two-factor sign-in was switched on, if it is on.
    pub totp_enabled_ms: Option<i64>,
    /// When the person finished onboarding (zone, height, units), if they did.
    pub onboarded_ms: Option<i64>,
    /// `metric` or `imperial`: how the portal shows values.
    pub units: String,
    /// When the password was last set, if known: API tokens issued before it
    /// no longer count.
    pub password_changed_ms: Option<i64>,
}

/// What `user add` needs.
#[derive(Clone, Debug)]
pub struct NewUser<'a> {
    /// Email (stored lower-cased).
    pub email: &'a str,
    /// Optional user name.
    pub username: Option<&'a str>,
    /// Display name.
    pub display_name: &'a str,
    /// PHC-format hash (argon2id).
    pub password_hash: &'a str,
    /// IANA time zone.
    pub time_zone: &'a str,
}

type UserTuple = (
    i64,
    i64,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    String,
    Option<i64>,
);

macro_rules! user_select {
    ($where:literal) => {
        concat!(
            "SELECT u.id, u.person_id, u.email, u.username, u.password_hash, u.role,
                    p.time_zone, p.display_name, p.household_id,
                    u.email_verified_ms, u.totp_enabled_ms, p.onboarded_ms, p.units,
                    u.password_changed_ms
             FROM app_user u JOIN person p ON p.id = u.person_id ",
            $where
        )
    };
}

fn to_user(t: UserTuple) -> UserRow {
    UserRow {
        id: t.0,
        person_id: t.1,
        email: t.2,
        username: t.3,
        password_hash: t.4,
        role: Role::parse(&t.5),
        time_zone: t.6,
        display_name: t.7,
        household_id: t.8,
        email_verified_ms: t.9,
        totp_enabled_ms: t.10,
        onboarded_ms: t.11,
        units: t.12,
        password_changed_ms: t.13,
    }
}

/// How far a browser session has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStage {
    /// Signed in.
    Full,
    /// The password was right; the second factor is still owed.
    Mfa,
}

impl SessionStage {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::Full => "full",
            SessionStage::Mfa => "mfa",
        }
    }
}

/// What a new session is made of.
#[derive(Clone, Debug)]
pub struct NewSession<'a> {
    /// SHA-256 of the session id (the id itself is only in the cookie).
    pub id_hash: &'a str,
    /// The account.
    pub user_id: i64,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// Creation time.
    pub now_ms: i64,
    /// Signed in, or waiting for the second factor.
    pub stage: SessionStage,
    /// The browser's User-Agent, shortened, for the session list.
    pub user_agent: Option<&'a str>,
    /// The client's address, for the session list.
    pub client_addr: Option<&'a str>,
}

/// A stored session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SessionRow {
    /// SHA-256 of the session id.
    pub id_hash: String,
    /// The account.
    pub user_id: i64,
    /// The session's CSRF token.
    #[serde(skip)]
    pub csrf: String,
    /// When it was created.
    pub created_ms: i64,
    /// When it was last used (to within a few minutes).
    pub last_seen_ms: i64,
    /// Signed in, or waiting for the second factor.
    pub stage: SessionStage,
    /// The browser's User-Agent, as recorded at sign-in.
    pub user_agent: Option<String>,
    /// The client's address at sign-in.
    pub client_addr: Option<String>,
}

type SessionTuple = (
    String,
    i64,
    String,
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
);

macro_rules! session_select {
    () => {
        "SELECT id_hash, user_id, csrf_token, created_ms, last_seen_ms, stage, user_agent, client_addr
         FROM web_session"
    };
}

fn to_session(t: SessionTuple) -> SessionRow {
    SessionRow {
        id_hash: t.0,
        user_id: t.1,
        csrf: t.2,
        created_ms: t.3,
        last_seen_ms: t.4,
        stage: if t.5 == "mfa" {
            SessionStage::Mfa
        } else {
            SessionStage::Full
        },
        user_agent: t.6,
        client_addr: t.7,
    }
}

impl Store {
    /// Creates a person with an account (the `user add` command: zone given, so
    /// no onboarding). The first account on a fresh install founds the
    /// household and becomes its admin; later ones join it as adults.
    pub async fn add_user(&self, new: &NewUser<'_>, now_ms: i64) -> Result<UserRow> {
        let email = new.email.trim().to_lowercase();
        if new.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(StoreError::Invalid(format!(
                "time zone `{}`",
                new.time_zone
            )));
        }
        let mut tx = self.begin_write().await?;
        let user_id: i64 = on_tx!(&mut tx, t => {
            let taken: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM app_user WHERE email = $1 OR (username IS NOT NULL AND username = $2)",
            ).bind(&email).bind(new.username).fetch_one(&mut **t).await?;
            if taken > 0 {
                return Err(StoreError::Conflict("an account with this email or user name".into()));
            }
            let household: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM household")
                .fetch_one(&mut **t).await?;
            let (household, role) = match household {
                Some(h) => (h, Role::Adult),
                None => {
                    let h: i64 = sqlx::query_scalar(
                        "INSERT INTO household (name, created_ms) VALUES ($1, $2) RETURNING id",
                    ).bind("Home").bind(now_ms).fetch_one(&mut **t).await?;
                    (h, Role::Admin)
                }
            };
            let person: i64 = sqlx::query_scalar(
                "INSERT INTO person (household_id, display_name, time_zone, created_ms, onboarded_ms)
                 VALUES ($1, $2, $3, $4, $4) RETURNING id",
            ).bind(household).bind(new.display_name).bind(new.time_zone).bind(now_ms)
            .fetch_one(&mut **t).await?;
            sqlx::query_scalar(
                "INSERT INTO app_user (person_id, email, username, password_hash, role, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            ).bind(person).bind(&email).bind(new.username).bind(new.password_hash)
            .bind(role.as_str()).bind(now_ms)
            .fetch_one(&mut **t).await?
        });
        tx.commit().await?;
        self.user_by_id(user_id)
            .await?
            .ok_or_else(|| StoreError::NotFound("new user".into()))
    }

    /// Finds an account by email (any case) or user name.
    pub async fn user_by_login(&self, login: &str) -> Result<Option<UserRow>> {
        let login = login.trim();
        // Emails and user names are matched without regard to case.
        let sql = user_select!("WHERE u.email = $1 OR lower(u.username) = $1");
        let row: Option<UserTuple> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(login.to_lowercase()).fetch_optional(p).await?);
        Ok(row.map(to_user))
    }

    /// Finds an account by id.
    pub async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>> {
        let sql = user_select!("WHERE u.id = $1");
        let row: Option<UserTuple> =
            on_pool!(self, p => sqlx::query_as(sql).bind(id).fetch_optional(p).await?);
        Ok(row.map(to_user))
    }

    /// Replaces an account's password hash (after a rehash with new parameters).
    pub async fn set_password_hash(&self, user: i64, hash: &str) -> Result<()> {
        on_pool!(self, p => sqlx::query("UPDATE app_user SET password_hash = $1 WHERE id = $2")
            .bind(hash).bind(user).execute(p).await?.rows_affected());
        Ok(())
    }

    /// Stores a new web session under the hash of its id.
    pub async fn create_session(&self, new: &NewSession<'_>) -> Result<()> {
        on_pool!(self, p => sqlx::query(
            "INSERT INTO web_session
                 (id_hash, user_id, csrf_token, created_ms, last_seen_ms, stage, user_agent, client_addr)
             VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
        ).bind(new.id_hash).bind(new.user_id).bind(new.csrf).bind(new.now_ms)
        .bind(new.stage.as_str()).bind(new.user_agent).bind(new.client_addr)
        .execute(p).await?.rows_affected());
        Ok(())
    }

    /// A session by the hash of its id.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        let row: Option<SessionTuple> = on_pool!(self, p => sqlx::query_as(concat!(
            session_select!(), " WHERE id_hash = $1"
        )).bind(id_hash).fetch_optional(p).await?);
        Ok(row.map(to_session))
    }

    /// Every session of an account, most recently used first.
    pub async fn sessions_of(&self, user: i64) -> Result<Vec<SessionRow>> {
        let rows: Vec<SessionTuple> = on_pool!(self, p => sqlx::query_as(concat!(
            session_select!(), " WHERE user_id = $1 ORDER BY last_seen_ms DESC, created_ms DESC"
        )).bind(user).fetch_all(p).await?);
        Ok(rows.into_iter().map(to_session).collect())
    }

    /// Ends every session of an account except `keep` (a session id hash);
    /// returns how many ended.
    pub async fn delete_sessions_of(&self, user: i64, keep: Option<&str>) -> Result<u64> {
        Ok(on_pool!(self, p => sqlx::query(
            "DELETE FROM web_session WHERE user_id = $1 AND ($2 IS NULL OR id_hash <> $2)",
        ).bind(user).bind(keep).execute(p).await?.rows_affected()))
    }

    /// Marks a session as used now.
    pub async fn touch_session(&self, id_hash: &str, now_ms: i64) -> Result<()> {
        on_pool!(self, p => sqlx::query("UPDATE web_session SET last_seen_ms = $1 WHERE id_hash = $2")
            .bind(now_ms).bind(id_hash).execute(p).await?.rows_affected());
        Ok(())
    }

    /// Ends a session.
    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        on_pool!(self, p => sqlx::query("DELETE FROM web_session WHERE id_hash = $1")
            .bind(id_hash).execute(p).await?.rows_affected());
        Ok(())
    }

    /// Every person, for periodic jobs.
    pub async fn persons(&self) -> Result<Vec<Person>> {
        let rows: Vec<(i64, String, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, display_name, time_zone FROM person ORDER BY id",
        ).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(|(id, display_name, time_zone)| Person {
                id,
                display_name,
                time_zone,
            })
            .collect())
    }

    /// A person by id.
    pub async fn person(&self, id: i64) -> Result<Option<Person>> {
        let row: Option<(i64, String, String)> = on_pool!(self, p => sqlx::query_as(
            "SELECT id, display_name, time_zone FROM person WHERE id = $1",
        ).bind(id).fetch_optional(p).await?);
        Ok(row.map(|(id, display_name, time_zone)| Person {
            id,
            display_name,
            time_zone,
        }))
    }
}
