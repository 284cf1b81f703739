//! From radio frames to readings, with the per-device memory some values need.
//!
//! Live Bluetooth and `cohealth ble replay` both feed frames through a
//! [`FrameDecoder`], so a replayed session takes exactly the live path: CSC speed
//! and cadence come from consecutive frames, a scale's weighing yields one weight,
//! and every value is timed by its frame's arrival unless the frame carries a time.

use std::collections::HashMap;

use super::advert::{self, Advert, AdvertData};
use super::weighing::WeighingTracker;
use super::{BleError, CscTracker, Decoded, VendorModel, decode_characteristic_str};
use crate::model::{DeviceId, Measurement, Metric, Reading, SourceKind};

/// Per-device settings a frame decoder needs.
#[derive(Clone, Debug, Default)]
pub struct DeviceProfile {
    /// Vendor layout for SIG UUIDs the vendor reuses.
    pub model: Option<VendorModel>,
    /// Wheel circumference for CSC speed, mm (default 2105, a 700x25c tyre).
    pub wheel_circumference_mm: Option<u32>,
}

/// Turns frames into readings, remembering what consecutive frames need.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    profiles: HashMap<DeviceId, DeviceProfile>,
    csc: HashMap<DeviceId, CscTracker>,
    weighings: HashMap<DeviceId, WeighingTracker>,
}

impl FrameDecoder {
    /// A decoder with per-device profiles (others get the defaults).
    pub fn new(profiles: HashMap<DeviceId, DeviceProfile>) -> Self {
        FrameDecoder {
            profiles,
            ..FrameDecoder::default()
        }
    }

    /// Decodes one notification (or read value) of `uuid` from `device`.
    pub fn characteristic(
        &mut self,
        device: &DeviceId,
        uuid: &str,
        bytes: &[u8],
        received_ms: i64,
    ) -> Result<Reading, BleError> {
        let profile = self.profiles.get(device).cloned().unwrap_or_default();
        let decoded = decode_characteristic_str(uuid, bytes, profile.model)?;
        let measurements = match &decoded {
            Decoded::Csc(frame) => {
                let wheel = profile.wheel_circumference_mm.unwrap_or(2105);
                let tracker = self
                    .csc
                    .entry(device.clone())
                    .or_insert_with(|| CscTracker::new(wheel));
                let update = tracker.push(frame);
                let mut out = Vec::new();
                if let Some(v) = update.speed_m_s {
                    out.push(Measurement::gauge(Metric::Speed, v));
                }
                if let Some(v) = update.cadence_rpm {
                    out.push(Measurement::gauge(Metric::Cadence, v));
                }
                if let Some(v) = update.distance_m.filter(|d| *d > 0.0) {
                    out.push(Measurement::gauge(Metric::Distance, v));
                }
                out
            }
            Decoded::XiaomiScale(frame) => self.weigh(device, frame),
            other => other.measurements(),
        };
        let mut reading = Reading::new(device.clone(), SourceKind::Ble, received_ms);
        reading.measurements = measurements;
        Ok(reading)
    }

    /// One weight per weighing, however many frames the scale sends.
    fn weigh(&mut self, device: &DeviceId, frame: &super::XiaomiScaleFrame) -> Vec<Measurement> {
        self.weighings
            .entry(device.clone())
            .or_default()
            .push(frame)
    }

    /// Decodes one advertisement heard from `device` (a device seen, possibly
    /// with values).
    pub fn advert(
        &mut self,
        device: &DeviceId,
        adv: &Advert,
        received_ms: i64,
    ) -> Result<Reading, BleError> {
        let mut reading = Reading::new(device.clone(), SourceKind::Ble, received_ms);
        reading.name = adv.name.clone();
        reading.rssi = adv.rssi;
        if let Some(decoded) = advert::decode_advert(adv)? {
            reading.model = Some(decoded.model.clone());
            reading.measurements = match &decoded.data {
                AdvertData::XiaomiScale(frame) => self.weigh(device, frame),
                _ => decoded.measurements(),
            };
        }
        Ok(reading)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csc_speed_needs_two_frames() {
        let mut d = FrameDecoder::default();
        let dev = DeviceId::parse("AA:BB:CC:DD:EE:10").unwrap();
        // wheel revs 100 at 1024/1024 s, then 102 at 2048/1024 s: 2 revs in 1 s.
        let first = d
            .characteristic(&dev, "2a5b", &[0x01, 100, 0, 0, 0, 0x00, 0x04], 0)
            .unwrap();
        assert!(first.measurements.is_empty());
        let second = d
            .characteristic(&dev, "2a5b", &[0x01, 102, 0, 0, 0, 0x00, 0x08], 1000)
            .unwrap();
        let speed = second
            .measurements
            .iter()
            .find(|m| m.metric == Metric::Speed)
            .unwrap();
        assert!((speed.value - 2.0 * 2.105).abs() < 1e-9);
    }

    #[test]
    fn errors_are_reasons_not_panics() {
        let mut d = FrameDecoder::default();
        let dev = DeviceId::parse("x").unwrap();
        assert!(d.characteristic(&dev, "2a37", &[], 0).is_err());
        assert!(d.characteristic(&dev, "zzzz", &[1, 2], 0).is_err());
    }
}
