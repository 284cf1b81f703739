//! `/account/data` and the admin's retention setting through the router: sign-in
//! and CSRF on every form, range and device deletion, account deletion behind
//! the password with its banner and cancel button.

use axum::http::{StatusCode, header};
use cohealth_ingest::Metric;
use cohealth_store::DELETION_GRACE_MS;

use crate::common::{NOW, PASSWORD, TestPortal, add_user, csrf_of, set_cookie, text};

const DAY: i64 = 86_400_000;

fn enc(s: &str) -> String {
    s.replace(' ', "+")
}

/// Signs in as `login` through the form; returns the session cookie.
async fn session_as(portal: &TestPortal, login: &str) -> String {
    let form = portal.get("/login", None).await;
    let pre = set_cookie(&form, "cohealth_login_csrf").unwrap();
    let token = pre.split_once('=').unwrap().1.to_owned();
    let body = format!("login={login}&password={}&csrf={token}", enc(PASSWORD));
    let done = portal.post_form("/login", Some(&pre), &body).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    set_cookie(&done, "cohealth_session").unwrap()
}

fn location(response: &axum::http::Response<axum::body::Body>) -> &str {
    response.headers()[header::LOCATION].to_str().unwrap()
}

#[tokio::test]
async fn data_page_needs_sign_in_and_csrf() {
    let portal = TestPortal::new().await;
    portal.seed().await;
    let person = portal.user.person_id;
    let before = portal
        .store
        .count_samples(person, Metric::HeartRate)
        .await
        .unwrap();
    assert!(before > 0);

    let anonymous = portal.get("/account/data", None).await;
    assert_eq!(location(&anonymous), "/login");
    let form = "metric=heart_rate&from=2026-11-03&to=2026-11-04&confirm=1";
    for path in [
        "/account/data/metric",
        "/account/data/device",
        "/account/data/account",
        "/account/data/cancel",
    ] {
        let r = portal.post_form(path, None, form).await;
        assert_eq!(location(&r), "/login", "{path}");
    }

    let (session, csrf) = portal.sign_in().await;
    let page = portal.get("/account/data", Some(&session)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = text(page).await;
    assert!(page.contains(r#"action="/account/data/metric""#));
    assert!(page.contains("AA:BB:CC:DD:EE:02"), "my devices are offered");

    let forged = portal
        .post_form(
            "/account/data/metric",
            Some(&session),
            &format!("{form}&csrf={}", "0".repeat(64)),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let unconfirmed = portal
        .post_form(
            "/account/data/metric",
            Some(&session),
            &format!("metric=heart_rate&from=2026-11-03&to=2026-11-04&csrf={csrf}"),
        )
        .await;
    assert_eq!(unconfirmed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let backwards = portal
        .post_form(
            "/account/data/metric",
            Some(&session),
            &format!("metric=heart_rate&from=2026-11-04&to=2026-11-03&confirm=1&csrf={csrf}"),
        )
        .await;
    assert_eq!(backwards.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        portal
            .store
            .count_samples(person, Metric::HeartRate)
            .await
            .unwrap(),
        before
    );

    // The seeded heart rate spans yesterday and today (Berlin); delete yesterday.
    let steps_before = portal
        .store
        .count_samples(person, Metric::Steps)
        .await
        .unwrap();
    let done = portal
        .post_form(
            "/account/data/metric",
            Some(&session),
            &format!("metric=heart_rate&from=2026-11-03&to=2026-11-03&confirm=1&csrf={csrf}"),
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let after = portal
        .store
        .count_samples(person, Metric::HeartRate)
        .await
        .unwrap();
    assert!(after > 0 && after < before, "{after} of {before}");
    assert_eq!(
        location(&done),
        format!("/account/data?deleted={}", before - after)
    );
    assert_eq!(
        portal
            .store
            .count_samples(person, Metric::Steps)
            .await
            .unwrap(),
        steps_before
    );

    // One of my devices: the scale's weights go, and the device is forgotten.
    let device = portal
        .post_form(
            "/account/data/device",
            Some(&session),
            &format!("device=AA:BB:CC:DD:EE:02&confirm=1&csrf={csrf}"),
        )
        .await;
    assert_eq!(device.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        portal
            .store
            .count_samples(person, Metric::Weight)
            .await
            .unwrap(),
        0
    );
    // An unclaimed neighbour's device is not mine to delete.
    let neighbour = portal
        .post_form(
            "/account/data/device",
            Some(&session),
            &format!("device=11:22:33:44:55:66&confirm=1&csrf={csrf}"),
        )
        .await;
    assert_eq!(neighbour.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        portal
            .store
            .list_devices()
            .await
            .unwrap()
            .iter()
            .any(|d| d.id == "11:22:33:44:55:66" && d.pending > 0)
    );
}

#[tokio::test]
async fn account_deletion_needs_the_password_and_can_be_cancelled() {
    let portal = TestPortal::new().await;
    let person = portal.user.person_id;
    let elsewhere = session_as(&portal, "ada").await;
    let (session, csrf) = portal.sign_in().await;

    let wrong = portal
        .post_form(
            "/account/data/account",
            Some(&session),
            &format!("current=nope&csrf={csrf}"),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let forged = portal
        .post_form(
            "/account/data/account",
            Some(&session),
            &format!("current={}&csrf={}", enc(PASSWORD), "0".repeat(64)),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(portal.store.deletion_request(person).await.unwrap(), None);
    let page = text(portal.get("/devices", Some(&session)).await).await;
    assert!(!page.contains("deletion-banner"));

    let done = portal
        .post_form(
            "/account/data/account",
            Some(&session),
            &format!("current={}&csrf={csrf}", enc(PASSWORD)),
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let request = portal
        .store
        .deletion_request(person)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.due_ms, NOW + DELETION_GRACE_MS);
    // Signed out everywhere else; this session carries on with the banner on
    // every page.
    assert_eq!(
        location(&portal.get("/devices", Some(&elsewhere)).await),
        "/login"
    );
    for path in ["/devices", "/account", "/account/data"] {
        let page = portal.get(path, Some(&session)).await;
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let page = text(page).await;
        assert!(
            page.contains("Your account will be deleted on November 11, 2026"),
            "{path}"
        );
        assert!(page.contains(r#"action="/account/data/cancel""#), "{path}");
    }
    // Not carried out before it is due.
    assert_eq!(
        portal.store.purge_due_deletions(NOW + DAY).await.unwrap(),
        0
    );

    let forged = portal
        .post_form(
            "/account/data/cancel",
            Some(&session),
            &format!("csrf={}", "0".repeat(64)),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(
        portal
            .store
            .deletion_request(person)
            .await
            .unwrap()
            .is_some()
    );
    let page = text(portal.get("/account", Some(&session)).await).await;
    let cancel = portal
        .post_form(
            "/account/data/cancel",
            Some(&session),
            &format!("csrf={}", csrf_of(&page)),
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::SEE_OTHER);
    assert_eq!(portal.store.deletion_request(person).await.unwrap(), None);
    let page = text(portal.get(location(&cancel), Some(&session)).await).await;
    assert!(!page.contains("deletion-banner"));
    assert!(page.contains("Deletion cancelled"));
    assert_eq!(
        portal
            .store
            .purge_due_deletions(NOW + DELETION_GRACE_MS + DAY)
            .await
            .unwrap(),
        0
    );
    assert!(portal.store.person(person).await.unwrap().is_some());
}

#[tokio::test]
async fn only_the_admin_sets_retention() {
    let portal = TestPortal::new().await;
    let household = portal.user.household_id;
    let (session, csrf) = portal.sign_in().await;
    let page = text(portal.get("/admin/household", Some(&session)).await).await;
    assert!(page.contains(r#"action="/admin/household/retention""#));

    let forged = portal
        .post_form(
            "/admin/household/retention",
            Some(&session),
            &format!("days=30&csrf={}", "0".repeat(64)),
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let bad = portal
        .post_form(
            "/admin/household/retention",
            Some(&session),
            &format!("days=0&csrf={csrf}"),
        )
        .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(portal.store.retention_days(household).await.unwrap(), None);
    let done = portal
        .post_form(
            "/admin/household/retention",
            Some(&session),
            &format!("days=30&csrf={csrf}"),
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        portal.store.retention_days(household).await.unwrap(),
        Some(30)
    );

    // An adult who is not the admin cannot change it.
    let hash = cohealth_portal::auth::password::hash_password(PASSWORD).unwrap();
    add_user(&portal.store, "bob@example.org", Some("bob"), "Bob", &hash).await;
    let bob = session_as(&portal, "bob").await;
    let bob_csrf = csrf_of(&text(portal.get("/devices", Some(&bob)).await).await);
    let refused = portal
        .post_form(
            "/admin/household/retention",
            Some(&bob),
            &format!("days=&csrf={bob_csrf}"),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        portal.store.retention_days(household).await.unwrap(),
        Some(30)
    );
    let cleared = portal
        .post_form(
            "/admin/household/retention",
            Some(&session),
            &format!("days=&csrf={csrf}"),
        )
        .await;
    assert_eq!(cleared.status(), StatusCode::SEE_OTHER);
    assert_eq!(portal.store.retention_days(household).await.unwrap(), None);
}

#[tokio::test]
async fn the_last_admin_cannot_leave_members_behind() {
    let portal = TestPortal::new().await;
    let hash = cohealth_portal::auth::password::hash_password(PASSWORD).unwrap();
    let bob = add_user(&portal.store, "bob@example.org", Some("bob"), "Bob", &hash).await;
    let (session, csrf) = portal.sign_in().await;
    let refused = portal
        .post_form(
            "/account/data/account",
            Some(&session),
            &format!("current={}&csrf={csrf}", enc(PASSWORD)),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text(refused).await.contains("only admin"));
    assert_eq!(
        portal
            .store
            .deletion_request(portal.user.person_id)
            .await
            .unwrap(),
        None
    );
    // An adult member may go.
    let bob_session = session_as(&portal, "bob").await;
    let bob_csrf = csrf_of(&text(portal.get("/devices", Some(&bob_session)).await).await);
    let done = portal
        .post_form(
            "/account/data/account",
            Some(&bob_session),
            &format!("current={}&csrf={bob_csrf}", enc(PASSWORD)),
        )
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(
        portal
            .store
            .deletion_request(bob.person_id)
            .await
            .unwrap()
            .is_some()
    );
}
