//! Pure Bluetooth LE decoders: GATT characteristics, advertisements and the
//! replay format used in bug reports.
//!
//! Nothing here touches a radio, a file or the network: every function takes
//! bytes and returns a typed value or a [`BleError`] saying why not. Decoders
//! never panic on any input and never invent a value: absent, unknown or
//! special ("NaN") fields stay absent. Each decoded struct keeps the
//! specification's units and offers `measurements()` in our units
//! ([`crate::model::Metric::unit`]).

pub mod advert;
mod battery;
mod blood_pressure;
mod body_composition;
pub mod btle;
mod csc;
mod datetime;
mod decoded;
pub mod frames;
mod heart_rate;
mod ieee11073;
pub mod manager;
mod plx;
pub mod radio;
mod reader;
pub mod record;
pub mod replay;
mod rfc3339;
mod rsc;
mod soehnle;
mod thermometer;
mod vendor;
pub mod weighing;
mod weight;
mod xiaomi;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod fixture_tests_health;
#[cfg(test)]
mod proptests;

use serde::Serialize;

pub use battery::{BatteryLevel, decode_battery};
pub use blood_pressure::{
    BloodPressureMeasurement, MMHG_PER_KPA, PressureUnit, decode_blood_pressure,
};
pub use body_composition::{BodyCompositionMeasurement, decode_body_composition};
pub use csc::{
    CrankData, CscMeasurement, CscTracker, CscUpdate, DEFAULT_WHEEL_CIRCUMFERENCE_MM, WheelData,
    decode_csc,
};
pub use datetime::{DateTime, TRUSTED_FROM_YEAR};
pub use decoded::{Decoded, decode_characteristic, decode_characteristic_str, parse_uuid16};
pub use heart_rate::{
    BodySensorLocation, HeartRateMeasurement, KJ_PER_KCAL, SensorContact,
    decode_body_sensor_location, decode_heart_rate, rr_to_ms,
};
pub use ieee11073::Ieee11073;
pub use plx::{PlxContinuous, PlxSpotCheck, SpO2Pr, decode_plx_continuous, decode_plx_spot_check};
pub use reader::decode_hex;
pub use rfc3339::parse_rfc3339;
pub use rsc::{RscMeasurement, decode_rsc};
pub use soehnle::{SOEHNLE_MEASUREMENT_UUID, SoehnleMeasurement, decode_soehnle};
pub use thermometer::{TemperatureMeasurement, TemperatureUnit, decode_temperature};
pub use vendor::VendorModel;
pub use weighing::WeighingTracker;
pub use weight::{WeightMeasurement, decode_weight};
pub use xiaomi::{
    WeighingMode, XiaomiScaleFrame, XiaomiScaleLayout, decode_mi_scale_v1, decode_mi_scale_v2,
};

/// Kilograms per international avoirdupois pound.
pub const LB_TO_KG: f64 = 0.453_592_37;

/// The mass unit a scale reported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MassUnit {
    /// Kilograms (SI; heights in metres).
    Kg,
    /// Pounds (imperial; heights in inches).
    Lb,
    /// Jin (市斤), 0.5 kg, used by Xiaomi scales sold in China.
    Jin,
}

/// Why a frame, advert or replay line could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BleError {
    /// The frame ended before a field its flags announce.
    #[error("frame too short: {field} needs {needed} byte(s), {available} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A fixed-size characteristic carried extra bytes.
    #[error("{what}: {extra} unexpected trailing byte(s)")]
    TooLong {
        /// The characteristic.
        what: &'static str,
        /// How many bytes too many.
        extra: usize,
    },
    /// A value outside the range the specification allows.
    #[error("{field} out of range: {value}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value as read.
        value: f64,
    },
    /// No decoder for this characteristic UUID.
    #[error("unsupported characteristic 0x{0:04X}")]
    UnsupportedCharacteristic(u16),
    /// A UUID string that is neither 16-bit nor a known vendor UUID.
    #[error("not a Bluetooth UUID we know: {0:?}")]
    BadUuid(String),
    /// The bytes do not have the shape of the expected frame.
    #[error("not a {what} frame: {reason}")]
    BadFrame {
        /// The frame kind expected.
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The payload is encrypted and we hold no key for it.
    #[error("encrypted payload, not decoded: {0}")]
    Encrypted(String),
    /// A recognised device whose payload format we do not decode.
    #[error("unsupported payload: {0}")]
    Unsupported(String),
    /// A hex string that is not valid hex.
    #[error("bad hex: {0}")]
    BadHex(String),
    /// Gateway JSON without the expected fields.
    #[error("bad gateway JSON: {0}")]
    BadJson(String),
    /// A replay file line that does not parse.
    #[error("replay line {line}: {reason}")]
    Replay {
        /// 1-based line number.
        line: usize,
        /// What was wrong.
        reason: String,
    },
    /// A time stamp that is not RFC 3339.
    #[error("bad RFC 3339 time stamp: {0}")]
    BadTime(String),
}
