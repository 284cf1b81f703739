//! Heart Rate service: Heart Rate Measurement (0x2A37) and Body Sensor
//! Location (0x2A38).
//!
//! Chest straps are the main source of heart rate and of the RR intervals that
//! HRV is computed from, so this decoder keeps the RR values exact (no
//! rounding) and honours the sensor-contact field: while the strap reports
//! that contact is lost, its heart rate is not a measurement of anyone.

use serde::Serialize;

use super::BleError;
use super::reader::Reader;
use crate::model::{Measurement, Metric};

/// Kilojoules per kilocalorie.
pub const KJ_PER_KCAL: f64 = 4.184;

/// The two-bit sensor-contact status of a Heart Rate Measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorContact {
    /// Values 0b00 and 0b01: the sensor does not report contact.
    NotSupported,
    /// Value 0b10: supported, and no skin contact right now.
    NotDetected,
    /// Value 0b11: supported, and in contact.
    Detected,
}

/// A decoded Heart Rate Measurement (0x2A37).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeartRateMeasurement {
    /// The flags byte as sent (reserved bits 5–7 are ignored).
    pub flags: u8,
    /// Heart rate in beats per minute (`bpm`), uint8 or uint16 per flag bit 0.
    pub bpm: u16,
    /// Sensor-contact status.
    pub contact: SensorContact,
    /// Energy expended since the last reset, in kilojoules (`kJ`).
    pub energy_expended_kj: Option<u16>,
    /// RR intervals as sent, in units of 1/1024 s, oldest first.
    pub rr_1024: Vec<u16>,
    /// The same RR intervals in milliseconds (`ms`), exact (value × 1000 / 1024).
    pub rr_ms: Vec<f64>,
    /// Bytes after the last whole field (a dangling half RR interval); ignored.
    pub trailing_bytes: usize,
}

/// Decodes a Heart Rate Measurement notification.
pub fn decode_heart_rate(bytes: &[u8]) -> Result<HeartRateMeasurement, BleError> {
    let mut r = Reader::new(bytes);
    let flags = r.u8("flags")?;
    let bpm = if flags & 0x01 != 0 {
        r.u16("heart rate (uint16)")?
    } else {
        u16::from(r.u8("heart rate (uint8)")?)
    };
    let contact = match (flags >> 1) & 0b11 {
        0b10 => SensorContact::NotDetected,
        0b11 => SensorContact::Detected,
        _ => SensorContact::NotSupported,
    };
    let energy_expended_kj = if flags & 0x08 != 0 {
        Some(r.u16("energy expended")?)
    } else {
        None
    };
    let mut rr_1024 = Vec::new();
    if flags & 0x10 != 0 {
        while r.remaining() >= 2 {
            rr_1024.push(r.u16("rr interval")?);
        }
    }
    let rr_ms = rr_1024.iter().map(|&v| rr_to_ms(v)).collect();
    Ok(HeartRateMeasurement {
        flags,
        bpm,
        contact,
        energy_expended_kj,
        rr_1024,
        rr_ms,
        trailing_bytes: r.remaining(),
    })
}

/// Converts an RR interval in 1/1024 s to milliseconds, without rounding.
pub fn rr_to_ms(rr_1024: u16) -> f64 {
    f64::from(rr_1024) * 1000.0 / 1024.0
}

impl HeartRateMeasurement {
    /// Our measurements: heart rate (`bpm`), each RR interval (`ms`) and the
    /// running energy total converted to `kcal` (cumulative).
    ///
    /// While contact is "not detected" nothing but the energy total is
    /// produced. A heart rate of 0 means "no reading" and an RR interval of 0
    /// is impossible; neither becomes a measurement.
    pub fn measurements(&self) -> Vec<Measurement> {
        let mut out = Vec::new();
        if self.contact != SensorContact::NotDetected {
            if self.bpm > 0 {
                out.push(Measurement::gauge(Metric::HeartRate, f64::from(self.bpm)));
            }
            for (&raw, &ms) in self.rr_1024.iter().zip(&self.rr_ms) {
                if raw > 0 {
                    out.push(Measurement::gauge(Metric::RrInterval, ms));
                }
            }
        }
        if let Some(kj) = self.energy_expended_kj {
            out.push(Measurement::cumulative(
                Metric::ActiveEnergy,
                f64::from(kj) / KJ_PER_KCAL,
            ));
        }
        out
    }
}

/// Where a heart-rate sensor sits (0x2A38).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "location", content = "code")]
pub enum BodySensorLocation {
    /// 0: other.
    Other,
    /// 1: chest.
    Chest,
    /// 2: wrist.
    Wrist,
    /// 3: finger.
    Finger,
    /// 4: hand.
    Hand,
    /// 5: ear lobe.
    EarLobe,
    /// 6: foot.
    Foot,
    /// 7–255: reserved for future use; the raw code is kept.
    Reserved(u8),
}

/// Decodes a Body Sensor Location value (exactly one byte).
pub fn decode_body_sensor_location(bytes: &[u8]) -> Result<BodySensorLocation, BleError> {
    let mut r = Reader::new(bytes);
    let code = r.u8("body sensor location")?;
    r.finish("body sensor location")?;
    Ok(match code {
        0 => BodySensorLocation::Other,
        1 => BodySensorLocation::Chest,
        2 => BodySensorLocation::Wrist,
        3 => BodySensorLocation::Finger,
        4 => BodySensorLocation::Hand,
        5 => BodySensorLocation::EarLobe,
        6 => BodySensorLocation::Foot,
        other => BodySensorLocation::Reserved(other),
    })
}
