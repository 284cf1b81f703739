//! Health Thermometer: Temperature Measurement (0x2A1C).
//!
//! The temperature is an IEEE-11073 32-bit FLOAT in °C or °F; special values
//! mean "no reading" and yield no measurement.

use serde::Serialize;

use super::BleError;
use super::datetime::DateTime;
use super::ieee11073::Ieee11073;
use super::reader::Reader;
use super::weight::stamp;
use crate::model::{Measurement, Metric};

/// The unit a thermometer used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TemperatureUnit {
    /// Degrees Celsius (flag bit 0 clear).
    Celsius,
    /// Degrees Fahrenheit (flag bit 0 set).
    Fahrenheit,
}

/// A decoded Temperature Measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemperatureMeasurement {
    /// The flags byte as sent.
    pub flags: u8,
    /// Unit of `temperature`.
    pub unit: TemperatureUnit,
    /// The temperature in `unit`.
    pub temperature: Ieee11073,
    /// The thermometer's time stamp (flag bit 1).
    pub timestamp: Option<DateTime>,
    /// Temperature type code (flag bit 2): 1 armpit, 2 body, 3 ear, 4 finger,
    /// 5 gastro-intestinal tract, 6 mouth, 7 rectum, 8 toe, 9 tympanum.
    pub temperature_type: Option<u8>,
    /// Bytes after the last field; ignored.
    pub trailing_bytes: usize,
}

/// Decodes a Temperature Measurement indication.
pub fn decode_temperature(bytes: &[u8]) -> Result<TemperatureMeasurement, BleError> {
    let mut r = Reader::new(bytes);
    let flags = r.u8("flags")?;
    let unit = if flags & 0x01 != 0 {
        TemperatureUnit::Fahrenheit
    } else {
        TemperatureUnit::Celsius
    };
    let temperature = Ieee11073::from_float(r.u32("temperature")?);
    let timestamp = if flags & 0x02 != 0 {
        Some(DateTime::read(&mut r)?)
    } else {
        None
    };
    let temperature_type = if flags & 0x04 != 0 {
        Some(r.u8("temperature type")?)
    } else {
        None
    };
    Ok(TemperatureMeasurement {
        flags,
        unit,
        temperature,
        timestamp,
        temperature_type,
        trailing_bytes: r.remaining(),
    })
}

impl TemperatureMeasurement {
    /// The temperature in °C (`degC`), when it is a number.
    pub fn celsius(&self) -> Option<f64> {
        let v = self.temperature.value()?;
        Some(match self.unit {
            TemperatureUnit::Celsius => v,
            TemperatureUnit::Fahrenheit => (v - 32.0) * 5.0 / 9.0,
        })
    }

    /// One body temperature in `degC`, or nothing for a special value.
    pub fn measurements(&self) -> Vec<Measurement> {
        let at = self.timestamp.and_then(|t| t.instant());
        self.celsius()
            .map(|c| stamp(Metric::BodyTemperature, c, at))
            .into_iter()
            .collect()
    }
}
