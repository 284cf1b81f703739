//! Weight Measurement (0x2A9D) of the Weight Scale service.
//!
//! Fields keep the scale's own units (kg or lb, m or in) as sent;
//! [`WeightMeasurement::measurements`] converts to kilograms.

use serde::Serialize;

use super::datetime::DateTime;
use super::reader::Reader;
use super::{BleError, LB_TO_KG, MassUnit};
use crate::model::{Measurement, Metric};

/// Raw weight value meaning "measurement unsuccessful".
pub const WEIGHT_UNSUCCESSFUL: u16 = 0xFFFF;

/// A decoded Weight Measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightMeasurement {
    /// The flags byte as sent (bits 4–7 reserved, ignored).
    pub flags: u8,
    /// The unit of `weight` and `height` (flag bit 0).
    pub unit: MassUnit,
    /// Weight in `unit` (kg: raw × 0.005; lb: raw × 0.01); `None` when the
    /// scale sent 0xFFFF, "measurement unsuccessful".
    pub weight: Option<f64>,
    /// The scale's time stamp, when flag bit 1 is set.
    pub timestamp: Option<DateTime>,
    /// User index, when flag bit 2 is set (255 = unknown user).
    pub user_id: Option<u8>,
    /// Body mass index in kg/m² (raw × 0.1), when flag bit 3 is set.
    pub bmi: Option<f64>,
    /// Height in metres (SI, raw × 0.001) or inches (imperial, raw × 0.1),
    /// when flag bit 3 is set.
    pub height: Option<f64>,
    /// Bytes after the last field; ignored.
    pub trailing_bytes: usize,
}

/// Decodes a Weight Measurement indication.
pub fn decode_weight(bytes: &[u8]) -> Result<WeightMeasurement, BleError> {
    let mut r = Reader::new(bytes);
    let flags = r.u8("flags")?;
    let unit = if flags & 0x01 != 0 {
        MassUnit::Lb
    } else {
        MassUnit::Kg
    };
    let raw = r.u16("weight")?;
    let weight = (raw != WEIGHT_UNSUCCESSFUL).then(|| unit.mass_from_raw(raw));
    let timestamp = if flags & 0x02 != 0 {
        Some(DateTime::read(&mut r)?)
    } else {
        None
    };
    let user_id = if flags & 0x04 != 0 {
        Some(r.u8("user id")?)
    } else {
        None
    };
    let (bmi, height) = if flags & 0x08 != 0 {
        let bmi = f64::from(r.u16("bmi")?) / 10.0;
        let h = r.u16("height")?;
        (Some(bmi), Some(unit.height_from_raw(h)))
    } else {
        (None, None)
    };
    Ok(WeightMeasurement {
        flags,
        unit,
        weight,
        timestamp,
        user_id,
        bmi,
        height,
        trailing_bytes: r.remaining(),
    })
}

impl WeightMeasurement {
    /// Weight in `kg` and BMI, timed by the scale's clock when trusted.
    pub fn measurements(&self) -> Vec<Measurement> {
        let at = self.timestamp.and_then(|t| t.instant());
        let mut out = Vec::new();
        if let Some(w) = self.weight {
            out.push(stamp(Metric::Weight, self.unit.to_kg(w), at));
        }
        if let Some(b) = self.bmi {
            out.push(stamp(Metric::Bmi, b, at));
        }
        out
    }
}

pub(crate) fn stamp(metric: Metric, value: f64, at: Option<crate::model::Instant>) -> Measurement {
    match at {
        Some(at) => Measurement::gauge_at(metric, value, at),
        None => Measurement::gauge(metric, value),
    }
}

impl MassUnit {
    /// A Weight Scale / Body Composition mass field in this unit.
    pub(crate) fn mass_from_raw(self, raw: u16) -> f64 {
        match self {
            MassUnit::Kg => f64::from(raw) * 0.005,
            MassUnit::Lb => f64::from(raw) / 100.0,
            MassUnit::Jin => f64::from(raw) / 100.0,
        }
    }

    /// A height field: metres (raw × 0.001) for SI, inches (raw × 0.1) otherwise.
    pub(crate) fn height_from_raw(self, raw: u16) -> f64 {
        match self {
            MassUnit::Kg => f64::from(raw) / 1000.0,
            MassUnit::Lb | MassUnit::Jin => f64::from(raw) / 10.0,
        }
    }

    /// Converts a mass in this unit to kilograms.
    pub fn to_kg(self, v: f64) -> f64 {
        match self {
            MassUnit::Kg => v,
            MassUnit::Lb => v * LB_TO_KG,
            MassUnit::Jin => v * 0.5,
        }
    }
}
