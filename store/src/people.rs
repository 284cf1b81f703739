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

    fn parse(s: &str) -> Role {
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
);

macro_rules! user_select {
    ($where:literal) => {
        concat!(
            "SELECT u.id, u.person_id, u.email, u.username, u.password_hash, u.role,
                    p.time_zone, p.display_name
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
    }
}

impl Store {
    /// Creates a person with an account. The first account on a fresh install
    /// founds the household and becomes its admin; later ones join it as adults.
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
                "INSERT INTO person (household_id, display_name, time_zone, created_ms)
                 VALUES ($1, $2, $3, $4) RETURNING id",
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
        let sql = user_select!("WHERE u.email = $1 OR u.username = $2");
        let row: Option<UserTuple> = on_pool!(self, p => sqlx::query_as(sql)
            .bind(login.to_lowercase()).bind(login).fetch_optional(p).await?);
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
    pub async fn create_session(
        &self,
        id_hash: &str,
        user: i64,
        csrf: &str,
        now_ms: i64,
    ) -> Result<()> {
        on_pool!(self, p => sqlx::query(
            "INSERT INTO web_session (id_hash, user_id, csrf_token, created_ms, last_seen_ms)
             VALUES ($1, $2, $3, $4, $4)",
        ).bind(id_hash).bind(user).bind(csrf).bind(now_ms).execute(p).await?.rows_affected());
        Ok(())
    }

    /// A session's user, CSRF token, creation and last-seen times.
    pub async fn session(&self, id_hash: &str) -> Result<Option<(i64, String, i64, i64)>> {
        Ok(on_pool!(self, p => sqlx::query_as(
            "SELECT user_id, csrf_token, created_ms, last_seen_ms FROM web_session WHERE id_hash = $1",
        ).bind(id_hash).fetch_optional(p).await?))
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
