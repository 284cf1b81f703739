//! The authorization matrix: every route that reads or changes person-owned
//! data, for every kind of caller — anonymous, the person themselves, another
//! adult, a child, a caregiver with, without and with an expired grant, the
//! admin — plus IDOR attempts that change ids in URLs, forms and API calls.

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use cohealth_ingest::{DeviceId, Metric, SourceKind};
use cohealth_portal::auth::password::hash_password;
use cohealth_store::{Category, Role, UserRow};

use crate::accounts::{page_csrf, session_of};
use crate::common::{NOW, PASSWORD, TestPortal, add_user, text};

const HOUR: i64 = 3_600_000;
const DAY_QUERY: &str = "from=2026-11-03T13:30:00Z&to=2026-11-04T13:30:00Z";

/// A household: Ada (admin), Bob and Hal (adults), Cal (child), Dee, Eve and
/// Fay (caregivers: Bob shares vitals with Dee, nothing with Eve, and shared
/// with Fay until yesterday), Gus (a child without an account).
struct Household {
    portal: TestPortal,
    clock: &'static std::sync::atomic::AtomicI64,
    users: Vec<(&'static str, UserRow)>,
    gus: i64,
}

impl Household {
    async fn new() -> Household {
        let (portal, clock) = TestPortal::with_clock().await;
        let hash = hash_password(PASSWORD).unwrap();
        let mut users = vec![("ada", portal.user.clone())];
        for (name, role) in [
            ("bob", Role::Adult),
            ("hal", Role::Adult),
            ("cal", Role::Child),
            ("dee", Role::Caregiver),
            ("eve", Role::Caregiver),
            ("fay", Role::Caregiver),
        ] {
            let email = format!("{name}@example.org");
            let u = add_user(&portal.store, &email, Some(name), name, &hash).await;
            portal.store.set_role(u.id, role).await.unwrap();
            let u = portal.store.user_by_id(u.id).await.unwrap().unwrap();
            users.push((name, u));
        }
        let ada = &users[0].1;
        let gus = portal
            .store
            .add_managed_person(ada.household_id, "Gus", "Europe/Berlin", ada.person_id, NOW)
            .await
            .unwrap();
        let h = Household {
            portal,
            clock,
            users,
            gus,
        };
        let (bob, dee, fay) = (h.user("bob"), h.user("dee"), h.user("fay"));
        let store = &h.portal.store;
        store
            .create_grant(
                bob.person_id,
                dee.person_id,
                Category::Vitals,
                None,
                bob.id,
                NOW - HOUR,
            )
            .await
            .unwrap();
        store
            .create_grant(
                bob.person_id,
                fay.person_id,
                Category::Vitals,
                Some(NOW - 1),
                bob.id,
                NOW - 48 * HOUR,
            )
            .await
            .unwrap();
        for (i, person) in h
            .users
            .iter()
            .map(|(_, u)| u.person_id)
            .chain([gus])
            .enumerate()
        {
            let device = DeviceId::parse(&format!("AA:BB:CC:DD:EE:{i:02X}")).unwrap();
            let hr = [(NOW - 2 * HOUR, 70.0), (NOW - HOUR, 72.0)];
            store
                .bulk_load(person, &device, SourceKind::Ble, Metric::HeartRate, &hr)
                .await
                .unwrap();
            let steps = [(NOW - 2 * HOUR, 500.0)];
            store
                .bulk_load(person, &device, SourceKind::Ble, Metric::Steps, &steps)
                .await
                .unwrap();
        }
        h
    }

    fn user(&self, name: &str) -> &UserRow {
        &self.users.iter().find(|(n, _)| *n == name).unwrap().1
    }

    fn person(&self, name: &str) -> i64 {
        if name == "gus" {
            self.gus
        } else {
            self.user(name).person_id
        }
    }

    /// A personal access token with `samples:read` for `name`.
    async fn token(&self, name: &str) -> String {
        use sha2::Digest;
        let token = format!("chp_{:0>64}", hex::encode(name.as_bytes()));
        let hash = hex::encode(sha2::Sha256::digest(token.as_bytes()));
        self.portal
            .store
            .create_personal_token(
                self.user(name).id,
                "t",
                &hash,
                "samples:read",
                NOW - HOUR,
                None,
            )
            .await
            .unwrap();
        token
    }

    async fn api(&self, token: Option<&str>, path: &str) -> StatusCode {
        let mut r = Request::get(path);
        if let Some(t) = token {
            r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.portal
            .send(r.body(Body::empty()).unwrap())
            .await
            .status()
    }
}

/// Allowed (200) or refused: 303 to sign-in for pages, 401 for the API without
/// credentials, 403 otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    Allow,
    Deny,
}
use Want::{Allow, Deny};

#[tokio::test]
async fn every_reader_route_for_every_role() {
    let h = Household::new().await;
    let callers = ["ada", "bob", "hal", "cal", "dee", "eve", "fay"];
    let mut sessions = Vec::new();
    let mut tokens = Vec::new();
    for name in callers {
        sessions.push(session_of(&h.portal, name, PASSWORD).await);
        tokens.push(h.token(name).await);
    }
    // (subject, category) → who may read. Self always; adults over children
    // (Cal, Gus); Dee only Bob's vitals; the admin nothing extra.
    let expect = |caller: &str, subject: &str, category: Category| -> Want {
        let own = caller == subject;
        let adult = matches!(caller, "ada" | "bob" | "hal");
        let child_subject = matches!(subject, "cal" | "gus");
        let granted = caller == "dee" && subject == "bob" && category == Category::Vitals;
        if own || (adult && child_subject) || granted {
            Allow
        } else {
            Deny
        }
    };
    let subjects = ["ada", "bob", "cal", "dee", "gus"];
    let mut checked = 0;
    for subject in subjects {
        let person = h.person(subject);
        for (i, caller) in callers.iter().enumerate() {
            for (metric, category) in [
                ("heart_rate", Category::Vitals),
                ("steps", Category::Activity),
            ] {
                let want = expect(caller, subject, category);
                for route in ["samples", "series"] {
                    let path =
                        format!("/api/v1/{route}?metric={metric}&{DAY_QUERY}&person={person}");
                    let got = h.api(Some(&tokens[i]), &path).await;
                    let ok = if want == Allow {
                        StatusCode::OK
                    } else {
                        StatusCode::FORBIDDEN
                    };
                    assert_eq!(got, ok, "{caller} → {subject}'s {metric} via {route}");
                    checked += 1;
                }
            }
            // The dashboard shows whatever of the person the caller may see.
            let may_any = [Category::Vitals, Category::Activity]
                .into_iter()
                .any(|c| expect(caller, subject, c) == Allow);
            let path = if h.person(caller) == person {
                "/dashboard".to_owned()
            } else {
                format!("/dashboard?person={person}")
            };
            let r = h.portal.get(&path, Some(&sessions[i])).await;
            let status = r.status();
            let want = if may_any {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(status, want, "{caller} → {subject}'s dashboard");
            if status == StatusCode::OK && *caller == "dee" && subject == "bob" {
                let page = text(r).await;
                assert!(page.contains("data-metric=\"heart_rate\""), "vitals shown");
                assert!(
                    !page.contains("data-metric=\"steps\""),
                    "activity hidden from a vitals grant"
                );
            }
            checked += 1;
        }
        // Anonymous: pages send to sign-in, the API answers 401.
        let path = format!("/api/v1/samples?metric=heart_rate&{DAY_QUERY}&person={person}");
        assert_eq!(h.api(None, &path).await, StatusCode::UNAUTHORIZED);
        let r = h
            .portal
            .get(&format!("/dashboard?person={person}"), None)
            .await;
        assert_eq!(r.headers()[header::LOCATION], "/login");
    }
    assert_eq!(checked, 5 * 7 * 5);

    // Every look at someone else's data is in the subject's audit log.
    let bob_log = h
        .portal
        .store
        .audit_log_of(h.person("bob"), 100)
        .await
        .unwrap();
    assert!(
        bob_log
            .iter()
            .any(|a| a.actor_name == "dee" && a.action == "read")
    );
    assert!(
        !bob_log.iter().any(|a| a.actor_name == "eve"),
        "refusals read nothing"
    );
    let gus_log = h.portal.store.audit_log_of(h.gus, 100).await.unwrap();
    assert!(gus_log.iter().any(|a| a.actor_name == "hal"));
    // Bob sees it on his sharing page.
    let bob = session_of(&h.portal, "bob", PASSWORD).await;
    let (_, page) = page_csrf(&h.portal, "/sharing", &bob).await;
    assert!(page.contains("Who looked at your data") && page.contains("<td>dee</td>"));
}

#[tokio::test]
async fn ids_changed_in_urls_forms_and_calls_reach_nothing() {
    let h = Household::new().await;
    let eve = session_of(&h.portal, "eve", PASSWORD).await;
    let dee_token = h.token("dee").await;
    // A person id that does not exist answers like one that is not yours.
    for person in [999_999, -1, 0] {
        let r = h
            .portal
            .get(&format!("/dashboard?person={person}"), Some(&eve))
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "person {person}");
        let path = format!("/api/v1/samples?metric=heart_rate&{DAY_QUERY}&person={person}");
        assert_eq!(h.api(Some(&dee_token), &path).await, StatusCode::FORBIDDEN);
    }
    // Revoking someone else's grant by its id: not found, and it stays live.
    let grant = h.portal.store.grants_given(h.person("bob")).await.unwrap()[0].clone();
    let (csrf, _) = page_csrf(&h.portal, "/sharing", &eve).await;
    let r = h
        .portal
        .post_form(
            "/sharing/revoke",
            Some(&eve),
            &format!("csrf={csrf}&id={}", grant.id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let dee_path = format!(
        "/api/v1/samples?metric=heart_rate&{DAY_QUERY}&person={}",
        h.person("bob")
    );
    assert_eq!(h.api(Some(&dee_token), &dee_path).await, StatusCode::OK);
    // Granting from someone else's data: the owner is always the signed-in
    // person, whatever the form says; a grantee outside the household is refused.
    let r = h
        .portal
        .post_form(
            "/sharing/grant",
            Some(&eve),
            &format!(
                "csrf={csrf}&grantee=999999&vitals=1&owner={}",
                h.person("bob")
            ),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A child cannot change sharing.
    let cal = session_of(&h.portal, "cal", PASSWORD).await;
    let (csrf, page) = page_csrf(&h.portal, "/sharing", &cal).await;
    assert!(page.contains("set by the adults"));
    let r = h
        .portal
        .post_form(
            "/sharing/grant",
            Some(&cal),
            &format!("csrf={csrf}&grantee={}&vitals=1", h.person("dee")),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Admin routes: 403 for everyone but the admin, whatever ids they name.
    for name in ["bob", "cal", "dee"] {
        let s = session_of(&h.portal, name, PASSWORD).await;
        let (csrf, _) = page_csrf(&h.portal, "/account", &s).await;
        assert_eq!(
            h.portal.get("/admin/household", Some(&s)).await.status(),
            StatusCode::FORBIDDEN
        );
        for (path, body) in [
            (
                "/admin/household/role",
                format!("user={}&role=admin", h.user(name).id),
            ),
            ("/admin/household/person", "name=X".to_owned()),
            ("/admin/household/invite", "role=admin".to_owned()),
            ("/admin/household/registration", "open=1".to_owned()),
        ] {
            let r = h
                .portal
                .post_form(path, Some(&s), &format!("csrf={csrf}&{body}"))
                .await;
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name} {path}");
        }
    }
    assert_eq!(
        h.portal
            .store
            .user_by_id(h.user("cal").id)
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Child
    );
    // The admin cannot reach a user of another household by id.
    let ada = session_of(&h.portal, "ada", PASSWORD).await;
    let (csrf, _) = page_csrf(&h.portal, "/admin/household", &ada).await;
    let r = h
        .portal
        .post_form(
            "/admin/household/role",
            Some(&ada),
            &format!("csrf={csrf}&user=999999&role=admin"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn grants_end_when_revoked_or_expired_and_roles_change_at_once() {
    let h = Household::new().await;
    let bob = session_of(&h.portal, "bob", PASSWORD).await;
    let dee = session_of(&h.portal, "dee", PASSWORD).await;
    let bobs = format!("/dashboard?person={}", h.person("bob"));
    assert_eq!(
        h.portal.get(&bobs, Some(&dee)).await.status(),
        StatusCode::OK
    );
    // Bob revokes on his sharing page: Dee is refused from then on.
    let (csrf, _) = page_csrf(&h.portal, "/sharing", &bob).await;
    let grant = h.portal.store.grants_given(h.person("bob")).await.unwrap();
    let live = grant.iter().find(|g| g.grantee_name == "dee").unwrap();
    let r = h
        .portal
        .post_form(
            "/sharing/revoke",
            Some(&bob),
            &format!("csrf={csrf}&id={}", live.id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        h.portal.get(&bobs, Some(&dee)).await.status(),
        StatusCode::FORBIDDEN
    );
    // A grant until a date: shared through that day, refused after it.
    let body = format!(
        "csrf={csrf}&grantee={}&activity=1&until=2026-11-05",
        h.person("eve")
    );
    let r = h
        .portal
        .post_form("/sharing/grant", Some(&bob), &body)
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let eve = session_of(&h.portal, "eve", PASSWORD).await;
    assert_eq!(
        h.portal.get(&bobs, Some(&eve)).await.status(),
        StatusCode::OK
    );
    h.clock.store(NOW + 2 * 24 * HOUR, Ordering::Relaxed);
    let eve = session_of(&h.portal, "eve", PASSWORD).await;
    assert_eq!(
        h.portal.get(&bobs, Some(&eve)).await.status(),
        StatusCode::FORBIDDEN
    );
    // The admin makes Cal an adult: Cal's sessions end, and Bob no longer sees Cal's data.
    h.clock.store(NOW, Ordering::Relaxed);
    let cal = session_of(&h.portal, "cal", PASSWORD).await;
    let ada = session_of(&h.portal, "ada", PASSWORD).await;
    let (csrf, _) = page_csrf(&h.portal, "/admin/household", &ada).await;
    let r = h
        .portal
        .post_form(
            "/admin/household/role",
            Some(&ada),
            &format!("csrf={csrf}&user={}&role=adult", h.user("cal").id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        h.portal.get("/account", Some(&cal)).await.headers()[header::LOCATION],
        "/login"
    );
    let cals = format!("/dashboard?person={}", h.person("cal"));
    assert_eq!(
        h.portal.get(&cals, Some(&bob)).await.status(),
        StatusCode::FORBIDDEN
    );
    // The last admin cannot step down.
    let (csrf, _) = page_csrf(&h.portal, "/admin/household", &ada).await;
    let r = h
        .portal
        .post_form(
            "/admin/household/role",
            Some(&ada),
            &format!("csrf={csrf}&user={}&role=adult", h.user("ada").id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn the_admin_removes_a_member_who_cannot_undo_it() {
    let h = Household::new().await;
    let hal = session_of(&h.portal, "hal", PASSWORD).await;
    let ada = session_of(&h.portal, "ada", PASSWORD).await;
    let (csrf, _) = page_csrf(&h.portal, "/admin/household", &ada).await;
    let remove = |user: i64| format!("csrf={csrf}&user={user}");
    // Not oneself, not someone outside the household.
    let r = h
        .portal
        .post_form(
            "/admin/household/remove",
            Some(&ada),
            &remove(h.user("ada").id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = h
        .portal
        .post_form("/admin/household/remove", Some(&ada), &remove(999_999))
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = h
        .portal
        .post_form(
            "/admin/household/remove",
            Some(&ada),
            &remove(h.user("hal").id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let pending = h
        .portal
        .store
        .deletion_request(h.person("hal"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.requested_by, Some(h.user("ada").id));
    assert_eq!(
        h.portal.get("/account", Some(&hal)).await.headers()[header::LOCATION],
        "/login"
    );
    // Hal can still sign in (to take their data) but not cancel the removal.
    let hal = session_of(&h.portal, "hal", PASSWORD).await;
    let (csrf_hal, _) = page_csrf(&h.portal, "/account", &hal).await;
    let r = h
        .portal
        .post_form(
            "/account/data/cancel",
            Some(&hal),
            &format!("csrf={csrf_hal}"),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        h.portal
            .store
            .deletion_request(h.person("hal"))
            .await
            .unwrap()
            .is_some()
    );
    // The admin can.
    let page = text(h.portal.get("/admin/household", Some(&ada)).await).await;
    assert!(page.contains("removed, deleted"));
    let r = h
        .portal
        .post_form(
            "/admin/household/keep",
            Some(&ada),
            &remove(h.user("hal").id),
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        h.portal
            .store
            .deletion_request(h.person("hal"))
            .await
            .unwrap()
            .is_none()
    );
}
