//! Pulse Oximeter service: PLX Spot-check (0x2A5E) and PLX Continuous
//! (0x2A5F) measurements.
//!
//! SpO2 (%) and pulse rate (bpm) are IEEE-11073 SFLOATs; a special value
//! means the oximeter had no reading (finger out, poor signal) and yields no
//! measurement.

use serde::Serialize;

use super::BleError;
use super::datetime::DateTime;
use super::ieee11073::Ieee11073;
use super::reader::Reader;
use super::weight::stamp;
use crate::model::{Instant, Measurement, Metric};

/// One SpO2 / pulse-rate pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpO2Pr {
    /// Oxygen saturation in percent (`%`).
    pub spo2_pct: Ieee11073,
    /// Pulse rate in beats per minute (`bpm`).
    pub pulse_rate_bpm: Ieee11073,
}

impl SpO2Pr {
    fn read(r: &mut Reader<'_>) -> Result<Self, BleError> {
        Ok(SpO2Pr {
            spo2_pct: Ieee11073::from_sfloat(r.u16("spo2")?),
            pulse_rate_bpm: Ieee11073::from_sfloat(r.u16("pulse rate")?),
        })
    }

    fn measurements(&self, at: Option<Instant>) -> Vec<Measurement> {
        let mut out = Vec::new();
        if let Some(v) = self.spo2_pct.value() {
            out.push(stamp(Metric::Spo2, v, at));
        }
        if let Some(v) = self.pulse_rate_bpm.value() {
            out.push(stamp(Metric::PulseRate, v, at));
        }
        out
    }
}

/// A decoded PLX Spot-check Measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlxSpotCheck {
    /// The flags byte as sent.
    pub flags: u8,
    /// The reading.
    pub reading: SpO2Pr,
    /// The oximeter's time stamp (flag bit 0).
    pub timestamp: Option<DateTime>,
    /// Measurement status bits (flag bit 1).
    pub measurement_status: Option<u16>,
    /// Device and sensor status bits, 24 bits (flag bit 2).
    pub device_sensor_status: Option<u32>,
    /// Pulse amplitude index in percent (flag bit 3).
    pub pulse_amplitude_index: Option<Ieee11073>,
    /// Flag bit 4: the device clock is not set, so `timestamp` is not used.
    pub clock_not_set: bool,
    /// Bytes after the last field; ignored.
    pub trailing_bytes: usize,
}

/// Decodes a PLX Spot-check Measurement indication.
pub fn decode_plx_spot_check(bytes: &[u8]) -> Result<PlxSpotCheck, BleError> {
    let mut r = Reader::new(bytes);
    let flags = r.u8("flags")?;
    let reading = SpO2Pr::read(&mut r)?;
    let timestamp = if flags & 0x01 != 0 {
        Some(DateTime::read(&mut r)?)
    } else {
        None
    };
    let measurement_status = if flags & 0x02 != 0 {
        Some(r.u16("measurement status")?)
    } else {
        None
    };
    let device_sensor_status = if flags & 0x04 != 0 {
        Some(r.u24("device and sensor status")?)
    } else {
        None
    };
    let pulse_amplitude_index = if flags & 0x08 != 0 {
        Some(Ieee11073::from_sfloat(r.u16("pulse amplitude index")?))
    } else {
        None
    };
    Ok(PlxSpotCheck {
        flags,
        reading,
        timestamp,
        measurement_status,
        device_sensor_status,
        pulse_amplitude_index,
        clock_not_set: flags & 0x10 != 0,
        trailing_bytes: r.remaining(),
    })
}

impl PlxSpotCheck {
    /// SpO2 (`%`) and pulse rate (`bpm`), timed by the device clock only when
    /// the clock is set and trusted.
    pub fn measurements(&self) -> Vec<Measurement> {
        let at = if self.clock_not_set {
            None
        } else {
            self.timestamp.and_then(|t| t.instant())
        };
        self.reading.measurements(at)
    }
}

/// A decoded PLX Continuous Measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlxContinuous {
    /// The flags byte as sent.
    pub flags: u8,
    /// The normal-averaged reading.
    pub normal: SpO2Pr,
    /// The fast-averaged reading (flag bit 0).
    pub fast: Option<SpO2Pr>,
    /// The slow-averaged reading (flag bit 1).
    pub slow: Option<SpO2Pr>,
    /// Measurement status bits (flag bit 2).
    pub measurement_status: Option<u16>,
    /// Device and sensor status bits, 24 bits (flag bit 3).
    pub device_sensor_status: Option<u32>,
    /// Pulse amplitude index in percent (flag bit 4).
    pub pulse_amplitude_index: Option<Ieee11073>,
    /// Bytes after the last field; ignored.
    pub trailing_bytes: usize,
}

/// Decodes a PLX Continuous Measurement notification.
pub fn decode_plx_continuous(bytes: &[u8]) -> Result<PlxContinuous, BleError> {
    let mut r = Reader::new(bytes);
    let flags = r.u8("flags")?;
    let normal = SpO2Pr::read(&mut r)?;
    let fast = if flags & 0x01 != 0 {
        Some(SpO2Pr::read(&mut r)?)
    } else {
        None
    };
    let slow = if flags & 0x02 != 0 {
        Some(SpO2Pr::read(&mut r)?)
    } else {
        None
    };
    let measurement_status = if flags & 0x04 != 0 {
        Some(r.u16("measurement status")?)
    } else {
        None
    };
    let device_sensor_status = if flags & 0x08 != 0 {
        Some(r.u24("device and sensor status")?)
    } else {
        None
    };
    let pulse_amplitude_index = if flags & 0x10 != 0 {
        Some(Ieee11073::from_sfloat(r.u16("pulse amplitude index")?))
    } else {
        None
    };
    Ok(PlxContinuous {
        flags,
        normal,
        fast,
        slow,
        measurement_status,
        device_sensor_status,
        pulse_amplitude_index,
        trailing_bytes: r.remaining(),
    })
}

impl PlxContinuous {
    /// SpO2 (`%`) and pulse rate (`bpm`) of the normal-averaged reading,
    /// timed by receipt.
    pub fn measurements(&self) -> Vec<Measurement> {
        self.normal.measurements(None)
    }
}
