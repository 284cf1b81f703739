//! Reset and verification links in the store, on SQLite and on PostgreSQL.

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]
#![allow(missing_docs)]

#[allow(dead_code)]
mod common;

use cohealth_store::{
    Limits, NewEmailToken, NewSession, SessionStage, Store, TokenPurpose, UserRow,
};

use common::{Backend, fresh, person};

const T0: i64 = 1_780_000_000_000;
const MIN: i64 = 60_000;

async fn account(store: &Store, email: &str) -> UserRow {
    person(store, email, "UTC").await;
    store.user_by_login(email).await.unwrap().unwrap()
}

async fn token(store: &Store, hash: &str, user: &UserRow, purpose: TokenPurpose, now: i64) {
    store
        .create_email_token(&NewEmailToken {
            token_hash: hash,
            user_id: user.id,
            purpose,
            email: &user.email,
            now_ms: now,
            expires_ms: now + 30 * MIN,
        })
        .await
        .unwrap();
}

async fn session(store: &Store, id: &str, user: i64) {
    store
        .create_session(&NewSession {
            id_hash: id,
            user_id: user,
            csrf: "c",
            now_ms: T0,
            stage: SessionStage::Full,
            user_agent: None,
            client_addr: None,
        })
        .await
        .unwrap();
}

async fn reset_is_single_use_and_ends_sessions(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let s = &t.store;
    let ann = account(s, "ann@example.org").await;
    let bob = account(s, "bob@example.org").await;
    session(s, "ann-1", ann.id).await;
    session(s, "ann-2", ann.id).await;
    session(s, "bob-1", bob.id).await;
    token(s, "h1", &ann, TokenPurpose::Reset, T0).await;

    // The form may be shown any number of times; a verify link is no reset link.
    assert!(
        s.live_email_token("h1", TokenPurpose::Reset, T0)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.live_email_token("h1", TokenPurpose::Verify, T0)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        s.verify_email_with_token("h1", T0).await.unwrap(),
        None,
        "a reset token verifies nothing"
    );

    let done = s
        .reset_password_with_token("h1", "$argon2id$new", T0 + MIN)
        .await
        .unwrap();
    assert_eq!(done, Some(ann.id));
    let after = s.user_by_id(ann.id).await.unwrap().unwrap();
    assert_eq!(after.password_hash, "$argon2id$new");
    assert_eq!(after.email_verified_ms, Some(T0 + MIN));
    assert!(s.sessions_of(ann.id).await.unwrap().is_empty());
    assert_eq!(s.sessions_of(bob.id).await.unwrap().len(), 1);

    // Used once: refused ever after, and nothing changes.
    assert_eq!(
        s.reset_password_with_token("h1", "$argon2id$again", T0 + 2 * MIN)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.user_by_id(ann.id).await.unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    assert!(
        s.live_email_token("h1", TokenPurpose::Reset, T0)
            .await
            .unwrap()
            .is_none()
    );
}
both_backends!(reset_single_use, reset_is_single_use_and_ends_sessions);

async fn expired_and_superseded_tokens_are_refused(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let s = &t.store;
    let ann = account(s, "ann@example.org").await;
    token(s, "old", &ann, TokenPurpose::Reset, T0).await;
    token(s, "new", &ann, TokenPurpose::Reset, T0 + MIN).await;
    // A verify link of the same account survives a new reset link.
    token(s, "ver", &ann, TokenPurpose::Verify, T0).await;
    assert_eq!(
        s.take_email_token("old", TokenPurpose::Reset, T0 + 2 * MIN)
            .await
            .unwrap(),
        None,
        "a newer request voids the older link"
    );
    assert_eq!(
        s.reset_password_with_token("new", "$x", T0 + MIN + 30 * MIN)
            .await
            .unwrap(),
        None,
        "expired at its deadline"
    );
    assert_eq!(
        s.verify_email_with_token("ver", T0 + 3 * MIN)
            .await
            .unwrap(),
        Some(ann.id)
    );
    assert_eq!(
        s.user_by_id(ann.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified_ms,
        Some(T0 + 3 * MIN)
    );
    assert_eq!(
        s.verify_email_with_token("ver", T0 + 4 * MIN)
            .await
            .unwrap(),
        None
    );

    // Voiding ends every unused link of the purpose.
    token(s, "v2", &ann, TokenPurpose::Verify, T0).await;
    assert_eq!(
        s.void_email_tokens(ann.id, TokenPurpose::Verify, T0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(s.verify_email_with_token("v2", T0).await.unwrap(), None);
    assert_eq!(
        s.take_email_token("unknown", TokenPurpose::Reset, T0)
            .await
            .unwrap(),
        None
    );
}
both_backends!(
    expired_superseded,
    expired_and_superseded_tokens_are_refused
);

async fn racing_clicks_spend_a_token_once(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let s = &t.store;
    let ann = account(s, "ann@example.org").await;
    token(s, "h", &ann, TokenPurpose::Reset, T0).await;
    let tries = (0..8).map(|i| {
        let s = s.clone();
        async move {
            s.reset_password_with_token("h", &format!("$hash{i}"), T0 + MIN)
                .await
                .unwrap()
        }
    });
    let won = futures_join_all(tries).await;
    assert_eq!(won.iter().filter(|r| r.is_some()).count(), 1, "{won:?}");
}
both_backends!(racing_clicks, racing_clicks_spend_a_token_once);

/// Runs the futures concurrently on the test's runtime.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
