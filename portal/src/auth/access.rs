//! The one authorization function. Every read or write of person-owned data —
//! pages, the API, exports, deletion, and whatever comes later — asks
//! [`authorize`] first, and every look at someone else's data is audited there,
//! so no caller can forget either.
//!
//! The rules (DESIGN.md's roles):
//! - everyone may do anything with their own data, except that a child may not
//!   change sharing;
//! - an adult (the admin is an adult too) may read, change, export and delete
//!   the data of the household's children: members with the child role and
//!   persons without an account;
//! - the admin role adds no data access;
//! - anyone else, caregivers included, may only read, and only the categories
//!   a live grant from the owner covers.
//!
//! Refusals are 403, the same whether the person exists or not, so ids cannot
//! be probed.

use cohealth_store::{AuditEntry, Category, Role, UserRow};

use crate::{Portal, PortalError};

/// What is to be done with the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // Write: records and appointments, when those pages land
pub(crate) enum Access {
    /// See it (pages, API reads).
    Read,
    /// Add or change it.
    Write,
    /// Take it away as a file.
    Export,
    /// Delete it.
    Delete,
    /// Give or revoke grants on it.
    Share,
}

impl Access {
    const fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Export => "export",
            Access::Delete => "delete",
            Access::Share => "share",
        }
    }
}

/// Why access was allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Basis {
    /// It is the actor's own data.
    Own,
    /// The subject is a child (or a person without an account) of the actor's household.
    Guardian,
    /// A live grant from the subject, by id.
    Grant(i64),
}

/// Decides whether `actor` may do `access` to `subject`'s `category` of data,
/// and audits it when the data is someone else's. `detail` says where
/// (a route, a metric), never values.
pub(crate) async fn authorize(
    portal: &Portal,
    actor: &UserRow,
    subject: i64,
    category: Category,
    access: Access,
    detail: &str,
) -> Result<Basis, PortalError> {
    let basis = decide(portal, actor, subject, category, access).await?;
    let Some(basis) = basis else {
        tracing::info!(
            user.id = actor.id,
            subject.person = subject,
            category = category.as_str(),
            access = access.as_str(),
            "access refused"
        );
        return Err(PortalError::Forbidden);
    };
    if basis != Basis::Own {
        portal
            .app
            .store
            .audit(&AuditEntry {
                ts_ms: portal.clock.now_ms(),
                actor_user: Some(actor.id),
                actor_person: Some(actor.person_id),
                actor_name: &actor.display_name,
                subject_person: subject,
                action: access.as_str(),
                category: Some(category),
                detail: Some(detail),
            })
            .await?;
    }
    Ok(basis)
}

/// The decision alone, without auditing: for deciding what to offer (which
/// persons a switcher lists), never for serving data.
pub(crate) async fn decide(
    portal: &Portal,
    actor: &UserRow,
    subject: i64,
    category: Category,
    access: Access,
) -> Result<Option<Basis>, PortalError> {
    if subject == actor.person_id {
        let child_sharing = access == Access::Share && actor.role == Role::Child;
        return Ok((!child_sharing).then_some(Basis::Own));
    }
    let store = &portal.app.store;
    let Some(facts) = store.person_facts(subject).await? else {
        return Ok(None);
    };
    let same_household = facts.household_id == actor.household_id;
    let actor_is_adult = matches!(actor.role, Role::Adult | Role::Admin);
    let subject_is_child = matches!(facts.role, Some(Role::Child) | None);
    if same_household && actor_is_adult && subject_is_child {
        return Ok(Some(Basis::Guardian));
    }
    if access != Access::Read {
        return Ok(None);
    }
    let now = portal.clock.now_ms();
    Ok(store
        .live_grant(subject, actor.person_id, category, now)
        .await?
        .map(Basis::Grant))
}

/// A person the actor may view, with what they may see, for the "viewing"
/// switcher on the dashboard.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Viewable {
    pub person: i64,
    pub name: String,
    pub categories: Vec<&'static str>,
    pub own: bool,
}

/// Everyone whose data `actor` may read: themselves, the household's children
/// (for adults) and the owners of live grants.
pub(crate) async fn viewable(
    portal: &Portal,
    actor: &UserRow,
) -> Result<Vec<Viewable>, PortalError> {
    let store = &portal.app.store;
    let all: Vec<&'static str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let mut out = vec![Viewable {
        person: actor.person_id,
        name: actor.display_name.clone(),
        categories: all.clone(),
        own: true,
    }];
    if matches!(actor.role, Role::Adult | Role::Admin) {
        for m in store.members(actor.household_id).await? {
            let child = matches!(m.role, Some(Role::Child) | None);
            if child && m.person_id != actor.person_id {
                out.push(Viewable {
                    person: m.person_id,
                    name: m.display_name,
                    categories: all.clone(),
                    own: false,
                });
            }
        }
    }
    let now = portal.clock.now_ms();
    for g in store.grants_received(actor.person_id, now).await? {
        match out.iter_mut().find(|v| v.person == g.owner_person) {
            Some(v) => {
                if !v.categories.contains(&g.category.as_str()) {
                    v.categories.push(g.category.as_str());
                }
            }
            None => out.push(Viewable {
                person: g.owner_person,
                name: g.owner_name,
                categories: vec![g.category.as_str()],
                own: false,
            }),
        }
    }
    Ok(out)
}
