//! A small RFC 3339 parser for replay files, so the decoders need no date
//! library: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.

use super::BleError;
use super::datetime::{days_from_civil, days_in_month};
use crate::model::Instant;

/// Parses an RFC 3339 time stamp into an [`Instant`] (UTC milliseconds, with
/// the written offset kept in `offset_s`). Fractions beyond milliseconds are
/// truncated. Leap seconds (`:60`) are rejected.
pub fn parse_rfc3339(s: &str) -> Result<Instant, BleError> {
    let bad = || BleError::BadTime(s.to_string());
    let b = s.as_bytes();
    if b.len() < 20 || !s.is_ascii() {
        return Err(bad());
    }
    let num = |range: std::ops::Range<usize>| -> Result<u32, BleError> {
        let part = s.get(range).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse::<u32>().map_err(|_| bad())
    };
    if b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    let year = u16::try_from(num(0..4)?).map_err(|_| bad())?;
    let month = u8::try_from(num(5..7)?).map_err(|_| bad())?;
    let day = u8::try_from(num(8..10)?).map_err(|_| bad())?;
    let hour = num(11..13)?;
    let minute = num(14..16)?;
    let second = num(17..19)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(bad());
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad());
    }
    let mut i = 19;
    let mut millis: i64 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return Err(bad());
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_s: i32 = match b.get(i) {
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = i32::try_from(num(i + 1..i + 3)?).map_err(|_| bad())?;
            let om = i32::try_from(num(i + 4..i + 6)?).map_err(|_| bad())?;
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let o = oh * 3600 + om * 60;
            if sign == b'-' { -o } else { o }
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(i64::from(year), month, day);
    let local_s =
        days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
    let utc_ms = (local_s - i64::from(offset_s)) * 1000 + millis;
    Ok(Instant {
        utc_ms,
        offset_s: Some(offset_s),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zulu_and_offsets() {
        let z = parse_rfc3339("2024-05-01T07:30:00Z").unwrap();
        assert_eq!(z.utc_ms, 1_714_548_600_000);
        assert_eq!(z.offset_s, Some(0));
        let p = parse_rfc3339("2024-05-01T09:30:00.25+02:00").unwrap();
        assert_eq!(p.utc_ms, 1_714_548_600_250);
        assert_eq!(p.offset_s, Some(7200));
        let m = parse_rfc3339("2024-05-01T02:00:00.123456-05:30").unwrap();
        assert_eq!(m.utc_ms, 1_714_548_600_123);
        assert_eq!(m.offset_s, Some(-19_800));
        assert!(parse_rfc3339("2024-02-29t00:00:00z").is_ok());
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "2024-05-01",
            "2024-05-01T07:30:00",
            "2024-13-01T07:30:00Z",
            "2023-02-29T07:30:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T07:30:60Z",
            "2024-05-01T07:30:00.Z",
            "2024-05-01T07:30:00+0200",
            "2024-05-01T07:30:00Zjunk",
            "2024-05-01T07:30:00+24:00",
            "2024-05-01T07:3a:00Z",
            "+024-05-01T07:30:00Z",
        ] {
            assert!(parse_rfc3339(s).is_err(), "{s}");
        }
    }
}
