//! One weight per weighing from a scale's stream of frames.
//!
//! A Xiaomi scale sends a frame every ~200 ms while the weight settles, then
//! repeats the settled result, often for many seconds after the person steps
//! off. Storing each frame would store intermediate and duplicate values.
//!
//! Rules (per device):
//! * Frames of one weighing share the scale's time stamp; a different time
//!   stamp starts a new weighing.
//! * The first stabilised person frame (load on, or at load removal if no
//!   earlier stabilised frame was seen) emits the weight, plus impedance if
//!   present. A later frame of the same weighing that first carries
//!   impedance emits the impedance alone.
//! * A load-removed frame ends the weighing; further frames with the same
//!   time stamp are repeats and emit nothing.
//! * Object-mode and unstabilised frames never emit.

use super::datetime::DateTime;
use super::xiaomi::{WeighingMode, XiaomiScaleFrame};
use crate::model::Measurement;

#[derive(Debug, Clone)]
struct Weighing {
    timestamp: DateTime,
    weight_emitted: bool,
    impedance_emitted: bool,
}

/// Per-device state that turns scale frames into one result per weighing.
#[derive(Debug, Clone, Default)]
pub struct WeighingTracker {
    current: Option<Weighing>,
    finished: Option<DateTime>,
}

impl WeighingTracker {
    /// A tracker with no weighing in progress.
    pub fn new() -> Self {
        WeighingTracker::default()
    }

    /// Takes the next frame; returns the measurements to store (usually none).
    pub fn push(&mut self, frame: &XiaomiScaleFrame) -> Vec<Measurement> {
        if self.finished == Some(frame.timestamp) {
            return Vec::new();
        }
        let same = matches!(&self.current, Some(w) if w.timestamp == frame.timestamp);
        if !same {
            self.current = Some(Weighing {
                timestamp: frame.timestamp,
                weight_emitted: false,
                impedance_emitted: false,
            });
        }
        let mut out = Vec::new();
        if let Some(w) = self.current.as_mut() {
            let person = frame.weighing_mode == WeighingMode::Person;
            if person && frame.stabilized {
                let has_z = frame.impedance_ohm.is_some_and(|z| z > 0);
                let emit_weight = !w.weight_emitted;
                let emit_z = has_z && !w.impedance_emitted;
                if emit_weight || emit_z {
                    out = frame.final_measurements(emit_weight, emit_z);
                    w.weight_emitted = true;
                    w.impedance_emitted |= emit_z;
                }
            }
        }
        if frame.load_removed {
            self.finished = Some(frame.timestamp);
            self.current = None;
        }
        out
    }
}
