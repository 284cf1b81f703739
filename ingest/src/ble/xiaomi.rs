//! Xiaomi scale frames: Mi Smart Scale (v1, XMTZC01HM/XMTZC04HM, service
//! 0x181D, also its 0x2A9D notifications) and Mi Body Composition Scale
//! (MIBCS/MIBFS, XMTZC02HM/XMTZC05HM, service 0x181B, also its 0x2A9C
//! notifications).
//!
//! These reuse SIG UUIDs with their own layouts, so they are chosen by device
//! model. Layouts (little-endian):
//!
//! * v1, 10 bytes: control, weight u16, Date Time (7 bytes).
//!   Control bits: 0 lb, 4 jin, 5 stabilised, 6 object (not a person),
//!   7 load removed.
//! * v2, 13 bytes: control0, control1, Date Time (7 bytes), impedance u16,
//!   weight u16. control0 bits: 0 lb, 2 object. control1 bits: 1 impedance
//!   present, 5 stabilised, 6 jin, 7 load removed.
//!
//! Weight is raw / 200 in kg, raw / 100 in lb or jin (1 jin = 0.5 kg).

use serde::Serialize;

use super::datetime::DateTime;
use super::reader::Reader;
use super::weight::stamp;
use super::{BleError, MassUnit};
use crate::model::{Measurement, Metric};

/// Which Xiaomi scale layout a frame uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum XiaomiScaleLayout {
    /// Mi Smart Scale (v1), 10-byte frames.
    MiScale,
    /// Mi Body Composition Scale (v2), 13-byte frames with impedance.
    MiBodyCompositionScale,
}

/// Whether a weighing was of a person or of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeighingMode {
    /// A person stood on the scale.
    Person,
    /// Object mode: not a body weight.
    Object,
}

/// One decoded Xiaomi scale frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct XiaomiScaleFrame {
    /// The layout the frame was read with.
    pub layout: XiaomiScaleLayout,
    /// Control byte(s) as sent.
    pub control: Vec<u8>,
    /// The unit the scale displays.
    pub unit: MassUnit,
    /// Weight in `unit`.
    pub weight: f64,
    /// Weight in kilograms (`kg`).
    pub weight_kg: f64,
    /// Person or object weighing.
    pub weighing_mode: WeighingMode,
    /// The weight has settled.
    pub stabilized: bool,
    /// The load has been removed (the frame repeats the last result).
    pub load_removed: bool,
    /// Impedance in ohms (`ohm`), v2 only, when its flag is set.
    pub impedance_ohm: Option<u16>,
    /// The scale's clock at the weighing (local time, often never set).
    pub timestamp: DateTime,
    /// Bytes after the frame; ignored.
    pub trailing_bytes: usize,
}

fn bit(byte: u8, n: u8) -> bool {
    byte & (1 << n) != 0
}

fn weight_in(unit: MassUnit, raw: u16) -> f64 {
    match unit {
        MassUnit::Kg => f64::from(raw) / 200.0,
        MassUnit::Lb | MassUnit::Jin => f64::from(raw) / 100.0,
    }
}

/// Decodes a Mi Smart Scale (v1) frame (service data 0x181D or 0x2A9D).
pub fn decode_mi_scale_v1(bytes: &[u8]) -> Result<XiaomiScaleFrame, BleError> {
    let mut r = Reader::new(bytes);
    let ctrl = r.u8("control")?;
    let raw = r.u16("weight")?;
    let timestamp = DateTime::read(&mut r)?;
    let unit = if bit(ctrl, 0) {
        MassUnit::Lb
    } else if bit(ctrl, 4) {
        MassUnit::Jin
    } else {
        MassUnit::Kg
    };
    let weight = weight_in(unit, raw);
    Ok(XiaomiScaleFrame {
        layout: XiaomiScaleLayout::MiScale,
        control: vec![ctrl],
        unit,
        weight,
        weight_kg: unit.to_kg(weight),
        weighing_mode: if bit(ctrl, 6) {
            WeighingMode::Object
        } else {
            WeighingMode::Person
        },
        stabilized: bit(ctrl, 5),
        load_removed: bit(ctrl, 7),
        impedance_ohm: None,
        timestamp,
        trailing_bytes: r.remaining(),
    })
}

/// Decodes a Mi Body Composition Scale (v2) frame (service data 0x181B or
/// 0x2A9C).
pub fn decode_mi_scale_v2(bytes: &[u8]) -> Result<XiaomiScaleFrame, BleError> {
    let mut r = Reader::new(bytes);
    let c0 = r.u8("control 0")?;
    let c1 = r.u8("control 1")?;
    let timestamp = DateTime::read(&mut r)?;
    let impedance = r.u16("impedance")?;
    let raw = r.u16("weight")?;
    let unit = if bit(c0, 0) {
        MassUnit::Lb
    } else if bit(c1, 6) {
        MassUnit::Jin
    } else {
        MassUnit::Kg
    };
    let weight = weight_in(unit, raw);
    Ok(XiaomiScaleFrame {
        layout: XiaomiScaleLayout::MiBodyCompositionScale,
        control: vec![c0, c1],
        unit,
        weight,
        weight_kg: unit.to_kg(weight),
        weighing_mode: if bit(c0, 2) {
            WeighingMode::Object
        } else {
            WeighingMode::Person
        },
        stabilized: bit(c1, 5),
        load_removed: bit(c1, 7),
        impedance_ohm: bit(c1, 1).then_some(impedance),
        timestamp,
        trailing_bytes: r.remaining(),
    })
}

impl XiaomiScaleFrame {
    /// Whether this frame is a final body weighing (person, stabilised, load
    /// still on).
    pub fn is_final_person_weighing(&self) -> bool {
        self.weighing_mode == WeighingMode::Person && self.stabilized && !self.load_removed
    }

    /// Weight (`kg`) and impedance (`ohm`) of a final person weighing, timed
    /// by the scale clock when trusted; nothing for intermediate frames,
    /// object weighings or repeats after load removal. Use a
    /// [`super::WeighingTracker`] to get one value per weighing.
    pub fn measurements(&self) -> Vec<Measurement> {
        if !self.is_final_person_weighing() {
            return Vec::new();
        }
        self.final_measurements(true, true)
    }

    pub(crate) fn final_measurements(&self, weight: bool, impedance: bool) -> Vec<Measurement> {
        let at = self.timestamp.instant();
        let mut out = Vec::new();
        if weight {
            out.push(stamp(Metric::Weight, self.weight_kg, at));
        }
        if impedance && let Some(z) = self.impedance_ohm.filter(|&z| z > 0) {
            out.push(stamp(Metric::Impedance, f64::from(z), at));
        }
        out
    }
}
