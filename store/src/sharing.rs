//! Sharing: grants of read access to categories of one's data, the audit log
//! of who looked at whose data, and the household facts the authorization
//! function needs (who is whose child, who manages whom).
//!
//! The decision itself lives in the portal (`auth::access`); the store only
//! answers the questions it asks, each in one query.

use serde::Serialize;

use cohealth_ingest::Metric;

use crate::people::Role;
use crate::{Result, Store, StoreError, on_pool};

/// What a grant covers (DESIGN.md: vitals, activity, records, appointments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Heart rate, blood pressure, SpO2, temperature, weight and body composition.
    Vitals,
    /// Steps, energy, distance, speed, cadence.
    Activity,
    /// Medical records and the symptom log.
    Records,
    /// Appointments.
    Appointments,
}

impl Category {
    /// Every category, in the order pages list them.
    pub const ALL: [Category; 4] = [
        Category::Vitals,
        Category::Activity,
        Category::Records,
        Category::Appointments,
    ];

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Category::Vitals => "vitals",
            Category::Activity => "activity",
            Category::Records => "records",
            Category::Appointments => "appointments",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The category a metric's samples belong to. Device housekeeping values
    /// (battery) count as vitals: they come with the vitals and say nothing else.
    pub const fn of(metric: Metric) -> Category {
        match metric {
            Metric::Steps
            | Metric::ActiveEnergy
            | Metric::BasalEnergy
            | Metric::Distance
            | Metric::Speed
            | Metric::Cadence => Category::Activity,
            _ => Category::Vitals,
        }
    }
}

/// A grant, with both persons' names for pages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GrantRow {
    /// Grant id.
    pub id: i64,
    /// Whose data.
    pub owner_person: i64,
    /// The owner's name.
    pub owner_name: String,
    /// Who may read it.
    pub grantee_person: i64,
    /// The grantee's name.
    pub grantee_name: String,
    /// What may be read.
    pub category: Category,
    /// Until when (exclusive), if limited.
    pub until_ms: Option<i64>,
    /// When it was given.
    pub created_ms: i64,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<i64>,
}

impl GrantRow {
    /// Whether the grant lets its grantee read at `now_ms`.
    pub fn live(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && self.until_ms.is_none_or(|u| u > now_ms)
    }
}

/// One audit entry to write.
#[derive(Clone, Debug)]
pub struct AuditEntry<'a> {
    /// When.
    pub ts_ms: i64,
    /// The account that acted (none for the daemon itself).
    pub actor_user: Option<i64>,
    /// The acting person.
    pub actor_person: Option<i64>,
    /// The actor's name as it was then.
    pub actor_name: &'a str,
    /// Whose data.
    pub subject_person: i64,
    /// `view`, `api_read`, `export`, `share`, `revoke`, `delete`, ….
    pub action: &'a str,
    /// The category touched, if one.
    pub category: Option<Category>,
    /// A short, value-free description (a route, a metric name, a range).
    pub detail: Option<&'a str>,
}

/// A stored audit entry, as its subject reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    /// When.
    pub ts_ms: i64,
    /// The acting person, if they still exist.
    pub actor_person: Option<i64>,
    /// Who, by name.
    pub actor_name: String,
    /// What they did.
    pub action: String,
    /// Which category.
    pub category: Option<String>,
    /// Details.
    pub detail: Option<String>,
}

/// A person of the household and how they relate to accounts, for decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonFacts {
    /// Person id.
    pub id: i64,
    /// Household.
    pub household_id: i64,
    /// Name.
    pub display_name: String,
    /// The account's role; `None` for a person without an account.
    pub role: Option<Role>,
    /// The adult managing a person without an account, if set.
    pub managed_by: Option<i64>,
}

type FactsTuple = (i64, i64, String, Option<String>, Option<i64>);
type AuditTuple = (
    i64,
    Option<i64>,
    String,
    String,
    Option<String>,
    Option<String>,
);
type GrantTuple = (
    i64,
    i64,
    String,
    i64,
    String,
    String,
    Option<i64>,
    i64,
    Option<i64>,
);

fn to_grant(t: GrantTuple) -> Option<GrantRow> {
    Some(GrantRow {
        id: t.0,
        owner_person: t.1,
        owner_name: t.2,
        grantee_person: t.3,
        grantee_name: t.4,
        category: Category::parse(&t.5)?,
        until_ms: t.6,
        created_ms: t.7,
        revoked_ms: t.8,
    })
}

macro_rules! grant_select {
    ($where:literal) => {
        concat!(
            "SELECT g.id, g.owner_person, o.display_name, g.grantee_person, r.display_name,
                    g.category, g.until_ms, g.created_ms, g.revoked_ms
             FROM data_grant g
             JOIN person o ON o.id = g.owner_person
             JOIN person r ON r.id = g.grantee_person ",
            $where
        )
    };
}

impl Store {
    /// Facts about one person: household, role, manager.
    pub async fn person_facts(&self, person: i64) -> Result<Option<PersonFacts>> {
        let row: Option<FactsTuple> = on_pool!(self, p => sqlx::query_as(
            "SELECT p.id, p.household_id, p.display_name, u.role, p.managed_by
             FROM person p LEFT JOIN app_user u ON u.person_id = p.id WHERE p.id = $1",
        ).bind(person).fetch_optional(p).await?);
        Ok(row.map(
            |(id, household_id, display_name, role, managed_by)| PersonFacts {
                id,
                household_id,
                display_name,
                role: role.as_deref().map(Role::parse),
                managed_by,
            },
        ))
    }

    /// Gives `grantee` read access to `owner`'s `category` until `until_ms`
    /// (none: until revoked). A live grant for the same pair and category is
    /// replaced, so the list never shows two.
    pub async fn create_grant(
        &self,
        owner: i64,
        grantee: i64,
        category: Category,
        until_ms: Option<i64>,
        by_user: i64,
        now_ms: i64,
    ) -> Result<i64> {
        if owner == grantee {
            return Err(StoreError::Invalid(
                "grant: a person already reads their own data".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        let id: i64 = crate::tx::on_tx!(&mut tx, t => {
            sqlx::query(
                "UPDATE data_grant SET revoked_ms = $1
                 WHERE owner_person = $2 AND grantee_person = $3 AND category = $4 AND revoked_ms IS NULL",
            ).bind(now_ms).bind(owner).bind(grantee).bind(category.as_str())
            .execute(&mut **t).await?;
            sqlx::query_scalar(
                "INSERT INTO data_grant (owner_person, grantee_person, category, until_ms, created_ms, created_by)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            ).bind(owner).bind(grantee).bind(category.as_str()).bind(until_ms).bind(now_ms)
            .bind(by_user).fetch_one(&mut **t).await?
        });
        tx.commit().await?;
        Ok(id)
    }

    /// Revokes one of `owner`'s grants; false when `owner` has no such live grant.
    pub async fn revoke_grant(&self, owner: i64, id: i64, now_ms: i64) -> Result<bool> {
        let n = on_pool!(self, p => sqlx::query(
            "UPDATE data_grant SET revoked_ms = $1
             WHERE id = $2 AND owner_person = $3 AND revoked_ms IS NULL",
        ).bind(now_ms).bind(id).bind(owner).execute(p).await?.rows_affected());
        Ok(n > 0)
    }

    /// The grants `owner` gave, newest first (revoked and expired ones too).
    pub async fn grants_given(&self, owner: i64) -> Result<Vec<GrantRow>> {
        let rows: Vec<GrantTuple> = on_pool!(self, p => sqlx::query_as(
            grant_select!("WHERE g.owner_person = $1 ORDER BY g.created_ms DESC, g.id DESC"),
        ).bind(owner).fetch_all(p).await?);
        Ok(rows.into_iter().filter_map(to_grant).collect())
    }

    /// The grants `grantee` holds that are live at `now_ms`.
    pub async fn grants_received(&self, grantee: i64, now_ms: i64) -> Result<Vec<GrantRow>> {
        let rows: Vec<GrantTuple> = on_pool!(self, p => sqlx::query_as(
            grant_select!("WHERE g.grantee_person = $1 AND g.revoked_ms IS NULL
                           AND (g.until_ms IS NULL OR g.until_ms > $2)
                           ORDER BY o.display_name, g.category"),
        ).bind(grantee).bind(now_ms).fetch_all(p).await?);
        Ok(rows.into_iter().filter_map(to_grant).collect())
    }

    /// The live grant letting `grantee` read `owner`'s `category`, if any.
    pub async fn live_grant(
        &self,
        owner: i64,
        grantee: i64,
        category: Category,
        now_ms: i64,
    ) -> Result<Option<i64>> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT id FROM data_grant
             WHERE owner_person = $1 AND grantee_person = $2 AND category = $3
               AND revoked_ms IS NULL AND (until_ms IS NULL OR until_ms > $4)
             ORDER BY id DESC LIMIT 1",
        ).bind(owner).bind(grantee).bind(category.as_str()).bind(now_ms)
        .fetch_optional(p).await?))
    }

    /// Writes an audit entry.
    pub async fn audit(&self, entry: &AuditEntry<'_>) -> Result<()> {
        on_pool!(self, p => sqlx::query(
            "INSERT INTO audit_log
                 (ts_ms, actor_user, actor_person, actor_name, subject_person, action, category, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ).bind(entry.ts_ms).bind(entry.actor_user).bind(entry.actor_person).bind(entry.actor_name)
        .bind(entry.subject_person).bind(entry.action).bind(entry.category.map(Category::as_str))
        .bind(entry.detail).execute(p).await?.rows_affected());
        Ok(())
    }

    /// The audit entries about `subject`, newest first.
    pub async fn audit_log_of(&self, subject: i64, limit: i64) -> Result<Vec<AuditRow>> {
        let rows: Vec<AuditTuple> = on_pool!(self, p => sqlx::query_as(
                "SELECT ts_ms, actor_person, actor_name, action, category, detail FROM audit_log
                 WHERE subject_person = $1 ORDER BY ts_ms DESC, id DESC LIMIT $2",
            ).bind(subject).bind(limit).fetch_all(p).await?);
        Ok(rows
            .into_iter()
            .map(
                |(ts_ms, actor_person, actor_name, action, category, detail)| AuditRow {
                    ts_ms,
                    actor_person,
                    actor_name,
                    action,
                    category,
                    detail,
                },
            )
            .collect())
    }

    /// Adds a person without an account (a young child) to a household,
    /// managed by `manager` (a person id).
    pub async fn add_managed_person(
        &self,
        household: i64,
        name: &str,
        time_zone: &str,
        manager: i64,
        now_ms: i64,
    ) -> Result<i64> {
        if time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(StoreError::Invalid(format!("time zone `{time_zone}`")));
        }
        let name = name.trim();
        if !crate::accounts::plain_name(name) {
            return Err(StoreError::Invalid(
                "name: 1 to 100 characters, no control characters".into(),
            ));
        }
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "INSERT INTO person (household_id, display_name, time_zone, created_ms, onboarded_ms, managed_by)
             VALUES ($1, $2, $3, $4, $4, $5) RETURNING id",
        ).bind(household).bind(name).bind(time_zone).bind(now_ms).bind(manager)
        .fetch_one(p).await?))
    }

    /// Changes an account's role within its household. Refuses (false) to take
    /// away the household's last admin: the check and the change happen under
    /// the household row's write lock, so two admins demoting each other at
    /// once cannot leave none.
    pub async fn set_role(&self, user: i64, role: Role) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let changed = crate::tx::on_tx!(&mut tx, t => {
            let household: Option<i64> = sqlx::query_scalar(
                "SELECT p.household_id FROM app_user u JOIN person p ON p.id = u.person_id WHERE u.id = $1",
            ).bind(user).fetch_optional(&mut **t).await?;
            let Some(household) = household else {
                return Ok(false);
            };
            sqlx::query("UPDATE household SET name = name WHERE id = $1")
                .bind(household).execute(&mut **t).await?;
            let others: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM app_user u JOIN person p ON p.id = u.person_id
                 WHERE p.household_id = $1 AND u.role = 'admin' AND u.id <> $2",
            ).bind(household).bind(user).fetch_one(&mut **t).await?;
            if role != Role::Admin && others == 0 {
                false
            } else {
                sqlx::query("UPDATE app_user SET role = $1 WHERE id = $2")
                    .bind(role.as_str()).bind(user).execute(&mut **t).await?;
                true
            }
        });
        tx.commit().await?;
        Ok(changed)
    }

    /// How many admins a household has (the last one may not step down).
    pub async fn admin_count(&self, household: i64) -> Result<i64> {
        Ok(on_pool!(self, p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM app_user u JOIN person p ON p.id = u.person_id
             WHERE p.household_id = $1 AND u.role = 'admin'",
        ).bind(household).fetch_one(p).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories() {
        assert_eq!(Category::of(Metric::HeartRate), Category::Vitals);
        assert_eq!(Category::of(Metric::Steps), Category::Activity);
        assert_eq!(Category::of(Metric::Weight), Category::Vitals);
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
    }
}
