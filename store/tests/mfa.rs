//! Two-factor state in the store, on SQLite and on PostgreSQL: a TOTP step is
//! accepted once, a recovery code works once, and the household rule sticks.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]
#![allow(missing_docs)]

mod common;

use cohealth_store::Limits;

use common::{Backend, fresh, person};

async fn user_of(store: &cohealth_store::Store, email: &str) -> cohealth_store::UserRow {
    store.user_by_login(email).await.unwrap().unwrap()
}

async fn totp_steps_are_accepted_once(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    person(&t.store, "ann@example.org", "UTC").await;
    let ann = user_of(&t.store, "ann@example.org").await;
    assert_eq!(ann.totp_enabled_ms, None);
    // No secret yet: nothing to accept.
    assert!(!t.store.accept_totp_step(ann.id, 100).await.unwrap());

    assert!(
        t.store
            .set_pending_totp_secret(ann.id, "PENDINGONE")
            .await
            .unwrap()
    );
    // Enrolment restarted with a new key: the old one can no longer be confirmed.
    assert!(
        t.store
            .set_pending_totp_secret(ann.id, "PENDINGTWO")
            .await
            .unwrap()
    );
    let hashes = vec!["s1$h1".to_owned(), "s2$h2".to_owned()];
    assert!(
        !t.store
            .enable_totp(ann.id, "PENDINGONE", 100, &hashes, 5)
            .await
            .unwrap()
    );
    assert!(
        t.store
            .enable_totp(ann.id, "PENDINGTWO", 100, &hashes, 5)
            .await
            .unwrap()
    );
    let state = t.store.totp_state(ann.id).await.unwrap().unwrap();
    assert_eq!(state.secret.as_deref(), Some("PENDINGTWO"));
    assert_eq!((state.enabled_ms, state.last_step), (Some(5), Some(100)));
    assert_eq!(
        user_of(&t.store, "ann@example.org").await.totp_enabled_ms,
        Some(5)
    );
    // Enabled: a new pending secret cannot replace the live one, and a second
    // enable does nothing.
    assert!(
        !t.store
            .set_pending_totp_secret(ann.id, "OTHER")
            .await
            .unwrap()
    );
    assert!(
        !t.store
            .enable_totp(ann.id, "PENDINGTWO", 101, &hashes, 6)
            .await
            .unwrap()
    );

    // The step used for enrolment, and any earlier one, is refused; a later
    // one is accepted once.
    assert!(!t.store.accept_totp_step(ann.id, 100).await.unwrap());
    assert!(!t.store.accept_totp_step(ann.id, 99).await.unwrap());
    assert!(t.store.accept_totp_step(ann.id, 101).await.unwrap());
    assert!(!t.store.accept_totp_step(ann.id, 101).await.unwrap());
    assert!(!t.store.accept_totp_step(ann.id, 100).await.unwrap());

    // Two racing uses of the same step: exactly one wins.
    let (a, b) = tokio::join!(
        t.store.accept_totp_step(ann.id, 105),
        t.store.accept_totp_step(ann.id, 105)
    );
    assert_eq!(u8::from(a.unwrap()) + u8::from(b.unwrap()), 1);

    t.store.disable_totp(ann.id).await.unwrap();
    let state = t.store.totp_state(ann.id).await.unwrap().unwrap();
    assert_eq!(
        (state.secret, state.enabled_ms, state.last_step),
        (None, None, None)
    );
    assert_eq!(t.store.recovery_codes_left(ann.id).await.unwrap(), 0);
    assert!(!t.store.accept_totp_step(ann.id, 200).await.unwrap());
    assert_eq!(t.store.totp_state(9999).await.unwrap(), None);
}
both_backends!(totp_steps, totp_steps_are_accepted_once);

async fn recovery_codes_are_single_use(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    person(&t.store, "ann@example.org", "UTC").await;
    person(&t.store, "bob@example.org", "UTC").await;
    let ann = user_of(&t.store, "ann@example.org").await;
    let bob = user_of(&t.store, "bob@example.org").await;
    let hashes: Vec<String> = (0..10).map(|i| format!("salt{i}$hash{i}")).collect();
    t.store
        .set_pending_totp_secret(ann.id, "KEY")
        .await
        .unwrap();
    assert!(
        t.store
            .enable_totp(ann.id, "KEY", 1, &hashes, 10)
            .await
            .unwrap()
    );
    assert_eq!(t.store.recovery_codes_left(ann.id).await.unwrap(), 10);
    assert_eq!(
        t.store.unused_recovery_codes(ann.id).await.unwrap().len(),
        10
    );

    assert!(
        t.store
            .use_recovery_code(ann.id, "salt3$hash3", 20)
            .await
            .unwrap()
    );
    // The second use of the same code is refused.
    assert!(
        !t.store
            .use_recovery_code(ann.id, "salt3$hash3", 21)
            .await
            .unwrap()
    );
    // Another account cannot use Ann's code.
    assert!(
        !t.store
            .use_recovery_code(bob.id, "salt4$hash4", 21)
            .await
            .unwrap()
    );
    assert_eq!(t.store.recovery_codes_left(ann.id).await.unwrap(), 9);
    let unused = t.store.unused_recovery_codes(ann.id).await.unwrap();
    assert!(unused.iter().all(|c| c.code_hash != "salt3$hash3"));

    // Racing uses of one code: exactly one wins.
    let (a, b) = tokio::join!(
        t.store.use_recovery_code(ann.id, "salt5$hash5", 30),
        t.store.use_recovery_code(ann.id, "salt5$hash5", 30)
    );
    assert_eq!(u8::from(a.unwrap()) + u8::from(b.unwrap()), 1);
    assert_eq!(t.store.recovery_codes_left(ann.id).await.unwrap(), 8);

    // New codes replace every old one, used or not.
    let fresh_codes = vec!["n1$x".to_owned(), "n2$y".to_owned()];
    t.store
        .replace_recovery_codes(ann.id, &fresh_codes, 40)
        .await
        .unwrap();
    assert_eq!(t.store.recovery_codes_left(ann.id).await.unwrap(), 2);
    assert!(
        !t.store
            .use_recovery_code(ann.id, "salt6$hash6", 41)
            .await
            .unwrap()
    );
    assert!(t.store.use_recovery_code(ann.id, "n1$x", 41).await.unwrap());
    assert!(!t.store.use_recovery_code(ann.id, "n1$x", 42).await.unwrap());
}
both_backends!(recovery_codes, recovery_codes_are_single_use);

async fn the_household_rule(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    person(&t.store, "ann@example.org", "UTC").await;
    let ann = user_of(&t.store, "ann@example.org").await;
    let household = ann.household_id;
    assert!(
        !t.store
            .household_settings(household)
            .await
            .unwrap()
            .require_2fa
    );
    t.store
        .set_household_requires_2fa(household, true)
        .await
        .unwrap();
    assert!(
        t.store
            .household_settings(household)
            .await
            .unwrap()
            .require_2fa
    );
    t.store
        .set_household_requires_2fa(household, false)
        .await
        .unwrap();
    assert!(
        !t.store
            .household_settings(household)
            .await
            .unwrap()
            .require_2fa
    );
    assert!(t.store.household_settings(household + 100).await.is_err());
}
both_backends!(household, the_household_rule);
