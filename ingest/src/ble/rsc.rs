//! Running Speed and Cadence Measurement (0x2A53), from foot pods and some
//! watches acting as sensors.

use serde::Serialize;

use super::BleError;
use super::reader::Reader;
use crate::model::{Measurement, Metric};

/// A decoded RSC Measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RscMeasurement {
    /// The flags byte as sent.
    pub flags: u8,
    /// Instantaneous speed as sent, in 1/256 m/s.
    pub speed_raw: u16,
    /// Instantaneous speed in metres per second (`m/s`).
    pub speed_m_s: f64,
    /// Instantaneous cadence in steps per minute.
    pub cadence_spm: u8,
    /// Instantaneous stride length in metres (`m`), sent in 1/100 m.
    pub stride_m: Option<f64>,
    /// Total distance since the sensor's reset in metres (`m`), sent in 1/10 m.
    pub total_distance_m: Option<f64>,
    /// `true` when running, `false` when walking (flag bit 2).
    pub running: bool,
    /// Bytes after the last field; ignored.
    pub trailing_bytes: usize,
}

/// Decodes an RSC Measurement notification.
pub fn decode_rsc(bytes: &[u8]) -> Result<RscMeasurement, BleError> {
    let mut r = Reader::new(bytes);
    let flags = r.u8("flags")?;
    let speed_raw = r.u16("instantaneous speed")?;
    let cadence_spm = r.u8("instantaneous cadence")?;
    let stride_m = if flags & 0x01 != 0 {
        Some(f64::from(r.u16("stride length")?) / 100.0)
    } else {
        None
    };
    let total_distance_m = if flags & 0x02 != 0 {
        Some(f64::from(r.u32("total distance")?) / 10.0)
    } else {
        None
    };
    Ok(RscMeasurement {
        flags,
        speed_raw,
        speed_m_s: f64::from(speed_raw) / 256.0,
        cadence_spm,
        stride_m,
        total_distance_m,
        running: flags & 0x04 != 0,
        trailing_bytes: r.remaining(),
    })
}

impl RscMeasurement {
    /// Speed (`m/s`), cadence (steps per minute, our `rpm` metric) and the
    /// total distance as a running total (`m`, cumulative).
    pub fn measurements(&self) -> Vec<Measurement> {
        let mut out = vec![
            Measurement::gauge(Metric::Speed, self.speed_m_s),
            Measurement::gauge(Metric::Cadence, f64::from(self.cadence_spm)),
        ];
        if let Some(d) = self.total_distance_m {
            out.push(Measurement::cumulative(Metric::Distance, d));
        }
        out
    }
}
