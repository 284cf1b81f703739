//! Axis ticks: round values for the y axis, local-clock instants for the x axis.

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use cohealth_store::day_start;

use super::Range;

/// Round y-axis ticks covering `[lo, hi]`: (first, last, step).
pub(crate) fn nice_y(lo: f64, hi: f64) -> (f64, f64, f64) {
    let (lo, hi) = if hi <= lo {
        (lo - 1.0, hi + 1.0)
    } else {
        (lo, hi)
    };
    let raw = (hi - lo) / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    ((lo / step).floor() * step, (hi / step).ceil() * step, step)
}

/// Decimals needed to print multiples of `step`.
pub(crate) fn decimals(step: f64) -> usize {
    (0..6)
        .find(|d| {
            let scaled = step * 10f64.powi(*d as i32);
            (scaled - scaled.round()).abs() < 1e-6
        })
        .unwrap_or(6)
}

/// X-axis ticks in `[from, to)`: (UTC ms, label on the local clock).
pub(crate) fn x_ticks(range: Range, tz: Tz, from: i64, to: i64) -> Vec<(i64, String)> {
    let Some(first) = tz
        .timestamp_millis_opt(from)
        .earliest()
        .map(|t| t.date_naive())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut date = first;
    while day_start(tz, date) < to {
        out.extend(day_ticks(range, tz, date));
        date += Duration::days(1);
    }
    out.retain(|(ms, _)| (from..to).contains(ms));
    out
}

fn day_ticks(range: Range, tz: Tz, date: NaiveDate) -> Vec<(i64, String)> {
    let midnight = day_start(tz, date);
    match range {
        Range::Day => (0..24)
            .step_by(3)
            .filter_map(|h| {
                let at = tz
                    .from_local_datetime(&date.and_hms_opt(h, 0, 0)?)
                    .earliest()?;
                Some((at.timestamp_millis(), format!("{h:02}:00")))
            })
            .collect(),
        Range::Week => vec![(midnight, date.format("%a %-d").to_string())],
        Range::Month if date.day() % 5 == 1 && date.day() < 30 => {
            vec![(midnight, date.format("%b %-d").to_string())]
        }
        Range::Year if date.day() == 1 => {
            let label = if date.month() == 1 {
                date.format("%Y")
            } else {
                date.format("%b")
            };
            vec![(midnight, label.to_string())]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y_ticks_are_round() {
        assert_eq!(nice_y(52.0, 171.0), (50.0, 200.0, 50.0));
        assert_eq!(nice_y(0.0, 9_412.0), (0.0, 10_000.0, 2_500.0));
        assert_eq!(nice_y(72.4, 72.4), (71.0, 73.5, 0.5));
        assert_eq!(decimals(0.5), 1);
        assert_eq!(decimals(25.0), 0);
        assert_eq!(decimals(2.5), 1);
    }

    #[test]
    fn a_berlin_dst_day_has_its_own_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        let (from, to) = (day_start(tz, date), day_start(tz, date.succ_opt().unwrap()));
        let ticks = x_ticks(Range::Day, tz, from, to);
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            labels,
            [
                "00:00", "03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00"
            ]
        );
        assert_eq!(
            ticks[1].0 - ticks[0].0,
            2 * 3_600_000,
            "02:00 does not exist that night"
        );
    }
}
