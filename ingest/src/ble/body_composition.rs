//! Body Composition Measurement (0x2A9C), standard layout.
//!
//! Xiaomi body-composition scales send a different layout on the same UUID;
//! that one is in [`super::xiaomi`] and is chosen by device model, never by
//! guessing from the payload.

use serde::Serialize;

use super::datetime::DateTime;
use super::reader::Reader;
use super::weight::stamp;
use super::{BleError, MassUnit};
use crate::model::{Measurement, Metric};

/// A decoded Body Composition Measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BodyCompositionMeasurement {
    /// The 16-bit flags as sent (bits 13–15 reserved, ignored).
    pub flags: u16,
    /// The unit of every mass field (kg or lb) and of height (m or in).
    pub unit: MassUnit,
    /// Body fat in percent (raw × 0.1); `None` when 0xFFFF ("unsuccessful").
    pub body_fat_pct: Option<f64>,
    /// The scale's time stamp (flag bit 1).
    pub timestamp: Option<DateTime>,
    /// User index (flag bit 2).
    pub user_id: Option<u8>,
    /// Basal metabolism in kilojoules per day (`kJ`) (flag bit 3).
    pub basal_metabolism_kj: Option<u16>,
    /// Muscle percentage (raw × 0.1 %) (flag bit 4).
    pub muscle_pct: Option<f64>,
    /// Muscle mass in `unit` (flag bit 5).
    pub muscle_mass: Option<f64>,
    /// Fat-free mass in `unit` (flag bit 6).
    pub fat_free_mass: Option<f64>,
    /// Soft lean mass in `unit` (flag bit 7).
    pub soft_lean_mass: Option<f64>,
    /// Body water mass in `unit` (flag bit 8).
    pub body_water_mass: Option<f64>,
    /// Impedance in ohms (raw × 0.1 Ω) (flag bit 9).
    pub impedance_ohm: Option<f64>,
    /// Weight in `unit` (flag bit 10).
    pub weight: Option<f64>,
    /// Height in metres or inches (flag bit 11).
    pub height: Option<f64>,
    /// This frame is one part of a measurement sent in several packets (bit 12).
    pub multiple_packet: bool,
    /// Bytes after the last field; ignored.
    pub trailing_bytes: usize,
}

/// Decodes a standard Body Composition Measurement indication.
pub fn decode_body_composition(bytes: &[u8]) -> Result<BodyCompositionMeasurement, BleError> {
    let mut r = Reader::new(bytes);
    let flags = r.u16("flags")?;
    let unit = if flags & 0x0001 != 0 {
        MassUnit::Lb
    } else {
        MassUnit::Kg
    };
    let has = |bit: u16| flags & (1 << bit) != 0;
    let fat_raw = r.u16("body fat percentage")?;
    let body_fat_pct = (fat_raw != 0xFFFF).then(|| f64::from(fat_raw) / 10.0);
    let timestamp = if has(1) {
        Some(DateTime::read(&mut r)?)
    } else {
        None
    };
    let user_id = opt(has(2), || r.u8("user id"))?;
    let basal_metabolism_kj = opt(has(3), || r.u16("basal metabolism"))?;
    let muscle_pct = opt(has(4), || r.u16("muscle percentage"))?.map(|v| f64::from(v) / 10.0);
    let mut mass = |bit: u16, field: &'static str| -> Result<Option<f64>, BleError> {
        Ok(opt(has(bit), || r.u16(field))?.map(|v| unit.mass_from_raw(v)))
    };
    let muscle_mass = mass(5, "muscle mass")?;
    let fat_free_mass = mass(6, "fat free mass")?;
    let soft_lean_mass = mass(7, "soft lean mass")?;
    let body_water_mass = mass(8, "body water mass")?;
    let impedance_ohm = opt(has(9), || r.u16("impedance"))?.map(|v| f64::from(v) / 10.0);
    let weight = opt(has(10), || r.u16("weight"))?.map(|v| unit.mass_from_raw(v));
    let height = opt(has(11), || r.u16("height"))?.map(|v| unit.height_from_raw(v));
    Ok(BodyCompositionMeasurement {
        flags,
        unit,
        body_fat_pct,
        timestamp,
        user_id,
        basal_metabolism_kj,
        muscle_pct,
        muscle_mass,
        fat_free_mass,
        soft_lean_mass,
        body_water_mass,
        impedance_ohm,
        weight,
        height,
        multiple_packet: has(12),
        trailing_bytes: r.remaining(),
    })
}

fn opt<T>(
    present: bool,
    read: impl FnOnce() -> Result<T, BleError>,
) -> Result<Option<T>, BleError> {
    if present { read().map(Some) } else { Ok(None) }
}

impl BodyCompositionMeasurement {
    /// Body fat (`%`), muscle mass and weight (`kg`) and impedance (`ohm`),
    /// timed by the scale's clock when trusted. Basal metabolism is a daily
    /// rate, not an energy increment, and stays in the struct only.
    pub fn measurements(&self) -> Vec<Measurement> {
        let at = self.timestamp.and_then(|t| t.instant());
        let mut out = Vec::new();
        if let Some(v) = self.body_fat_pct {
            out.push(stamp(Metric::BodyFat, v, at));
        }
        if let Some(v) = self.muscle_mass {
            out.push(stamp(Metric::MuscleMass, self.unit.to_kg(v), at));
        }
        if let Some(v) = self.weight {
            out.push(stamp(Metric::Weight, self.unit.to_kg(v), at));
        }
        if let Some(v) = self.impedance_ohm {
            out.push(stamp(Metric::Impedance, v, at));
        }
        out
    }
}
