//! A year of heart rate, bulk-loaded through the rollup code, drawn as a daily
//! trend, and a day of it at minute resolution.
//!
//! CI loads one sample a minute (525,600 samples); the bench loads the full 1 Hz
//! year (31.5 M) in release mode.

use std::time::Instant;

use cohealth_ingest::{DeviceId, Metric, SourceKind};
use cohealth_portal::chart::{self, Range, Style, Trend};
use cohealth_store::Bucket;

use crate::common::{NOW, TestPortal};

#[tokio::test]
async fn a_year_draws_daily_and_a_day_by_minute() {
    let portal = TestPortal::new().await;
    let person = portal.user.person_id;
    let strap = DeviceId::parse("AA:BB:CC:00:00:01").unwrap();
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let (from, to) = Range::Year.window(NOW, tz);
    let started = Instant::now();
    let mut day = from;
    while day < to.min(NOW) {
        let points: Vec<(i64, f64)> = (0..1440)
            .map(|m| day + m * 60_000)
            .filter(|t| *t < NOW)
            .map(|t| (t, 55.0 + ((t / 60_000) % 90) as f64))
            .collect();
        portal
            .store
            .bulk_load(person, &strap, SourceKind::Ble, Metric::HeartRate, &points)
            .await
            .unwrap();
        day += 86_400_000;
    }
    eprintln!("loaded a year at 1/min in {:?}", started.elapsed());

    let days = portal
        .store
        .series(person, Metric::HeartRate, Bucket::Day, from, to)
        .await
        .unwrap();
    assert_eq!(
        days.len(),
        365,
        "the year has 365 local days, today included"
    );
    assert_eq!(
        days.iter().filter(|d| d.count == 1440).count(),
        362,
        "whole days but today and the two DST days"
    );
    let trend = Trend {
        title: "Heart rate",
        metric: Metric::HeartRate,
        style: Style::Band,
        range: Range::Year,
        tz,
        from_ms: from,
        to_ms: to,
        bucket: Bucket::Day,
        points: &days,
        unit: "bpm",
    };
    let svg = chart::render(&trend);
    assert!(
        svg.contains(">Dec<") && svg.contains(">2026<"),
        "month ticks on the Berlin calendar"
    );
    assert_eq!(
        svg.matches(r#"class="mean""#).count(),
        1,
        "no gaps in a whole year"
    );

    let (d_from, d_to) = Range::Day.window(NOW, tz);
    let minutes = portal
        .store
        .series(person, Metric::HeartRate, Bucket::Minute, d_from, d_to)
        .await
        .unwrap();
    assert_eq!(
        minutes.len(),
        1439,
        "the window ends at the minute after now; data stops before now"
    );
    let day_trend = Trend {
        range: Range::Day,
        from_ms: d_from,
        to_ms: d_to,
        bucket: Bucket::Minute,
        points: &minutes,
        ..trend
    };
    let svg = chart::render(&day_trend);
    assert!(
        svg.matches(' ').count() > 2 * 1440,
        "every minute is a vertex"
    );
}
