//! The 7-byte Bluetooth Date Time field and the rule for trusting it.
//!
//! Scales and cuffs keep their own clocks, which are often never set (a Mi
//! Scale that reports 1970) or report "unknown" with year 0. A time stamp we
//! cannot trust must not move a sample to another day, so [`DateTime::instant`]
//! returns `None` for unknown fields, impossible dates and anything before
//! 2000; the pipeline then uses the time of receipt.

use serde::Serialize;

use super::BleError;
use super::reader::Reader;
use crate::model::Instant;

/// A device wall-clock time as sent (no zone; the device's local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DateTime {
    /// Year, 1582–9999; 0 means unknown.
    pub year: u16,
    /// Month 1–12; 0 means unknown.
    pub month: u8,
    /// Day of month 1–31; 0 means unknown.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–59.
    pub second: u8,
}

/// The earliest year whose time stamps we believe (device clocks that were
/// never set report 1970 or 2000-01-01 right after a battery change).
pub const TRUSTED_FROM_YEAR: u16 = 2000;

impl DateTime {
    /// Reads the little-endian 7-byte Date Time field.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, BleError> {
        Ok(DateTime {
            year: r.u16("date time year")?,
            month: r.u8("date time month")?,
            day: r.u8("date time day")?,
            hour: r.u8("date time hour")?,
            minute: r.u8("date time minute")?,
            second: r.u8("date time second")?,
        })
    }

    /// The time as an [`Instant`], reading the device's wall clock as UTC
    /// (`offset_s` is `None`: the device did not say its zone). `None` when any
    /// field is unknown or out of range, or the year is before
    /// [`TRUSTED_FROM_YEAR`].
    pub fn instant(&self) -> Option<Instant> {
        if self.year < TRUSTED_FROM_YEAR || self.year > 9999 {
            return None;
        }
        if !(1..=12).contains(&self.month) || self.day == 0 {
            return None;
        }
        if self.day > days_in_month(self.year, self.month) {
            return None;
        }
        if self.hour > 23 || self.minute > 59 || self.second > 59 {
            return None;
        }
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        Some(Instant::from_ms(secs * 1000))
    }
}

/// Whether `year` is a Gregorian leap year.
pub(crate) fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1–12) of `year`; 0 for an invalid month.
pub(crate) fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// well-known civil-from-days inverse).
pub(crate) fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let m = i64::from(month);
    let y = if m <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(year: u16, month: u8, day: u8) -> DateTime {
        DateTime {
            year,
            month,
            day,
            hour: 18,
            minute: 28,
            second: 0,
        }
    }

    #[test]
    fn known_instant() {
        // 2023-02-06T18:28:00Z
        assert_eq!(
            dt(2023, 2, 6).instant().map(|i| i.utc_ms),
            Some(1_675_708_080_000)
        );
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn untrusted_times_are_none() {
        assert_eq!(dt(0, 2, 6).instant(), None);
        assert_eq!(dt(1970, 1, 12).instant(), None);
        assert_eq!(dt(1999, 12, 31).instant(), None);
        assert_eq!(dt(2023, 0, 6).instant(), None);
        assert_eq!(dt(2023, 2, 0).instant(), None);
        assert_eq!(dt(2023, 2, 29).instant(), None);
        assert_eq!(dt(2023, 13, 1).instant(), None);
        assert!(dt(2024, 2, 29).instant().is_some());
    }
}
