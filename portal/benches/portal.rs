//! The portal's bench, one run, figures as ratios against baselines measured in
//! the same run:
//! - a year of 1 Hz heart rate (31.5 M samples, bulk-loaded through the rollup
//!   code) drawn as a daily trend (goal < 20 ms), and a day of it at minute
//!   resolution (goal < 10 ms), against a one-row store read;
//! - dashboard throughput over loopback HTTP against a static axum page
//!   (goal ≥ 0.2×), warm (cached parts) and cold (a new sample before each view).
//!
//! `cargo bench -p cohealth-portal --bench portal`; `BENCH_YEAR_STEP_S=60` loads one
//! sample a minute instead, for a quick run.

#![allow(missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::response::Html;
use axum::routing::get;
use cohealth_ingest::{DeviceId, Metric, SourceKind};
use cohealth_portal::chart::{self, Range, Style, Trend};
use cohealth_portal::{AppState, Clock, PortalOptions};
use cohealth_store::{Bucket, Limits, LiveSample, NewUser, Store};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tower::ServiceExt;

/// Wednesday 2026-11-04 13:30:00 UTC.
const NOW: i64 = 1_793_799_000_000;
const DAY: i64 = 86_400_000;
const PASSWORD: &str = "bench password that is long";

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &dir.path().join("bench.db").display().to_string(),
        Limits::default(),
    )
    .await
    .unwrap();
    let hash = cohealth_portal::auth::password::hash_password(PASSWORD).unwrap();
    let new = NewUser {
        email: "bench@example.org",
        username: None,
        display_name: "Bench",
        password_hash: &hash,
        time_zone: "Europe/Berlin",
    };
    let user = store.add_user(&new, NOW - 400 * DAY).await.unwrap();
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();

    let step_s: i64 = std::env::var("BENCH_YEAR_STEP_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    load_year(&store, user.person_id, tz, step_s).await;

    let baseline = median_of(200, || async {
        store.person(user.person_id).await.unwrap()
    })
    .await;
    let year = median_of(50, || async {
        let (from, to) = Range::Year.window(NOW, tz);
        let days = store
            .series(user.person_id, Metric::HeartRate, Bucket::Day, from, to)
            .await
            .unwrap();
        chart::render(&trend(Range::Year, tz, from, to, Bucket::Day, &days)).len()
    })
    .await;
    let day = median_of(50, || async {
        let (from, to) = Range::Day.window(NOW, tz);
        let minutes = store
            .series(user.person_id, Metric::HeartRate, Bucket::Minute, from, to)
            .await
            .unwrap();
        chart::render(&trend(Range::Day, tz, from, to, Bucket::Minute, &minutes)).len()
    })
    .await;
    println!(
        "baseline: one-row store read            {:>8.3} ms",
        ms(baseline)
    );
    println!(
        "year daily trend (365 days, query+SVG)  {:>8.3} ms  = {:>6.1}x baseline  goal < 20 ms: {}",
        ms(year),
        ratio(year, baseline),
        pass(ms(year) < 20.0)
    );
    println!(
        "day at minute resolution (query+SVG)    {:>8.3} ms  = {:>6.1}x baseline  goal < 10 ms: {}",
        ms(day),
        ratio(day, baseline),
        pass(ms(day) < 10.0)
    );

    throughput(store, user.person_id).await;
}

async fn load_year(store: &Store, person: i64, tz: chrono_tz::Tz, step_s: i64) {
    let strap = DeviceId::parse("AA:BB:CC:00:00:01").unwrap();
    let (from, _) = Range::Year.window(NOW, tz);
    let started = Instant::now();
    let mut total = 0usize;
    let mut day = from;
    while day < NOW {
        let points: Vec<(i64, f64)> = (0..DAY / 1000 / step_s)
            .map(|i| day + i * step_s * 1000)
            .filter(|t| *t < NOW)
            .map(|t| (t, 60.0 + ((t / 1000) % 3600) as f64 / 40.0))
            .collect();
        total += points.len();
        store
            .bulk_load(person, &strap, SourceKind::Ble, Metric::HeartRate, &points)
            .await
            .unwrap();
        day += DAY;
    }
    let secs = started.elapsed().as_secs_f64();
    let stored = store
        .count_samples(person, Metric::HeartRate)
        .await
        .unwrap();
    assert_eq!(stored as usize, total, "every generated sample is stored");
    println!(
        "loaded {total} heart-rate samples (one per {step_s} s) in {secs:.1} s = {:.0} samples/s",
        total as f64 / secs
    );
}

fn trend<'a>(
    range: Range,
    tz: chrono_tz::Tz,
    from_ms: i64,
    to_ms: i64,
    bucket: Bucket,
    points: &'a [cohealth_store::SeriesPoint],
) -> Trend<'a> {
    Trend {
        title: "Heart rate",
        metric: Metric::HeartRate,
        style: Style::Band,
        range,
        tz,
        from_ms,
        to_ms,
        bucket,
        points,
        unit: "bpm",
    }
}

async fn median_of<F, Fut, T>(n: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let _ = f().await;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        std::hint::black_box(f().await);
        times.push(t.elapsed());
    }
    times.sort();
    times[n / 2]
}

async fn throughput(store: Store, person: i64) {
    let (live, _) = tokio::sync::broadcast::channel(1024);
    let state = AppState {
        store,
        stats: Default::default(),
        live: live.clone(),
    };
    let portal = cohealth_portal::router_with(
        state,
        PortalOptions {
            clock: Clock::Fixed(NOW),
            ..Default::default()
        },
    );
    let cookie = sign_in(&portal).await;
    let static_page = Router::new().route(
        "/",
        get(|| async { Html(include_str!("../templates/error.html")) }),
    );

    let static_addr = serve(static_page).await;
    let portal_addr = serve(portal).await;
    let base = load(static_addr, "/", "", None).await;
    let warm = load(portal_addr, "/dashboard", &cookie, None).await;
    let cold = load(portal_addr, "/dashboard", &cookie, Some((live, person))).await;
    println!("static axum page                        {base:>8.0} req/s");
    println!(
        "dashboard, warm (parts cached)          {warm:>8.0} req/s = {:>5.2}x static  goal >= 0.2x: {}",
        warm / base,
        pass(warm / base >= 0.2)
    );
    println!(
        "dashboard, cold (new sample each view)  {cold:>8.0} req/s = {:>5.2}x static",
        cold / base
    );
}

async fn sign_in(portal: &Router) -> String {
    let form = portal
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let pre = form
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .next()
        .unwrap();
    let token = pre.split_once('=').unwrap().1.to_owned();
    let body = format!(
        "login=bench%40example.org&password={}&csrf={token}",
        PASSWORD.replace(' ', "+")
    );
    let request = Request::post("/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, pre)
        .body(Body::from(body))
        .unwrap();
    let done = portal.clone().oneshot(request).await.unwrap();
    done.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("cohealth_session="))
        .unwrap()
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Requests per second from 8 keep-alive connections over 3 s; with `invalidate`,
/// each request is preceded by a new live sample for the person.
async fn load(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    invalidate: Option<(tokio::sync::broadcast::Sender<LiveSample>, i64)>,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n");
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..8 {
        let (done, stop, request, invalidate) = (
            done.clone(),
            stop.clone(),
            request.clone(),
            invalidate.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut conn = BufReader::new(tokio::net::TcpStream::connect(addr).await.unwrap());
            while !stop.load(Ordering::Relaxed) {
                if let Some((live, person)) = &invalidate {
                    let _ = live.send(LiveSample {
                        person_id: *person,
                        metric: Metric::HeartRate,
                        ts_ms: NOW,
                        value: 70.0,
                    });
                }
                conn.get_mut().write_all(request.as_bytes()).await.unwrap();
                read_response(&mut conn).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn read_response(conn: &mut BufReader<tokio::net::TcpStream>) {
    let mut length = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        assert!(!line.is_empty(), "connection closed");
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await.unwrap();
    assert!(length > 0);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn pass(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}
