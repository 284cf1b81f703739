//! Battery Level (0x2A19): one byte, percent.
//!
//! A value above 100 or a longer frame means we are not reading what we think
//! we are reading, so both are errors rather than clamped values.

use serde::Serialize;

use super::BleError;
use super::reader::Reader;
use crate::model::{Measurement, Metric};

/// A decoded Battery Level (0x2A19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatteryLevel {
    /// Charge in percent (`%`), 0–100.
    pub percent: u8,
}

/// Decodes a Battery Level: exactly one byte, 0–100. Longer frames and values
/// above 100 are errors (as the Nordic reference library treats them).
pub fn decode_battery(bytes: &[u8]) -> Result<BatteryLevel, BleError> {
    let mut r = Reader::new(bytes);
    let percent = r.u8("battery level")?;
    r.finish("battery level")?;
    if percent > 100 {
        return Err(BleError::OutOfRange {
            field: "battery level",
            value: f64::from(percent),
        });
    }
    Ok(BatteryLevel { percent })
}

impl BatteryLevel {
    /// One battery measurement in `%`.
    pub fn measurements(&self) -> Vec<Measurement> {
        vec![Measurement::gauge(Metric::Battery, f64::from(self.percent))]
    }
}
