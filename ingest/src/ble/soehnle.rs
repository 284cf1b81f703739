//! Soehnle Shape / Style scales (Shape200, Shape100, Shape50, Style100).
//!
//! These send measurements on a vendor characteristic
//! `352e3001-28e9-40b8-a361-6db4cca4147c`, 15 bytes, opcode 0x09, with
//! big-endian weight and impedances. Layout as transcribed from openScale's
//! Soehnle handler: `09`, user index, year (u16 little-endian), month, day,
//! hour, minute, second, weight u16 BE in 0.1 kg, impedance at 5 kHz u16 BE,
//! impedance at 50 kHz u16 BE. The impedance scaling is not documented
//! publicly, so only the weight becomes a measurement.

use serde::Serialize;

use super::BleError;
use super::datetime::DateTime;
use super::reader::Reader;
use super::weight::stamp;
use crate::model::{Measurement, Metric};

/// The Soehnle measurement characteristic (notify).
pub const SOEHNLE_MEASUREMENT_UUID: &str = "352e3001-28e9-40b8-a361-6db4cca4147c";

/// A decoded Soehnle weight frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoehnleMeasurement {
    /// The scale's user slot (1–7).
    pub user_index: u8,
    /// The scale's clock at the weighing.
    pub timestamp: DateTime,
    /// Weight in kilograms (`kg`), sent in 0.1 kg.
    pub weight_kg: f64,
    /// Impedance at 5 kHz, raw scale units.
    pub impedance_5khz_raw: u16,
    /// Impedance at 50 kHz, raw scale units.
    pub impedance_50khz_raw: u16,
}

/// Decodes a Soehnle measurement frame (exactly 15 bytes, opcode 0x09).
pub fn decode_soehnle(bytes: &[u8]) -> Result<SoehnleMeasurement, BleError> {
    let mut r = Reader::new(bytes);
    let op = r.u8("opcode")?;
    if op != 0x09 {
        return Err(BleError::BadFrame {
            what: "Soehnle measurement",
            reason: format!("opcode {op:#04x}, expected 0x09"),
        });
    }
    let user_index = r.u8("user index")?;
    let timestamp = DateTime::read(&mut r)?;
    let weight_kg = f64::from(r.u16_be("weight")?) / 10.0;
    let impedance_5khz_raw = r.u16_be("impedance 5 kHz")?;
    let impedance_50khz_raw = r.u16_be("impedance 50 kHz")?;
    r.finish("Soehnle measurement")?;
    Ok(SoehnleMeasurement {
        user_index,
        timestamp,
        weight_kg,
        impedance_5khz_raw,
        impedance_50khz_raw,
    })
}

impl SoehnleMeasurement {
    /// The weight in `kg`, timed by the scale clock when trusted.
    pub fn measurements(&self) -> Vec<Measurement> {
        vec![stamp(
            Metric::Weight,
            self.weight_kg,
            self.timestamp.instant(),
        )]
    }
}
