//! Health Auto Export's date strings.
//!
//! The app documents `yyyy-MM-dd HH:mm:ss Z` (`2024-09-21 19:57:00 +1000`), but it
//! formats with the phone's locale: with a 12-hour clock it writes
//! `2024-09-21 7:57:00 am +1000`, and some iOS versions put a narrow no-break space
//! (U+202F) or a no-break space (U+00A0) before `am`/`pm` (Health Auto Export
//! issues in irvinlim/apple-health-ingester #24 and joeecarter/health-import-server
//! #5). A strict one-layout parser fails on those, so this one accepts both clocks,
//! any of those spaces, `am`/`pm` in either case, and offsets as `+1000` or `+10:00`.
//! The offset is kept in [`Instant::offset_s`] because day buckets must use the
//! local date the phone meant, not the UTC date.

use chrono::{NaiveDate, NaiveTime};

use crate::model::Instant;

/// Why a date string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("date {0:?} is not `yyyy-MM-dd H:mm:ss [am|pm] ±hhmm`")]
pub struct HaeDateError(pub String);

/// Parses a Health Auto Export date (`2024-09-21 7:57:00 am +1000`,
/// `2024-09-21 19:57:00 +1000`) into a UTC instant in milliseconds that keeps
/// the written offset in seconds.
pub fn parse_hae_date(raw: &str) -> Result<Instant, HaeDateError> {
    parse(raw).ok_or_else(|| HaeDateError(raw.chars().take(64).collect()))
}

fn parse(raw: &str) -> Option<Instant> {
    let spaced = raw.replace(['\u{202F}', '\u{00A0}'], " ");
    let mut tokens: Vec<&str> = spaced.split_whitespace().collect();
    if tokens.len() > 4 {
        return None;
    }
    let offset_s = parse_offset(tokens.pop()?)?;
    let (date, time, meridiem) = match tokens.as_slice() {
        [date, time] => {
            let (time, meridiem) = split_meridiem(time);
            (*date, time, meridiem)
        }
        [date, time, meridiem] => (*date, *time, Some(parse_meridiem(meridiem)?)),
        _ => return None,
    };
    let date = parse_date(date)?;
    let (hour, minute, second) = parse_clock(time)?;
    let hour = match meridiem {
        None if hour <= 23 => hour,
        Some(pm) if (1..=12).contains(&hour) => hour % 12 + if pm { 12 } else { 0 },
        _ => return None,
    };
    let local = date.and_time(NaiveTime::from_hms_opt(hour, minute, second)?);
    let local_ms = local.and_utc().timestamp_millis();
    let utc_ms = local_ms.checked_sub(i64::from(offset_s).checked_mul(1000)?)?;
    Some(Instant {
        utc_ms,
        offset_s: Some(offset_s),
    })
}

/// `yyyy-MM-dd` with a four-digit year.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(digits(y)? as i32, digits(m)?, digits(d)?)
}

/// `H:mm:ss` or `HH:mm:ss`; the hour is range-checked by the caller.
fn parse_clock(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !(1..=2).contains(&h.len()) || m.len() != 2 || sec.len() != 2 {
        return None;
    }
    let (h, m, sec) = (digits(h)?, digits(m)?, digits(sec)?);
    (m <= 59 && sec <= 59).then_some((h, m, sec))
}

/// Splits a trailing `am`/`pm` glued to the time (`7:57:00am`).
fn split_meridiem(time: &str) -> (&str, Option<bool>) {
    let lower = time.to_ascii_lowercase();
    for (suffix, pm) in [("am", false), ("pm", true)] {
        if lower.ends_with(suffix)
            && let Some(head) = time.get(..time.len() - 2)
        {
            return (head, Some(pm));
        }
    }
    (time, None)
}

/// `am`/`pm` (any case, optional dots) → whether it is pm.
fn parse_meridiem(s: &str) -> Option<bool> {
    match s.replace('.', "").to_ascii_lowercase().as_str() {
        "am" => Some(false),
        "pm" => Some(true),
        _ => None,
    }
}

/// `±hhmm`, `±hh:mm` or `Z`, in seconds east of UTC, at most 18 hours.
fn parse_offset(s: &str) -> Option<i32> {
    if s == "Z" {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = s.get(1..)?.replace(':', "");
    if rest.len() != 4 {
        return None;
    }
    let hours = digits(rest.get(..2)?)?;
    let minutes = digits(rest.get(2..)?)?;
    if hours > 18 || minutes > 59 {
        return None;
    }
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    (seconds <= 18 * 3600).then_some(sign * seconds)
}

/// A non-empty run of ASCII digits (no sign), at most 4 long.
fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
