//! Blood Pressure Measurement (0x2A35).
//!
//! Cuffs send systolic, diastolic and mean pressure as IEEE-11073 SFLOAT in
//! mmHg or kPa. A special value (NaN, NRes, ±INF) for one of them means the
//! cuff has no number for it, and that metric is simply left out.

use serde::Serialize;

use super::BleError;
use super::datetime::DateTime;
use super::ieee11073::Ieee11073;
use super::reader::Reader;
use super::weight::stamp;
use crate::model::{Measurement, Metric};

/// Millimetres of mercury per kilopascal (1 mmHg = 133.322387415 Pa).
pub const MMHG_PER_KPA: f64 = 1000.0 / 133.322_387_415;

/// The pressure unit a cuff used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PressureUnit {
    /// Millimetres of mercury (flag bit 0 clear).
    MmHg,
    /// Kilopascal (flag bit 0 set).
    KPa,
}

/// A decoded Blood Pressure Measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BloodPressureMeasurement {
    /// The flags byte as sent.
    pub flags: u8,
    /// Unit of the three pressures.
    pub unit: PressureUnit,
    /// Systolic pressure in `unit`.
    pub systolic: Ieee11073,
    /// Diastolic pressure in `unit`.
    pub diastolic: Ieee11073,
    /// Mean arterial pressure in `unit`.
    pub mean_arterial: Ieee11073,
    /// The cuff's time stamp (flag bit 1).
    pub timestamp: Option<DateTime>,
    /// Pulse rate in beats per minute (`bpm`) (flag bit 2).
    pub pulse_rate_bpm: Option<Ieee11073>,
    /// User index (flag bit 3).
    pub user_id: Option<u8>,
    /// Measurement status bits (flag bit 4): body movement, cuff fit,
    /// irregular pulse, pulse range, position.
    pub status: Option<u16>,
    /// Bytes after the last field; ignored.
    pub trailing_bytes: usize,
}

/// Decodes a Blood Pressure Measurement indication.
pub fn decode_blood_pressure(bytes: &[u8]) -> Result<BloodPressureMeasurement, BleError> {
    let mut r = Reader::new(bytes);
    let flags = r.u8("flags")?;
    let unit = if flags & 0x01 != 0 {
        PressureUnit::KPa
    } else {
        PressureUnit::MmHg
    };
    let systolic = Ieee11073::from_sfloat(r.u16("systolic")?);
    let diastolic = Ieee11073::from_sfloat(r.u16("diastolic")?);
    let mean_arterial = Ieee11073::from_sfloat(r.u16("mean arterial pressure")?);
    let timestamp = if flags & 0x02 != 0 {
        Some(DateTime::read(&mut r)?)
    } else {
        None
    };
    let pulse_rate_bpm = if flags & 0x04 != 0 {
        Some(Ieee11073::from_sfloat(r.u16("pulse rate")?))
    } else {
        None
    };
    let user_id = if flags & 0x08 != 0 {
        Some(r.u8("user id")?)
    } else {
        None
    };
    let status = if flags & 0x10 != 0 {
        Some(r.u16("measurement status")?)
    } else {
        None
    };
    Ok(BloodPressureMeasurement {
        flags,
        unit,
        systolic,
        diastolic,
        mean_arterial,
        timestamp,
        pulse_rate_bpm,
        user_id,
        status,
        trailing_bytes: r.remaining(),
    })
}

impl BloodPressureMeasurement {
    fn to_mmhg(&self, v: Ieee11073) -> Option<f64> {
        let v = v.value()?;
        Some(match self.unit {
            PressureUnit::MmHg => v,
            PressureUnit::KPa => v * MMHG_PER_KPA,
        })
    }

    /// Systolic, diastolic and mean pressure in `mmHg` and pulse rate in
    /// `bpm`; special values produce nothing.
    pub fn measurements(&self) -> Vec<Measurement> {
        let at = self.timestamp.and_then(|t| t.instant());
        let mut out = Vec::new();
        let pressures = [
            (Metric::BloodPressureSystolic, self.systolic),
            (Metric::BloodPressureDiastolic, self.diastolic),
            (Metric::BloodPressureMean, self.mean_arterial),
        ];
        for (metric, v) in pressures {
            if let Some(mmhg) = self.to_mmhg(v) {
                out.push(stamp(metric, mmhg, at));
            }
        }
        if let Some(p) = self.pulse_rate_bpm.and_then(Ieee11073::value) {
            out.push(stamp(Metric::PulseRate, p, at));
        }
        out
    }
}
