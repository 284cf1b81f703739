//! Joining and keeping an account: registration (first account, invitation or
//! open sign-up), household settings, profiles, password and email changes,
//! and ending sessions from the session list.
//!
//! Who may register is decided inside the same transaction that creates the
//! account, so two people racing for "first account on a fresh install" cannot
//! both become admin, and an invitation cannot be spent twice.

use serde::{Deserialize, Serialize};

use crate::people::{NewUser, Role, UserRow};
use crate::tx::on_tx;
use crate::{Result, Store, StoreError, on_pool};

/// Household-wide settings the admin controls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HouseholdSettings {
    /// Anyone who can reach the portal may register (as an adult).
    pub open_registration: bool,
    /// Every member must sign in with a second factor.
    pub require_2fa: bool,
}

/// What an invitation is made of.
#[derive(Clone, Debug)]
pub struct NewInvitation<'a> {
    /// SHA-256 of the token (the token itself goes into the link only).
    pub token_hash: &'a str,
    /// The household it joins.
    pub household: i64,
    /// The role the new member gets.
    pub role: Role,
    /// Who it is meant for, if the admin said.
    pub email: Option<&'a str>,
    /// The admin who made it.
    pub created_by: i64,
    /// When.
    pub now_ms: i64,
    /// When it stops working.
    pub expires_ms: i64,
}

/// A pending invitation, as the admin sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InvitationRow {
    /// SHA-256 of the token (the token itself was shown once).
    pub token_hash: String,
    /// The role the new member gets.
    pub role: Role,
    /// Who the invitation was meant for, if the admin said.
    pub email: Option<String>,
    /// When it was made.
    pub created_ms: i64,
    /// When it stops working.
    pub expires_ms: i64,
}

/// A member of the household, as the admin's page lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The person.
    pub person_id: i64,
    /// Their name.
    pub display_name: String,
    /// The account, if the person has one.
    pub user_id: Option<i64>,
    /// The account's email.
    pub email: Option<String>,
    /// The account's role (a person without an account has none).
    pub role: Option<Role>,
    /// Whether the account signs in with a second factor.
    pub two_factor: bool,
}

/// What a person keeps about themselves (DESIGN.md: profile).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Name shown in the portal.
    pub display_name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// `metric` or `imperial`.
    pub units: String,
    /// ISO date, `YYYY-MM-DD`.
    pub date_of_birth: Option<String>,
    /// As the person states it.
    pub sex: Option<String>,
    /// Height in centimetres.
    pub height_cm: Option<f64>,
    /// Phone number, for the household's own contact list.
    pub phone: Option<String>,
    /// Known conditions, free text.
    pub conditions: Option<String>,
    /// Allergies, free text.
    pub allergies: Option<String>,
    /// ABO/Rh blood type, e.g. `A+`.
    pub blood_type: Option<String>,
    /// When onboarding was finished.
    pub onboarded_ms: Option<i64>,
}

/// The blood types a profile may hold.
pub const BLOOD_TYPES: [&str; 8] = ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"];

type MemberTuple = (
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

type ProfileTuple = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<f64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

impl Profile {
    /// Checks the fields a form may get wrong; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let invalid = |what: &str| Err(StoreError::Invalid(what.to_owned()));
        if !plain_name(&self.display_name) {
            return invalid("name: 1 to 100 characters, no control characters");
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return invalid("time zone: pick one from the list");
        }
        if !matches!(self.units.as_str(), "metric" | "imperial") {
            return invalid("units: metric or imperial");
        }
        if let Some(d) = &self.date_of_birth {
            match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(date)
                    if chrono::Datelike::year(&date) >= 1900
                        && date <= chrono::Utc::now().date_naive() => {}
                _ => return invalid("date of birth: YYYY-MM-DD, after 1900 and not in the future"),
            }
        }
        if let Some(h) = self.height_cm
            && !(30.0..=280.0).contains(&h)
        {
            return invalid("height: between 30 and 280 cm");
        }
        if let Some(b) = &self.blood_type
            && !BLOOD_TYPES.contains(&b.as_str())
        {
            return invalid("blood type");
        }
        let long = [&self.conditions, &self.allergies]
            .into_iter()
            .flatten()
            .any(|t| t.chars().count() > 2000);
        let short = [&self.sex, &self.phone]
            .into_iter()
            .flatten()
            .any(|t| t.chars().count() > 40);
        if long || short {
            return invalid(
                "lengths: conditions and allergies up to 2000 characters, sex and phone up to 40",
            );
        }
        Ok(())
    }
}

/// A name shown to other people: 1 to 100 characters, none of them control
/// characters or the direction overrides that make "Ann" read as someone else.
pub fn plain_name(name: &str) -> bool {
    let name = name.trim();
    let sneaky = |c: char| {
        c.is_control()
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
            || c == '\u{200E}'
            || c == '\u{200F}'
    };
    !name.is_empty() && name.chars().count() <= 100 && !name.chars().any(sneaky)
}

fn flag(v: i64) -> bool {
    v != 0
}

impl Store {
    /// How many accounts exist (none on a fresh install).
    pub async fn count_users(&self) -> Result<i64> {
        Ok(
            on_pool!(self, p => sqlx::query_scalar("SELECT COUNT(*) FROM app_user")
            .fetch_one(p).await?),
        )
    }

    /// Registers an account. The first account on a fresh install founds the
    /// household as its admin; after that an unspent, unexpired invitation
    /// (by the hash of its token) decides household and role, or, with open
    /// registration, the newcomer joins the first household as an adult.
    /// Anything else is [`StoreError::Invalid`] with a sentence for the person.
    pub async fn register(
        &self,
        new: &NewUser<'_>,
        invitation: Option<&str>,
        now_ms: i64,
    ) -> Result<UserRow> {
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
                "SELECT COUNT(*) FROM app_user
                 WHERE email = $1 OR (username IS NOT NULL AND username = $2)",
            ).bind(&email).bind(new.username).fetch_one(&mut **t).await?;
            if taken > 0 {
                return Err(StoreError::Conflict("an account with this email or user name".into()));
            }
            let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM app_user")
                .fetch_one(&mut **t).await?;
            let invited: Option<(i64, String)> = match invitation {
                Some(hash) => sqlx::query_as(
                    "UPDATE invitation SET used_ms = $2
                     WHERE token_hash = $1 AND used_ms IS NULL AND expires_ms > $2
                     RETURNING household_id, role",
                ).bind(hash).bind(now_ms).fetch_optional(&mut **t).await?,
                None => None,
            };
            let (household, role) = if let Some((h, role)) = invited {
                (h, Role::parse(&role))
            } else if invitation.is_some() {
                return Err(StoreError::Invalid(
                    "this invitation has been used or has expired; ask for a new one".into(),
                ));
            } else if users == 0 {
                let h: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM household")
                    .fetch_one(&mut **t).await?;
                let h = match h {
                    Some(h) => h,
                    None => sqlx::query_scalar(
                        "INSERT INTO household (name, created_ms) VALUES ($1, $2) RETURNING id",
                    ).bind("Home").bind(now_ms).fetch_one(&mut **t).await?,
                };
                (h, Role::Admin)
            } else {
                let open: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT id, open_registration FROM household ORDER BY id LIMIT 1",
                ).fetch_optional(&mut **t).await?;
                match open {
                    Some((h, open)) if flag(open) => (h, Role::Adult),
                    _ => return Err(StoreError::Invalid(
                        "registration here is by invitation; ask the household's admin for a link".into(),
                    )),
                }
            };
            let person: i64 = sqlx::query_scalar(
                "INSERT INTO person (household_id, display_name, time_zone, created_ms)
                 VALUES ($1, $2, $3, $4) RETURNING id",
            ).bind(household).bind(new.display_name).bind(new.time_zone).bind(now_ms)
            .fetch_one(&mut **t).await?;
            let user: i64 = sqlx::query_scalar(
                "INSERT INTO app_user
                     (person_id, email, username, password_hash, role, created_ms, password_changed_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
            ).bind(person).bind(&email).bind(new.username).bind(new.password_hash)
            .bind(role.as_str()).bind(now_ms)
            .fetch_one(&mut **t).await?;
            if let Some(hash) = invitation {
                sqlx::query("UPDATE invitation SET used_by = $1 WHERE token_hash = $2")
                    .bind(user).bind(hash).execute(&mut **t).await?;
            }
            user
        });
        tx.commit().await?;
        self.user_by_id(user_id)
            .await?
            .ok_or_else(|| StoreError::NotFound("new user".into()))
    }

    /// The household's settings.
    pub async fn household_settings(&self, household: i64) -> Result<HouseholdSettings> {
        let row: Option<(i64, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT open_registration, require_2fa FROM household WHERE id = $1",
        ).bind(household).fetch_optional(p).await?);
        let (open, mfa) = row.ok_or_else(|| StoreError::NotFound("household".into()))?;
        Ok(HouseholdSettings {
            open_registration: flag(open),
            require_2fa: flag(mfa),
        })
    }

    /// Whether the (first) household takes registrations without an invitation.
    pub async fn registration_open(&self) -> Result<bool> {
        let open: Option<i64> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT open_registration FROM household ORDER BY id LIMIT 1",
        ).fetch_optional(p).await?);
        Ok(open.is_some_and(flag))
    }

    /// The household's persons, with their accounts where they have one.
    pub async fn members(&self, household: i64) -> Result<Vec<Member>> {
        let rows: Vec<MemberTuple> = on_pool!(self, p => sqlx::query_as(
                "SELECT p.id, p.display_name, u.id, u.email, u.role, u.totp_enabled_ms
                 FROM person p LEFT JOIN app_user u ON u.person_id = p.id
                 WHERE p.household_id = $1 ORDER BY p.id",
            ).bind(household).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(
                |(person_id, display_name, user_id, email, role, totp)| Member {
                    person_id,
                    display_name,
                    user_id,
                    email,
                    role: role.as_deref().map(Role::parse),
                    two_factor: totp.is_some(),
                },
            )
            .collect())
    }

    /// Opens or closes registration without an invitation.
    pub async fn set_open_registration(&self, household: i64, open: bool) -> Result<()> {
        on_pool!(self, p => sqlx::query("UPDATE household SET open_registration = $1 WHERE id = $2")
            .bind(i64::from(open)).bind(household).execute(p).await?.rows_affected());
        Ok(())
    }

    /// Stores an invitation under the hash of its token.
    pub async fn create_invitation(&self, new: &NewInvitation<'_>) -> Result<()> {
        on_pool!(self, p => sqlx::query(
            "INSERT INTO invitation (token_hash, household_id, role, email, created_by, created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        ).bind(new.token_hash).bind(new.household).bind(new.role.as_str()).bind(new.email)
        .bind(new.created_by).bind(new.now_ms).bind(new.expires_ms)
        .execute(p).await?.rows_affected());
        Ok(())
    }

    /// The role an unspent, unexpired invitation offers, if it is one.
    pub async fn invitation_role(&self, token_hash: &str, now_ms: i64) -> Result<Option<Role>> {
        let role: Option<String> = on_pool!(self, p => sqlx::query_scalar(
            "SELECT role FROM invitation WHERE token_hash = $1 AND used_ms IS NULL AND expires_ms > $2",
        ).bind(token_hash).bind(now_ms).fetch_optional(p).await?);
        Ok(role.map(|r| Role::parse(&r)))
    }

    /// The household's invitations that can still be used, newest first.
    pub async fn open_invitations(
        &self,
        household: i64,
        now_ms: i64,
    ) -> Result<Vec<InvitationRow>> {
        let rows: Vec<(String, String, Option<String>, i64, i64)> = on_pool!(self, p => sqlx::query_as(
            "SELECT token_hash, role, email, created_ms, expires_ms FROM invitation
             WHERE household_id = $1 AND used_ms IS NULL AND expires_ms > $2
             ORDER BY created_ms DESC",
        ).bind(household).bind(now_ms).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(
                |(token_hash, role, email, created_ms, expires_ms)| InvitationRow {
                    token_hash,
                    role: Role::parse(&role),
                    email,
                    created_ms,
                    expires_ms,
                },
            )
            .collect())
    }

    /// Withdraws an invitation (by a prefix of its hash, as the admin page shows it).
    pub async fn withdraw_invitation(&self, household: i64, hash_prefix: &str) -> Result<bool> {
        if hash_prefix.len() < 16 || !hash_prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        let n = on_pool!(self, p => sqlx::query(
            "DELETE FROM invitation WHERE household_id = $1 AND used_ms IS NULL
             AND substr(token_hash, 1, 16) = $2",
        ).bind(household).bind(&hash_prefix[..16]).execute(p).await?.rows_affected());
        Ok(n > 0)
    }

    /// A person's profile.
    pub async fn profile(&self, person: i64) -> Result<Profile> {
        let row: Option<ProfileTuple> = on_pool!(self, p => sqlx::query_as(
            "SELECT display_name, time_zone, units, date_of_birth, sex, height_cm, phone,
                    conditions, allergies, blood_type, onboarded_ms
             FROM person WHERE id = $1",
        ).bind(person).fetch_optional(p).await?);
        let t = row.ok_or_else(|| StoreError::NotFound("person".into()))?;
        Ok(Profile {
            display_name: t.0,
            time_zone: t.1,
            units: t.2,
            date_of_birth: t.3,
            sex: t.4,
            height_cm: t.5,
            phone: t.6,
            conditions: t.7,
            allergies: t.8,
            blood_type: t.9,
            onboarded_ms: t.10,
        })
    }

    /// Replaces a person's profile (after [`Profile::validate`]); a new time zone
    /// rebuilds the person's day rollups, as [`Store::set_time_zone`] does.
    pub async fn update_profile(&self, person: i64, profile: &Profile) -> Result<()> {
        profile.validate()?;
        let before = self.profile(person).await?;
        on_pool!(self, p => sqlx::query(
            "UPDATE person SET display_name = $1, units = $2, date_of_birth = $3, sex = $4,
                 height_cm = $5, phone = $6, conditions = $7, allergies = $8, blood_type = $9,
                 onboarded_ms = COALESCE(onboarded_ms, $10)
             WHERE id = $11",
        ).bind(profile.display_name.trim()).bind(&profile.units).bind(&profile.date_of_birth)
        .bind(&profile.sex).bind(profile.height_cm).bind(&profile.phone)
        .bind(&profile.conditions).bind(&profile.allergies).bind(&profile.blood_type)
        .bind(profile.onboarded_ms).bind(person)
        .execute(p).await?.rows_affected());
        if before.time_zone != profile.time_zone {
            self.set_time_zone(person, &profile.time_zone).await?;
        }
        Ok(())
    }

    /// Replaces an account's password hash, records when, and ends every other
    /// session of the account, in one transaction.
    pub async fn change_password(
        &self,
        user: i64,
        hash: &str,
        keep_session: Option<&str>,
        now_ms: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        on_tx!(&mut tx, t => {
            sqlx::query("UPDATE app_user SET password_hash = $1, password_changed_ms = $2 WHERE id = $3")
                .bind(hash).bind(now_ms).bind(user).execute(&mut **t).await?;
            sqlx::query("DELETE FROM web_session WHERE user_id = $1 AND ($2 IS NULL OR id_hash <> $2)")
                .bind(user).bind(keep_session).execute(&mut **t).await?;
        });
        tx.commit().await?;
        Ok(())
    }

    /// Changes an account's email; the new address is unverified until its link is used.
    pub async fn change_email(&self, user: i64, email: &str) -> Result<()> {
        let email = email.trim().to_lowercase();
        let taken: i64 = on_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM app_user WHERE email = $1 AND id <> $2",
        ).bind(&email).bind(user).fetch_one(p).await?);
        if taken > 0 {
            return Err(StoreError::Conflict("an account with this email".into()));
        }
        on_pool!(self, p => sqlx::query(
            "UPDATE app_user SET email = $1, email_verified_ms = NULL WHERE id = $2 AND email <> $1",
        ).bind(&email).bind(user).execute(p).await?.rows_affected());
        Ok(())
    }

    /// Ends one of an account's sessions, named by the first 16 hex digits of its
    /// hash (what the session list shows); false when there is no such session.
    pub async fn end_session_by_handle(&self, user: i64, handle: &str) -> Result<Option<String>> {
        if handle.len() != 16 || !handle.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let ended: Option<String> = on_pool!(self, p => sqlx::query_scalar(
            "DELETE FROM web_session WHERE user_id = $1 AND substr(id_hash, 1, 16) = $2
             RETURNING id_hash",
        ).bind(user).bind(handle).fetch_optional(p).await?);
        Ok(ended)
    }
}
