//! Cycling Speed and Cadence Measurement (0x2A5B) and the per-device tracker
//! that turns consecutive frames into speed and cadence.
//!
//! A CSC sensor sends only cumulative revolution counts and the time of the
//! last revolution event; speed and cadence exist only between two frames.
//! The counters and the 1/1024 s event clocks wrap (the clocks every 64 s),
//! so all differences are taken modulo their width.

use serde::Serialize;

use super::BleError;
use super::reader::Reader;
use crate::model::{Measurement, Metric};

/// Default wheel circumference in millimetres (700×25C road tyre).
pub const DEFAULT_WHEEL_CIRCUMFERENCE_MM: u32 = 2105;

/// Wheel revolution data of a CSC frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WheelData {
    /// Cumulative wheel revolutions (uint32, wraps).
    pub revolutions: u32,
    /// Time of the last wheel event in 1/1024 s (uint16, wraps every 64 s).
    pub last_event_1024: u16,
}

/// Crank revolution data of a CSC frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CrankData {
    /// Cumulative crank revolutions (uint16, wraps).
    pub revolutions: u16,
    /// Time of the last crank event in 1/1024 s (uint16, wraps every 64 s).
    pub last_event_1024: u16,
}

/// A decoded CSC Measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CscMeasurement {
    /// The flags byte as sent.
    pub flags: u8,
    /// Wheel data, when flag bit 0 is set.
    pub wheel: Option<WheelData>,
    /// Crank data, when flag bit 1 is set.
    pub crank: Option<CrankData>,
    /// Bytes after the last field; ignored.
    pub trailing_bytes: usize,
}

/// Decodes a CSC Measurement notification.
pub fn decode_csc(bytes: &[u8]) -> Result<CscMeasurement, BleError> {
    let mut r = Reader::new(bytes);
    let flags = r.u8("flags")?;
    let wheel = if flags & 0x01 != 0 {
        Some(WheelData {
            revolutions: r.u32("cumulative wheel revolutions")?,
            last_event_1024: r.u16("last wheel event time")?,
        })
    } else {
        None
    };
    let crank = if flags & 0x02 != 0 {
        Some(CrankData {
            revolutions: r.u16("cumulative crank revolutions")?,
            last_event_1024: r.u16("last crank event time")?,
        })
    } else {
        None
    };
    Ok(CscMeasurement {
        flags,
        wheel,
        crank,
        trailing_bytes: r.remaining(),
    })
}

impl CscMeasurement {
    /// A single frame carries no rate: always empty. Feed frames to a
    /// [`CscTracker`] instead.
    pub fn measurements(&self) -> Vec<Measurement> {
        Vec::new()
    }
}

/// What a [`CscTracker`] learned from one more frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CscUpdate {
    /// Speed in metres per second (`m/s`), when a new wheel event arrived.
    pub speed_m_s: Option<f64>,
    /// Distance covered since the previous frame in metres (`m`).
    pub distance_m: Option<f64>,
    /// Cadence in crank revolutions per minute (`rpm`), when a new crank
    /// event arrived.
    pub cadence_rpm: Option<f64>,
}

impl CscUpdate {
    /// Speed (`m/s`), cadence (`rpm`) and the distance increment (`m`).
    pub fn measurements(&self) -> Vec<Measurement> {
        let mut out = Vec::new();
        if let Some(v) = self.speed_m_s {
            out.push(Measurement::gauge(Metric::Speed, v));
        }
        if let Some(c) = self.cadence_rpm {
            out.push(Measurement::gauge(Metric::Cadence, c));
        }
        if let Some(d) = self.distance_m {
            out.push(Measurement::gauge(Metric::Distance, d));
        }
        out
    }
}

/// Turns one device's consecutive CSC frames into speed and cadence.
///
/// Rules: differences are modular (uint32 wheel count, uint16 crank count,
/// uint16 event clocks). A frame whose event time did not move carries no
/// new event and yields no rate (not a made-up zero). A wheel count that
/// moved backwards by the modular rule more than 2^31 revolutions is treated
/// as a sensor reset: the tracker re-bases and yields nothing for that frame.
#[derive(Debug, Clone)]
pub struct CscTracker {
    wheel_circumference_mm: u32,
    last_wheel: Option<WheelData>,
    last_crank: Option<CrankData>,
}

impl Default for CscTracker {
    fn default() -> Self {
        CscTracker::new(DEFAULT_WHEEL_CIRCUMFERENCE_MM)
    }
}

impl CscTracker {
    /// A tracker for a wheel of `wheel_circumference_mm` millimetres.
    pub fn new(wheel_circumference_mm: u32) -> Self {
        CscTracker {
            wheel_circumference_mm,
            last_wheel: None,
            last_crank: None,
        }
    }

    /// Takes the next frame and returns what changed since the previous one.
    pub fn push(&mut self, frame: &CscMeasurement) -> CscUpdate {
        let mut update = CscUpdate::default();
        if let Some(w) = frame.wheel {
            if let Some(prev) = self.last_wheel {
                let revs = w.revolutions.wrapping_sub(prev.revolutions);
                let dt = w.last_event_1024.wrapping_sub(prev.last_event_1024);
                if revs <= u32::MAX / 2 {
                    let circ_m = f64::from(self.wheel_circumference_mm) / 1000.0;
                    let dist = f64::from(revs) * circ_m;
                    update.distance_m = Some(dist);
                    if dt > 0 {
                        update.speed_m_s = Some(dist * 1024.0 / f64::from(dt));
                    }
                }
            }
            self.last_wheel = Some(w);
        }
        if let Some(c) = frame.crank {
            if let Some(prev) = self.last_crank {
                let revs = c.revolutions.wrapping_sub(prev.revolutions);
                let dt = c.last_event_1024.wrapping_sub(prev.last_event_1024);
                if dt > 0 {
                    update.cadence_rpm = Some(f64::from(revs) * 60.0 * 1024.0 / f64::from(dt));
                }
            }
            self.last_crank = Some(c);
        }
        update
    }
}
