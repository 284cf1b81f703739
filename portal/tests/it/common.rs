//! A portal on a fresh SQLite store with a fixed clock, and helpers to call it.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use cohealth_ingest::mqtt::Batch;
use cohealth_ingest::{DeviceId, Measurement, Metric, Reading, SourceKind};
use cohealth_portal::auth::password::hash_password;
use cohealth_portal::{AppState, Clock, PortalOptions};
use cohealth_store::{Limits, NewUser, Store, UserRow};
use std::sync::atomic::AtomicI64;
use tower::ServiceExt;

/// Wednesday 2026-11-04 13:30:00 UTC (14:30 in Berlin).
pub const NOW: i64 = 1_793_799_000_000;
pub const PASSWORD: &str = "correct horse battery staple";
/// The base of links in test mails.
pub const PUBLIC_URL: &str = "http://hub.test";
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

pub struct TestPortal {
    pub store: Store,
    pub app: Router,
    pub live: tokio::sync::broadcast::Sender<cohealth_store::LiveSample>,
    pub user: UserRow,
    _dir: tempfile::TempDir,
}

impl TestPortal {
    /// A portal with one account (`ada@example.org`, Europe/Berlin) and no data.
    pub async fn new() -> TestPortal {
        Self::build(Clock::Fixed(NOW), true, PortalOptions::default()).await
    }

    /// Like [`TestPortal::new`], sending mail with `mailer` and links to
    /// [`PUBLIC_URL`].
    pub async fn with_mail(mailer: cohealth_portal::mail::Mailer) -> TestPortal {
        let options = PortalOptions {
            mailer: Some(mailer),
            public_url: Some(PUBLIC_URL.to_owned()),
            ..Default::default()
        };
        Self::build(Clock::Fixed(NOW), true, options).await
    }

    /// Like [`TestPortal::new`] with the given options (the clock is fixed anyway).
    pub async fn with_options(options: PortalOptions) -> TestPortal {
        Self::build(Clock::Fixed(NOW), true, options).await
    }

    /// As [`TestPortal::new`], on a clock the test moves; starts at [`NOW`].
    pub async fn with_clock() -> (TestPortal, &'static AtomicI64) {
        let cell: &'static AtomicI64 = Box::leak(Box::new(AtomicI64::new(NOW)));
        (
            Self::build(Clock::Manual(cell), true, PortalOptions::default()).await,
            cell,
        )
    }

    /// A fresh install: no accounts at all. `user` is a placeholder.
    pub async fn empty() -> TestPortal {
        Self::build(Clock::Fixed(NOW), false, PortalOptions::default()).await
    }

    async fn build(clock: Clock, with_user: bool, options: PortalOptions) -> TestPortal {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(
            &dir.path().join("t.db").display().to_string(),
            Limits::default(),
        )
        .await
        .unwrap();
        let hash = hash_password(PASSWORD).unwrap();
        let user = if with_user {
            add_user(&store, "ada@example.org", Some("ada"), "Ada", &hash).await
        } else {
            UserRow {
                id: 0,
                person_id: 0,
                email: String::new(),
                username: None,
                password_hash: String::new(),
                role: cohealth_store::Role::Adult,
                time_zone: "UTC".into(),
                display_name: String::new(),
                household_id: 0,
                email_verified_ms: None,
                totp_enabled_ms: None,
                onboarded_ms: None,
                units: "metric".into(),
                password_changed_ms: None,
            }
        };
        let (live, _) = tokio::sync::broadcast::channel(64);
        let state = AppState {
            store: store.clone(),
            stats: Default::default(),
            live: live.clone(),
        };
        let options = PortalOptions { clock, ..options };
        let app = cohealth_portal::router_with(state, options);
        TestPortal {
            store,
            app,
            live,
            user,
            _dir: dir,
        }
    }

    /// Sends one request through the router.
    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.app.clone().oneshot(request).await.unwrap()
    }

    /// GET `uri` with an optional cookie header.
    pub async fn get(&self, uri: &str, cookie: Option<&str>) -> Response<Body> {
        let mut r = Request::get(uri);
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    /// POST a form.
    pub async fn post_form(&self, uri: &str, cookie: Option<&str>, form: &str) -> Response<Body> {
        let mut r =
            Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::from(form.to_owned())).unwrap())
            .await
    }

    /// Signs in through the form; returns the session cookie and the page's CSRF token.
    pub async fn sign_in(&self) -> (String, String) {
        let form = self.get("/login", None).await;
        let pre = set_cookie(&form, "cohealth_login_csrf").unwrap();
        let token = pre.split_once('=').unwrap().1.to_owned();
        let body = format!(
            "login=ada%40example.org&password={}&csrf={token}",
            PASSWORD.replace(' ', "+")
        );
        let done = self.post_form("/login", Some(&pre), &body).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let session = set_cookie(&done, "cohealth_session").unwrap();
        let page = text(self.get("/devices", Some(&session)).await).await;
        (session, csrf_of(&page))
    }

    /// A day of heart rate at 1/min with a gap, steps per hour, energy, weight and a
    /// resting heart rate, all before [`NOW`]; plus an unclaimed strap with a battery.
    pub async fn seed(&self) {
        let person = self.user.person_id;
        let strap = DeviceId::parse("AA:BB:CC:DD:EE:01").unwrap();
        let hr: Vec<(i64, f64)> = (0..24 * 60)
            .map(|m| NOW - DAY + m * MINUTE)
            .filter(|ts| !(NOW - 10 * HOUR..NOW - 8 * HOUR).contains(ts))
            .map(|ts| (ts, 60.0 + ((ts / MINUTE) % 50) as f64))
            .collect();
        self.store
            .bulk_load(person, &strap, SourceKind::Ble, Metric::HeartRate, &hr)
            .await
            .unwrap();
        let week: Vec<i64> = (0..7 * 24).map(|h| NOW - 7 * DAY + h * HOUR).collect();
        let steps: Vec<(i64, f64)> = week
            .iter()
            .map(|&ts| (ts, ((ts / HOUR) % 7 * 150) as f64))
            .collect();
        self.store
            .bulk_load(person, &strap, SourceKind::Ble, Metric::Steps, &steps)
            .await
            .unwrap();
        let kcal: Vec<(i64, f64)> = week
            .iter()
            .map(|&ts| (ts, ((ts / HOUR) % 5 * 12) as f64))
            .collect();
        self.store
            .bulk_load(person, &strap, SourceKind::Ble, Metric::ActiveEnergy, &kcal)
            .await
            .unwrap();
        let rest = [(NOW - 6 * HOUR, 54.0)];
        self.store
            .bulk_load(
                person,
                &strap,
                SourceKind::Ble,
                Metric::RestingHeartRate,
                &rest,
            )
            .await
            .unwrap();
        let scale = DeviceId::parse("AA:BB:CC:DD:EE:02").unwrap();
        let weight: Vec<(i64, f64)> = (0..20)
            .filter(|d| d % 6 != 3)
            .map(|d| (NOW - d * DAY - 5 * HOUR, 72.0 + (d % 4) as f64 * 0.3))
            .collect();
        self.store
            .bulk_load(person, &scale, SourceKind::Gateway, Metric::Weight, &weight)
            .await
            .unwrap();
        self.seen_unclaimed("11:22:33:44:55:66", 81.0).await;
    }

    /// A reading from a device nobody claimed, as ingest would commit it.
    pub async fn seen_unclaimed(&self, id: &str, battery: f64) {
        let mut reading = Reading::new(
            DeviceId::parse(id).unwrap(),
            SourceKind::Gateway,
            NOW - 20 * MINUTE,
        );
        reading.name = Some("Neighbour's band".into());
        reading
            .measurements
            .push(Measurement::gauge(Metric::Battery, battery));
        reading
            .measurements
            .push(Measurement::gauge(Metric::HeartRate, 77.0));
        let batch = Batch {
            readings: vec![reading],
            dead: Vec::new(),
        };
        self.store.commit_batch(&batch).await.unwrap();
    }
}

pub async fn add_user(
    store: &Store,
    email: &str,
    username: Option<&str>,
    name: &str,
    hash: &str,
) -> UserRow {
    let new = NewUser {
        email,
        username,
        display_name: name,
        password_hash: hash,
        time_zone: "Europe/Berlin",
    };
    store.add_user(&new, NOW - 30 * DAY).await.unwrap()
}

/// `name=value` of a cookie the response sets.
pub fn set_cookie(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The CSRF token of the first form on a page.
pub fn csrf_of(page: &str) -> String {
    let start = page
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token")
        + 19;
    page[start..start + 64].to_owned()
}

/// A page with its random parts (CSRF tokens, asset version) made stable.
pub fn stable(page: &str) -> String {
    let mut out = page.to_owned();
    let mut from = 0;
    while let Some(i) = out[from..]
        .find(r#"name="csrf" value=""#)
        .map(|i| from + i + 19)
    {
        out.replace_range(i..i + 64, "[csrf]");
        from = i;
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("?v=") {
        result.push_str(&rest[..i + 3]);
        result.push_str("[v]");
        rest = &rest[i + 3 + 12..];
    }
    result.push_str(rest);
    result
}
