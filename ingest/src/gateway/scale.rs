//! One body weight per weighing, from scales that advertise the same weighing many
//! times.
//!
//! A Xiaomi scale broadcasts while you step on (changing, unstable weights), then
//! the stabilised weight over and over, then the same weight flagged "load removed"
//! for a few seconds after you step off; the body-composition model adds the
//! impedance to later stabilised frames once it has measured it. Storing every
//! frame would make one weighing look like a dozen.
//!
//! What the gateways tell us about that state: Theengs Decoder's Xiaomi scale
//! definitions (`XMTZC04HM_json.h`, `XMTZC05HM_json.h` in `theengs/decoder`) publish
//! `weighing_mode`, `unit`, `weight` and `impedance` only — no stabilised or removed
//! field — and their decoding conditions only match frames whose *stabilised* bit is
//! set (with or without the *load removed* bit). Older OpenMQTTGateway firmware
//! published every frame (OpenMQTTGateway issue #760 shows "not stabilized" weights),
//! and gateways configured to pass raw data include `servicedata`; from it we read
//! the control bits ourselves: for service 0x181D (Mi Scale) byte 0, for 0x181B
//! (Mi Body Composition Scale) byte 1; in both, bit 5 (0x20) = stabilised and
//! bit 7 (0x80) = load removed.
//!
//! The rule [`WeighingFilter::admit`] applies, per device:
//! 1. A frame without a body weight (object mode, unknown scale, bad value) and a
//!    frame known to be unstable are never admitted. Without raw flags a frame counts
//!    as stabilised, because Theengs publishes no other kind.
//! 2. A frame *continues* the open weighing when it arrives within
//!    [`WeighingFilter::gap_ms`] of that weighing's previous frame, its weight is
//!    within [`WeighingFilter::tolerance_kg`] of the weighing's weight, and the
//!    weighing has not ended (a load-removed frame ends it once a frame without that
//!    flag follows; load-removed repeats of the same weight still continue it).
//! 3. A continuing frame admits no weight; it admits its impedance only if the
//!    weighing has not stored one yet.
//! 4. Any other admissible frame opens a new weighing and admits its weight (and its
//!    impedance, if it has one).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::model::{DeviceId, Metric, Reading};

/// Whether a scale weighed a person or an object (Xiaomi's "object" mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeighingMode {
    /// A person stood on the scale: the weight is a body weight.
    Person,
    /// Object mode: the weight is not a body weight.
    Object,
    /// The gateway did not say.
    Unknown,
}

/// The scale-specific state of one gateway message.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleFrame {
    /// The scale.
    pub device: DeviceId,
    /// When the message was received, in UTC milliseconds.
    pub received_ms: i64,
    /// Person or object weighing.
    pub mode: WeighingMode,
    /// The stabilised bit from raw service data, when the message carried it.
    pub stabilised: Option<bool>,
    /// The load-removed bit from raw service data, when the message carried it.
    pub load_removed: Option<bool>,
    /// The body weight in kilograms, when the frame has a valid one.
    pub weight_kg: Option<f64>,
    /// The body impedance in ohms, when the frame has a valid one.
    pub impedance_ohm: Option<f64>,
}

/// What [`WeighingFilter::admit`] lets through from one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Admission {
    /// Store the frame's weight (the first of a weighing).
    pub weight: bool,
    /// Store the frame's impedance (the first of a weighing).
    pub impedance: bool,
}

impl Admission {
    /// Removes the weight and impedance measurements this admission refuses.
    pub fn apply(self, reading: &mut Reading) {
        reading.measurements.retain(|m| match m.metric {
            Metric::Weight => self.weight,
            Metric::Impedance => self.impedance,
            _ => true,
        });
    }
}

#[derive(Debug, Clone)]
struct Weighing {
    weight_kg: f64,
    last_ms: i64,
    impedance_stored: bool,
    load_removed: bool,
}

/// Per-device weighing state; keeps one weight per weighing (rule in the module doc).
#[derive(Debug, Clone)]
pub struct WeighingFilter {
    /// Longest silence, in milliseconds, inside one weighing (default 60 000).
    pub gap_ms: i64,
    /// Largest weight difference, in kilograms, inside one weighing (default 0.25).
    pub tolerance_kg: f64,
    open: HashMap<DeviceId, Weighing>,
}

impl Default for WeighingFilter {
    fn default() -> Self {
        WeighingFilter {
            gap_ms: 60_000,
            tolerance_kg: 0.25,
            open: HashMap::new(),
        }
    }
}

impl WeighingFilter {
    /// A filter with the default gap (60 s) and tolerance (0.25 kg).
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides which of `frame`'s values to store and updates the weighing state.
    pub fn admit(&mut self, frame: &ScaleFrame) -> Admission {
        let Some(kg) = frame.weight_kg else {
            return Admission::default();
        };
        if frame.mode == WeighingMode::Object || frame.stabilised == Some(false) {
            return Admission::default();
        }
        let removed = frame.load_removed == Some(true);
        let has_impedance = frame.impedance_ohm.is_some();
        if let Some(open) = self.open.get_mut(&frame.device) {
            let near_in_time =
                frame.received_ms.abs_diff(open.last_ms) <= self.gap_ms.unsigned_abs();
            let same_weight = (kg - open.weight_kg).abs() <= self.tolerance_kg;
            let ended = open.load_removed && !removed;
            if near_in_time && same_weight && !ended {
                open.last_ms = open.last_ms.max(frame.received_ms);
                open.load_removed |= removed;
                let impedance = has_impedance && !open.impedance_stored;
                open.impedance_stored |= impedance;
                return Admission {
                    weight: false,
                    impedance,
                };
            }
        }
        self.open.insert(
            frame.device.clone(),
            Weighing {
                weight_kg: kg,
                last_ms: frame.received_ms,
                impedance_stored: has_impedance,
                load_removed: removed,
            },
        );
        Admission {
            weight: true,
            impedance: has_impedance,
        }
    }

    /// Applies [`admit`](Self::admit) to a decoded frame, removing the weight and
    /// impedance measurements that repeat an earlier frame of the same weighing.
    pub fn filter(&mut self, frame: &mut super::GatewayFrame) {
        if let Some(scale) = &frame.scale {
            self.admit(scale).apply(&mut frame.reading);
        }
    }

    /// Drops the state of weighings silent since before `before_ms` (UTC ms), so a
    /// long-running daemon does not keep every scale it ever heard.
    pub fn forget_before(&mut self, before_ms: i64) {
        self.open.retain(|_, w| w.last_ms >= before_ms);
    }
}

/// The (stabilised, load removed) bits from raw Xiaomi service data, if present.
pub(super) fn raw_scale_flags(body: &Map<String, Value>) -> (Option<bool>, Option<bool>) {
    let uuid = body
        .get("servicedatauuid")
        .and_then(Value::as_str)
        .map(|u| u.trim().to_ascii_lowercase());
    let control_index = match uuid.as_deref() {
        Some("0x181d" | "181d") => 0,
        Some("0x181b" | "181b") => 1,
        _ => return (None, None),
    };
    let Some(hex) = body.get("servicedata").and_then(Value::as_str) else {
        return (None, None);
    };
    let start = control_index * 2;
    let byte = hex
        .get(start..start + 2)
        .filter(|pair| pair.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|pair| u8::from_str_radix(pair, 16).ok());
    match byte {
        Some(b) => (Some(b & 0x20 != 0), Some(b & 0x80 != 0)),
        None => (None, None),
    }
}
