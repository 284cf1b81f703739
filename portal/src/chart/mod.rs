//! Server-rendered SVG trends.
//!
//! A trend is one metric over one [`Range`] in the person's time zone, drawn from
//! rollup buckets: a min–max band with the mean for levels (heart rate), bars of
//! sums for totals (steps), a line with dots for sparse readings (weight). Empty
//! buckets are gaps, never interpolated. Labels use the person's local clock, so
//! a DST day shows 23 or 25 hours.
//!
//! No JavaScript draws here; `static/live.js` only adds dots for new samples,
//! using the plot geometry the SVG carries in `data-` attributes.

mod svg;
mod ticks;

use chrono::{Duration, TimeZone};
use chrono_tz::Tz;
use cohealth_ingest::Metric;
use cohealth_ingest::model::Aggregation;
use cohealth_store::{Bucket, SeriesPoint, day_start};
use serde::Deserialize;

pub use svg::render;

/// How much time a trend covers, ending now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    /// The last 24 hours, at minute resolution for levels.
    Day,
    /// The last 7 local days, hourly.
    Week,
    /// The last 30 local days, daily.
    Month,
    /// The last 365 local days, daily.
    Year,
}

/// How a trend is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    /// Min–max band with the mean as a line (dense levels such as heart rate).
    Band,
    /// The mean as a line with dots (sparse levels such as weight).
    Line,
    /// Sums as bars (steps, energy).
    Bars,
}

impl Range {
    /// Every range, in menu order.
    pub const ALL: [Range; 4] = [Range::Day, Range::Week, Range::Month, Range::Year];

    /// The name used in URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Range::Day => "day",
            Range::Week => "week",
            Range::Month => "month",
            Range::Year => "year",
        }
    }

    /// Looks a range up by its URL name.
    pub fn parse(name: &str) -> Option<Range> {
        Range::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// `[from, to)` in UTC ms for a trend ending at `now_ms`, local days in `tz`.
    pub fn window(self, now_ms: i64, tz: Tz) -> (i64, i64) {
        const MINUTE: i64 = 60_000;
        if self == Range::Day {
            let to = (now_ms.div_euclid(MINUTE) + 1) * MINUTE;
            return (to - 24 * 3600 * 1000, to);
        }
        let days = match self {
            Range::Week => 7,
            Range::Month => 30,
            _ => 365,
        };
        let today = tz
            .timestamp_millis_opt(now_ms)
            .earliest()
            .map(|t| t.date_naive())
            .unwrap_or_default();
        let first = today - Duration::days(days - 1);
        (
            day_start(tz, first),
            day_start(tz, today + Duration::days(1)),
        )
    }

    /// The rollup a metric of this aggregation reads over this range.
    pub fn bucket(self, metric: Metric) -> Bucket {
        match (self, metric.aggregation()) {
            (Range::Day, Aggregation::Level) => Bucket::Minute,
            (Range::Day, Aggregation::Sum) | (Range::Week, Aggregation::Level) => Bucket::Hour,
            _ => Bucket::Day,
        }
    }
}

/// Everything needed to draw one trend.
#[derive(Clone, Debug)]
pub struct Trend<'a> {
    /// Heading, also the SVG's accessible title.
    pub title: &'a str,
    /// What is drawn.
    pub metric: Metric,
    /// How it is drawn.
    pub style: Style,
    /// Which range, for the axis labels.
    pub range: Range,
    /// The person's zone, for the axis labels.
    pub tz: Tz,
    /// Window start, UTC ms.
    pub from_ms: i64,
    /// Window end (exclusive), UTC ms.
    pub to_ms: i64,
    /// Bucket width of `points`.
    pub bucket: Bucket,
    /// The rollup buckets, oldest first, already in the unit shown.
    pub points: &'a [SeriesPoint],
    /// The unit label shown.
    pub unit: &'a str,
}

/// Nominal width of a bucket, ms (a local day is 23–25 hours; gaps allow for it).
pub(crate) fn bucket_ms(bucket: Bucket) -> i64 {
    match bucket {
        Bucket::Minute => 60_000,
        Bucket::Hour => 3_600_000,
        Bucket::Day => 86_400_000,
    }
}
