//! The store suite, run on SQLite and on PostgreSQL (a fresh database per test).

#![expect(clippy::unwrap_used, reason = "tests fail loudly")]
#![allow(missing_docs)]

mod common;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use cohealth_ingest::mqtt::{Batch, DeadLetter};
use cohealth_ingest::{DeviceId, Instant, Measurement, Metric, Reading, SourceKind};
use cohealth_store::{Bucket, Limits, Store, day_start};

use common::{Backend, fresh, person};

const T0: i64 = 1_780_000_000_000; // 2026-05-28T20:26:40Z

fn reading(device: &str, source: SourceKind, received_ms: i64, ms: Vec<Measurement>) -> Reading {
    let mut r = Reading::new(DeviceId::parse(device).unwrap(), source, received_ms);
    r.measurements = ms;
    r
}

fn at(metric: Metric, value: f64, ts: i64) -> Measurement {
    Measurement::gauge_at(metric, value, Instant::from_ms(ts))
}

/// A series, failing the test on a store error.
async fn series(
    store: &Store,
    p: i64,
    m: Metric,
    b: Bucket,
    from: i64,
    to: i64,
) -> Vec<cohealth_store::SeriesPoint> {
    store.series(p, m, b, from, to).await.unwrap()
}

fn batch(readings: Vec<Reading>) -> Batch {
    Batch {
        readings,
        dead: vec![],
    }
}

async fn claimed(store: &Store, device: &str, zone: &str) -> i64 {
    let p = person(
        store,
        &format!("{}@example.org", device.replace(':', "")),
        zone,
    )
    .await;
    store
        .claim_device(DeviceId::parse(device).unwrap().as_str(), p, 0)
        .await
        .unwrap();
    p
}

async fn replays_never_double(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let p = claimed(&t.store, "strap", "UTC").await;
    let b = batch(vec![reading(
        "strap",
        SourceKind::Phone,
        T0 + 5000,
        vec![
            at(Metric::HeartRate, 60.0, T0),
            at(Metric::HeartRate, 62.0, T0 + 1000),
        ],
    )]);
    let first = t.store.commit_batch(&b).await.unwrap();
    let again = t.store.commit_batch(&b).await.unwrap();
    assert_eq!((first.written, first.duplicates), (2, 0));
    assert_eq!((again.written, again.duplicates), (0, 2));
    assert_eq!(
        t.store.count_samples(p, Metric::HeartRate).await.unwrap(),
        2
    );

    // A corrected value under the same key replaces the old one (re-exports).
    let fix = batch(vec![reading(
        "strap",
        SourceKind::Phone,
        T0 + 9000,
        vec![at(Metric::HeartRate, 70.0, T0)],
    )]);
    assert_eq!(t.store.commit_batch(&fix).await.unwrap().written, 1);
    let rows = t
        .store
        .samples(p, Metric::HeartRate, T0, T0 + 2000, 10)
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.value).collect::<Vec<_>>(),
        [70.0, 62.0]
    );
    let minute = series(
        &t.store,
        p,
        Metric::HeartRate,
        Bucket::Minute,
        T0 - 60_000,
        T0 + 60_000,
    )
    .await;
    assert_eq!(minute.iter().map(|m| m.count).sum::<i64>(), 2);
    assert_eq!(minute.iter().map(|m| m.sum).sum::<f64>(), 132.0);
}
both_backends!(replays, replays_never_double);

async fn counters_become_increments(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let p = claimed(&t.store, "aa:bb:cc:dd:ee:01", "UTC").await;
    let band = |total: f64, ts: i64| {
        let mut m = Measurement::cumulative(Metric::Steps, total);
        m.at = Some(Instant::from_ms(ts));
        reading("AABBCCDDEE01", SourceKind::Gateway, ts, vec![m])
    };
    // 100, 250, (replay of 250), late 200, reboot to 30, 80
    let frames = [
        (100.0, 0),
        (250.0, 60_000),
        (250.0, 60_000),
        (200.0, 30_000),
        (30.0, 120_000),
        (80.0, 180_000),
    ];
    for (total, dt) in frames {
        t.store
            .commit_batch(&batch(vec![band(total, T0 + dt)]))
            .await
            .unwrap();
    }
    let steps = t
        .store
        .samples(p, Metric::Steps, T0 - 1, T0 + 10 * 60_000, 100)
        .await
        .unwrap();
    assert_eq!(
        steps.iter().map(|s| s.value).collect::<Vec<_>>(),
        [100.0, 150.0, 30.0, 50.0]
    );
    let day = series(
        &t.store,
        p,
        Metric::Steps,
        Bucket::Day,
        T0 - 86_400_000,
        T0 + 86_400_000,
    )
    .await;
    assert_eq!(day.iter().map(|d| d.sum).sum::<f64>(), 330.0);
}
both_backends!(counters, counters_become_increments);

async fn out_of_order_readings_land_in_their_minute(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let p = claimed(&t.store, "strap", "UTC").await;
    let minute0 = T0 - T0 % 60_000;
    for ts in [
        minute0 + 120_000,
        minute0,
        minute0 + 60_000,
        minute0 + 1_000,
    ] {
        let b = batch(vec![reading(
            "strap",
            SourceKind::Phone,
            minute0 + 200_000,
            vec![at(Metric::HeartRate, 50.0, ts)],
        )]);
        t.store.commit_batch(&b).await.unwrap();
    }
    let m = series(
        &t.store,
        p,
        Metric::HeartRate,
        Bucket::Minute,
        minute0,
        minute0 + 180_000,
    )
    .await;
    assert_eq!(
        m.iter()
            .map(|x| (x.start_ms - minute0, x.count))
            .collect::<Vec<_>>(),
        [(0, 2), (60_000, 1), (120_000, 1)]
    );
    let h = series(
        &t.store,
        p,
        Metric::HeartRate,
        Bucket::Hour,
        minute0 - 3_600_000,
        minute0 + 3_600_000,
    )
    .await;
    assert_eq!(h.iter().map(|x| x.count).sum::<i64>(), 4);
}
both_backends!(out_of_order, out_of_order_readings_land_in_their_minute);

async fn two_sources_one_metric(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let p = claimed(&t.store, "AA:BB:CC:DD:EE:02", "UTC").await;
    t.store.claim_device("hae:phone", p, 0).await.unwrap();
    let minute0 = T0 - T0 % 60_000;
    let strap = reading(
        "AA:BB:CC:DD:EE:02",
        SourceKind::Ble,
        minute0 + 59_000,
        vec![at(Metric::Steps, 40.0, minute0 + 10_000)],
    );
    let phone = reading(
        "hae:phone",
        SourceKind::Phone,
        minute0 + 59_000,
        vec![
            at(Metric::Steps, 45.0, minute0 + 20_000),
            at(Metric::Steps, 12.0, minute0 + 70_000),
        ],
    );
    t.store
        .commit_batch(&batch(vec![phone, strap]))
        .await
        .unwrap();
    // Raw samples from both are kept; the minute with both takes the strap only.
    assert_eq!(t.store.count_samples(p, Metric::Steps).await.unwrap(), 3);
    let m = series(
        &t.store,
        p,
        Metric::Steps,
        Bucket::Minute,
        minute0,
        minute0 + 120_000,
    )
    .await;
    assert_eq!(m.iter().map(|x| x.sum).collect::<Vec<_>>(), [40.0, 12.0]);
    let d = series(&t.store, p, Metric::Steps, Bucket::Day, 0, i64::MAX).await;
    assert_eq!(d.iter().map(|x| x.sum).sum::<f64>(), 52.0);
}
both_backends!(two_sources, two_sources_one_metric);

/// Ten steps every quarter hour over three local days around `day` in Berlin.
async fn berlin_days(store: &Store, day: NaiveDate) {
    let tz: Tz = "Europe/Berlin".parse().unwrap();
    let from = day_start(tz, day.pred_opt().unwrap());
    let to = day_start(tz, day.succ_opt().unwrap().succ_opt().unwrap());
    let steps: Vec<Measurement> = (from..to)
        .step_by(15 * 60_000)
        .map(|ts| at(Metric::Steps, 10.0, ts))
        .collect();
    store
        .commit_batch(&batch(vec![reading(
            "pedometer",
            SourceKind::Phone,
            to,
            steps,
        )]))
        .await
        .unwrap();
}

async fn dst_days_have_their_own_totals(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let p = claimed(&t.store, "pedometer", "Europe/Berlin").await;
    let spring = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
    let autumn = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
    berlin_days(&t.store, spring).await;
    berlin_days(&t.store, autumn).await;
    let days = series(&t.store, p, Metric::Steps, Bucket::Day, 0, i64::MAX).await;
    let total = |d: &str| {
        days.iter()
            .find(|x| x.day.as_deref() == Some(d))
            .map(|x| x.sum)
    };
    assert_eq!(total("2026-03-28"), Some(960.0));
    assert_eq!(total("2026-03-29"), Some(920.0), "23-hour day");
    assert_eq!(total("2026-10-25"), Some(1000.0), "25-hour day");
    assert_eq!(total("2026-10-26"), Some(960.0));

    // Moving the person to UTC rebuilds every day in the new zone.
    t.store.set_time_zone(p, "UTC").await.unwrap();
    let days = series(&t.store, p, Metric::Steps, Bucket::Day, 0, i64::MAX).await;
    let total = |d: &str| {
        days.iter()
            .find(|x| x.day.as_deref() == Some(d))
            .map(|x| x.sum)
    };
    assert_eq!(total("2026-03-29"), Some(960.0));
    assert_eq!(total("2026-10-25"), Some(960.0));
    let tz_utc = Tz::UTC;
    let start = tz_utc
        .with_ymd_and_hms(2026, 3, 29, 0, 0, 0)
        .unwrap()
        .timestamp_millis();
    assert!(days.iter().any(|d| d.start_ms == start));
    assert!(t.store.set_time_zone(p, "Mars/Olympus").await.is_err());
}
both_backends!(dst, dst_days_have_their_own_totals);

async fn unclaimed_devices_wait_in_pending(backend: Backend) {
    let limits = Limits {
        pending_max: 50,
        ..Limits::default()
    };
    let t = fresh(backend, limits).await;
    let p = person(&t.store, "ann@example.org", "UTC").await;
    let neighbour = |i: i64, n: usize| {
        let ms = (0..n as i64)
            .map(|k| at(Metric::HeartRate, 70.0, T0 + i * 1000 + k))
            .collect();
        reading(
            &format!("AA:BB:CC:DD:{:02X}:{:02X}", i / 256, i % 256),
            SourceKind::Gateway,
            T0 + i * 1000,
            ms,
        )
    };
    let r = t
        .store
        .commit_batch(&batch(vec![neighbour(1, 3)]))
        .await
        .unwrap();
    assert_eq!((r.pending, r.written), (3, 0));
    assert_eq!(
        t.store.count_samples(p, Metric::HeartRate).await.unwrap(),
        0
    );

    // A flood of neighbours evicts the oldest waiting samples first.
    let flood: Vec<Reading> = (2..40).map(|i| neighbour(i, 2)).collect();
    let r = t.store.commit_batch(&batch(flood)).await.unwrap();
    assert_eq!(r.evicted, 3 + 76 - 50);
    let devices = t.store.list_devices().await.unwrap();
    assert_eq!(devices.iter().map(|d| d.pending).sum::<i64>(), 50);
    assert_eq!(
        devices
            .iter()
            .find(|d| d.id == "AA:BB:CC:DD:00:01")
            .unwrap()
            .pending,
        0
    );

    // Claiming moves what waits; the rest expires.
    let moved = t
        .store
        .claim_device("AA:BB:CC:DD:00:27", p, T0)
        .await
        .unwrap();
    assert_eq!(moved.moved, 2);
    assert_eq!(
        t.store.count_samples(p, Metric::HeartRate).await.unwrap(),
        2
    );
    let expired = t.store.expire_pending(T0 + 25 * 3_600_000).await.unwrap();
    assert_eq!(expired, 48);
    assert!(
        t.store
            .claim_device("AA:BB:CC:DD:00:27", p + 1000, T0)
            .await
            .is_err()
    );
}
both_backends!(pending, unclaimed_devices_wait_in_pending);

async fn dead_letters_are_bounded(backend: Backend) {
    let limits = Limits {
        dead_letters_max: 5,
        ..Limits::default()
    };
    let t = fresh(backend, limits).await;
    let p = claimed(&t.store, "strap", "UTC").await;
    let dead = (0..8)
        .map(|i| DeadLetter {
            topic: format!("t/{i}"),
            error: "bad".into(),
            payload: vec![b'x'; 3],
            received_ms: i,
        })
        .collect();
    let good = reading(
        "strap",
        SourceKind::Phone,
        T0,
        vec![at(Metric::Weight, 70.5, T0)],
    );
    let r = t
        .store
        .commit_batch(&Batch {
            readings: vec![good],
            dead,
        })
        .await
        .unwrap();
    assert_eq!((r.dead, r.written), (8, 1));
    let kept = t.store.list_dead_letters(100).await.unwrap();
    assert_eq!(kept.len(), 5);
    assert_eq!(kept[0].topic, "t/7");
    assert_eq!(t.store.count_samples(p, Metric::Weight).await.unwrap(), 1);
}
both_backends!(dead_letters, dead_letters_are_bounded);

async fn users_and_sessions(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let first = person(&t.store, "Ann@Example.org", "Europe/Berlin").await;
    let second = person(&t.store, "bob@example.org", "UTC").await;
    let ann = t
        .store
        .user_by_login("ann@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ann.person_id, ann.role.as_str()), (first, "admin"));
    let bob = t
        .store
        .user_by_login("BOB@example.org")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((bob.person_id, bob.role.as_str()), (second, "adult"));
    assert!(
        t.store
            .add_user(
                &cohealth_store::NewUser {
                    email: "ann@example.org",
                    username: None,
                    display_name: "x",
                    password_hash: "h",
                    time_zone: "UTC"
                },
                0
            )
            .await
            .is_err()
    );
    let session = |id_hash: &'static str, now_ms: i64| cohealth_store::NewSession {
        id_hash,
        user_id: ann.id,
        csrf: "csrf",
        now_ms,
        stage: cohealth_store::SessionStage::Full,
        user_agent: Some("Firefox on Linux"),
        client_addr: Some("192.0.2.7"),
    };
    t.store.create_session(&session("h1", 5)).await.unwrap();
    t.store.create_session(&session("h2", 9)).await.unwrap();
    let row = t.store.session("h1").await.unwrap().unwrap();
    assert_eq!(
        (
            row.user_id,
            row.csrf.as_str(),
            row.created_ms,
            row.last_seen_ms
        ),
        (ann.id, "csrf", 5, 5)
    );
    assert_eq!(row.user_agent.as_deref(), Some("Firefox on Linux"));
    let listed: Vec<_> = t.store.sessions_of(ann.id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|s| s.id_hash.as_str())
            .collect::<Vec<_>>(),
        ["h2", "h1"]
    );
    t.store.delete_session("h1").await.unwrap();
    assert_eq!(t.store.session("h1").await.unwrap(), None);
    t.store.create_session(&session("h3", 10)).await.unwrap();
    assert_eq!(
        t.store
            .delete_sessions_of(ann.id, Some("h3"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(t.store.sessions_of(ann.id).await.unwrap().len(), 1);
    assert_eq!(t.store.delete_sessions_of(ann.id, None).await.unwrap(), 1);
    assert!(t.store.sessions_of(ann.id).await.unwrap().is_empty());
}
both_backends!(users, users_and_sessions);

async fn far_apart_samples_and_forgotten_neighbours(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let p = claimed(&t.store, "strap", "UTC").await;
    let y2000 = 946_684_801_000;
    let b = batch(vec![reading(
        "strap",
        SourceKind::Phone,
        T0,
        vec![
            at(Metric::HeartRate, 61.0, y2000),
            at(Metric::HeartRate, 62.0, T0),
        ],
    )]);
    t.store.commit_batch(&b).await.unwrap();
    let minutes = series(&t.store, p, Metric::HeartRate, Bucket::Minute, 0, i64::MAX).await;
    assert_eq!(minutes.len(), 2);
    let days = series(&t.store, p, Metric::HeartRate, Bucket::Day, 0, i64::MAX).await;
    assert_eq!(
        days.iter()
            .map(|d| d.day.clone().unwrap())
            .collect::<Vec<_>>(),
        ["2000-01-01", "2026-05-28"]
    );

    // An unclaimed neighbour heard long ago is forgotten once nothing of it waits.
    let old = reading("AA:BB:CC:00:00:01", SourceKind::Gateway, T0, vec![]);
    t.store.commit_batch(&batch(vec![old])).await.unwrap();
    assert_eq!(t.store.forget_unheard_devices(T0 + 1).await.unwrap(), 1);
    let ids: Vec<String> = t
        .store
        .list_devices()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["strap"]);
}
both_backends!(far_apart, far_apart_samples_and_forgotten_neighbours);

async fn registration_invitations_and_tokens(backend: Backend) {
    use cohealth_store::{NewUser, Role};
    let t = fresh(backend, Limits::default()).await;
    let new = |email: &'static str, username: &'static str| NewUser {
        email,
        username: Some(username),
        display_name: "N",
        password_hash: "h",
        time_zone: "UTC",
    };
    assert_eq!(t.store.count_users().await.unwrap(), 0);
    let admin = t
        .store
        .register(&new("a@x.org", "a"), None, 10)
        .await
        .unwrap();
    assert_eq!(admin.role, Role::Admin);
    assert_eq!(admin.onboarded_ms, None);
    // Closed by default; a made-up invitation is refused too.
    for invite in [None, Some("nope")] {
        let refused = t.store.register(&new("b@x.org", "b"), invite, 11).await;
        assert!(
            matches!(refused, Err(cohealth_store::StoreError::Invalid(_))),
            "{invite:?}"
        );
    }
    let h = admin.household_id;
    let invite = |token_hash, role, email, expires_ms| cohealth_store::NewInvitation {
        token_hash,
        household: h,
        role,
        email,
        created_by: admin.id,
        now_ms: 20,
        expires_ms,
    };
    let first = invite("inv1", Role::Child, None, 100);
    t.store.create_invitation(&first).await.unwrap();
    let second = invite("inv2", Role::Adult, Some("c@x.org"), 30);
    t.store.create_invitation(&second).await.unwrap();
    assert_eq!(
        t.store.invitation_role("inv1", 50).await.unwrap(),
        Some(Role::Child)
    );
    assert_eq!(
        t.store.invitation_role("inv2", 50).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(t.store.open_invitations(h, 25).await.unwrap().len(), 2);
    assert!(
        t.store
            .register(&new("c@x.org", "c"), Some("inv2"), 50)
            .await
            .is_err()
    );
    let child = t
        .store
        .register(&new("b@x.org", "b"), Some("inv1"), 50)
        .await
        .unwrap();
    assert_eq!((child.role, child.household_id), (Role::Child, h));
    assert!(
        t.store
            .register(&new("d@x.org", "d"), Some("inv1"), 51)
            .await
            .is_err(),
        "spent"
    );
    t.store.set_open_registration(h, true).await.unwrap();
    assert!(t.store.registration_open().await.unwrap());
    let adult = t
        .store
        .register(&new("e@x.org", "e"), None, 60)
        .await
        .unwrap();
    assert_eq!(adult.role, Role::Adult);
    assert!(matches!(
        t.store.register(&new("E@x.org", "z"), None, 61).await,
        Err(cohealth_store::StoreError::Conflict(_))
    ));
    let members = t.store.members(h).await.unwrap();
    assert_eq!(members.len(), 3);

    // Personal access tokens: scoped, revocable, expiring.
    let id = t
        .store
        .create_personal_token(
            adult.id,
            "Phone",
            "tokhash",
            "ingest:write",
            100,
            Some(1_000),
        )
        .await
        .unwrap();
    let (row, user) = t
        .store
        .use_personal_token("tokhash", 200)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.id, user.id, row.last_used_ms),
        (id, adult.id, Some(200))
    );
    assert!(row.has_scope("ingest:write") && !row.has_scope("samples:read"));
    assert!(
        t.store
            .use_personal_token("tokhash", 1_000)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        !t.store
            .revoke_personal_token(admin.id, id, 300)
            .await
            .unwrap(),
        "not theirs"
    );
    assert!(
        t.store
            .revoke_personal_token(adult.id, id, 300)
            .await
            .unwrap()
    );
    assert!(
        t.store
            .use_personal_token("tokhash", 400)
            .await
            .unwrap()
            .is_none(),
        "revoked"
    );
    assert_eq!(
        t.store.personal_tokens(adult.id).await.unwrap()[0].revoked_ms,
        Some(300)
    );

    // Password change keeps only the named session.
    for (hash, now) in [("s1", 1), ("s2", 2)] {
        t.store
            .create_session(&cohealth_store::NewSession {
                id_hash: hash,
                user_id: adult.id,
                csrf: "c",
                now_ms: now,
                stage: cohealth_store::SessionStage::Full,
                user_agent: None,
                client_addr: None,
            })
            .await
            .unwrap();
    }
    t.store
        .change_password(adult.id, "h2", Some("s2"), 500)
        .await
        .unwrap();
    let left: Vec<_> = t.store.sessions_of(adult.id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id_hash, "s2");
    assert_eq!(
        t.store.end_session_by_handle(adult.id, "s2").await.unwrap(),
        None,
        "handles are 16 hex digits"
    );
    let mut profile = t.store.profile(adult.person_id).await.unwrap();
    profile.height_cm = Some(500.0);
    assert!(
        t.store
            .update_profile(adult.person_id, &profile)
            .await
            .is_err()
    );
    profile.height_cm = Some(181.5);
    profile.time_zone = "Asia/Tokyo".into();
    t.store
        .update_profile(adult.person_id, &profile)
        .await
        .unwrap();
    let back = t.store.profile(adult.person_id).await.unwrap();
    assert_eq!(
        (back.height_cm, back.time_zone.as_str()),
        (Some(181.5), "Asia/Tokyo")
    );
}
both_backends!(accounts, registration_invitations_and_tokens);

/// Walks every export page with a tiny page size and checks that the pages
/// join into exactly the stored rows, in key order, for one person only.
async fn export_pages_walk_everything(backend: Backend) {
    let t = fresh(backend, Limits::default()).await;
    let p = claimed(&t.store, "strap", "Europe/Berlin").await;
    let other = claimed(&t.store, "other", "UTC").await;
    // Two sources for heart rate at overlapping instants, plus blood pressure.
    let strap: Vec<Measurement> = (0..7)
        .flat_map(|i| {
            [
                at(Metric::HeartRate, 60.0 + i as f64, T0 + i * 30_000),
                at(Metric::Steps, 10.0, T0 + i * 30_000),
            ]
        })
        .collect();
    let cuff = vec![
        at(Metric::BloodPressureSystolic, 120.0, T0),
        at(Metric::BloodPressureDiastolic, 80.0, T0),
        at(Metric::BloodPressureSystolic, 125.0, T0 + 60_000),
    ];
    t.store
        .commit_batch(&batch(vec![
            reading("strap", SourceKind::Ble, T0 + 300_000, strap),
            reading(
                "strap",
                SourceKind::Gateway,
                T0 + 300_000,
                vec![at(Metric::HeartRate, 99.0, T0)],
            ),
            reading("strap", SourceKind::Phone, T0 + 300_000, cuff),
            reading(
                "other",
                SourceKind::Ble,
                T0 + 300_000,
                vec![at(Metric::HeartRate, 70.0, T0)],
            ),
        ]))
        .await
        .unwrap();

    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = t
            .store
            .export_samples_page(p, i64::MIN, i64::MAX, cursor, 3)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some((last.metric_id, last.ts_ms, last.source_id));
        let short = page.len() < 3;
        all.extend(page);
        if short {
            break;
        }
    }
    // 7 HR + 1 gateway HR + 7 steps + 3 pressure values.
    assert_eq!(all.len(), 18);
    let keys: Vec<(i64, i64, i64)> = all
        .iter()
        .map(|s| (s.metric_id, s.ts_ms, s.source_id))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted, "key order, no repeats");
    assert!(all.iter().all(|s| s.device == "strap"));
    let gateway: Vec<_> = all.iter().filter(|s| s.kind == "gateway").collect();
    assert_eq!((gateway.len(), gateway[0].value), (1, 99.0));

    // One metric, paged.
    let hr = cohealth_store::metric_id(Metric::HeartRate);
    let mut after = None;
    let mut count = 0;
    loop {
        let page = t
            .store
            .export_metric_page(p, hr, i64::MIN, i64::MAX, after, 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.ts_ms, last.source_id));
        assert!(page.iter().all(|s| s.metric_id == hr));
        count += page.len();
    }
    assert_eq!(count, 8);
    // A range is half-open.
    let ranged = t
        .store
        .export_metric_page(p, hr, T0 + 30_000, T0 + 90_000, None, 100)
        .await
        .unwrap();
    assert_eq!(ranged.len(), 2);

    // Minute rollups: the preferred source's samples per minute.
    let mut minutes = Vec::new();
    let mut after = None;
    loop {
        let page = t
            .store
            .export_minutes_page(p, hr, i64::MIN, i64::MAX, after, 2)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.bucket_ms);
        minutes.extend(page);
    }
    let n: i64 = minutes.iter().map(|m| m.n).sum();
    assert_eq!(n, 7, "BLE wins over the gateway in the rollups");

    // Days, paged across metrics.
    let mut days = Vec::new();
    let mut after = None;
    loop {
        let page = t
            .store
            .export_days_page(p, i64::MIN, i64::MAX, after, 1)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.metric_id, last.day.clone()));
        days.extend(page);
    }
    let steps_day = days
        .iter()
        .find(|d| d.metric_id == cohealth_store::metric_id(Metric::Steps))
        .unwrap();
    assert_eq!(steps_day.total, 70.0);
    assert_eq!(steps_day.day, "2026-05-28", "22:26 in Berlin");
    assert_eq!(days.len(), 4, "heart rate, steps, systolic, diastolic");

    // Blood pressure: only the complete pair.
    let pairs = t
        .store
        .export_pressure_page(
            p,
            cohealth_store::metric_id(Metric::BloodPressureSystolic),
            cohealth_store::metric_id(Metric::BloodPressureDiastolic),
            i64::MIN,
            i64::MAX,
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!((pairs[0].systolic, pairs[0].diastolic), (120.0, 80.0));

    // Profile and devices: this person's, without secrets.
    let profile = t.store.export_profile(p).await.unwrap().unwrap();
    assert_eq!(profile.time_zone, "Europe/Berlin");
    assert_eq!(profile.account.unwrap().email, "strap@example.org");
    assert!(t.store.export_profile(9999).await.unwrap().is_none());
    let devices = t.store.export_devices(p).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, "strap");
    let ids = t.store.person_ids().await.unwrap();
    assert!(ids.contains(&p) && ids.contains(&other));
}
both_backends!(export_pages, export_pages_walk_everything);

#[cfg(unix)]
#[tokio::test]
async fn a_new_database_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = data.join("cohealth.db");
    let store = Store::open(&db.display().to_string(), Limits::default())
        .await
        .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data folder");
    assert_eq!(mode(&db), 0o600, "the database");
    let wal = data.join("cohealth.db-wal");
    if wal.exists() {
        assert_eq!(mode(&wal), 0o600, "the write-ahead log");
    }
    store.close().await;
}
