//! Heart-rate straps and a kitchen scale that put their value in
//! manufacturer data (layouts per the Theengs decoder).
//!
//! * Polar (company 0x006B), 4 bytes: status, kHz code, fast-average heart
//!   rate, slow-average heart rate; Theengs publishes the slow average.
//! * XOSS X2 (company 0xFF04), 4 bytes: byte 1 battery (low 7 bits), byte 3
//!   heart rate.
//! * Atomax Skale (company 0x81EF), 4 bytes: signed int32 weight in 0.1 g.
//!   A coffee scale: its weight is never a body weight.

use serde::Serialize;

use super::{Advert, AdvertData, AdvertDecoded};
use crate::model::{Measurement, Metric};

/// Polar's company id.
pub const POLAR_COMPANY_ID: u16 = 0x006B;
/// The company id XOSS straps send (not a registered one).
pub const XOSS_COMPANY_ID: u16 = 0xFF04;
/// The company id Atomax Skale sends.
pub const SKALE_COMPANY_ID: u16 = 0x81EF;

/// A Polar strap's advertised heart rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolarHrAdvert {
    /// Status byte as sent.
    pub status: u8,
    /// Fast-average heart rate in `bpm`.
    pub fast_bpm: u8,
    /// Slow-average heart rate in `bpm` (what Theengs publishes as `bpm`).
    pub bpm: u8,
}

/// An XOSS X2 strap's advertisement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct XossHrAdvert {
    /// Heart rate in `bpm`.
    pub bpm: u8,
    /// Battery in `%`.
    pub batt: u8,
}

/// An Atomax Skale advertisement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AtomaxSkaleAdvert {
    /// Weight in grams (`g`), negative after taring.
    pub weight_g: f64,
}

fn four(adv: &Advert, company: u16) -> Option<[u8; 4]> {
    adv.manufacturer(company)
        .and_then(|d| <[u8; 4]>::try_from(d).ok())
}

pub(crate) fn decode_sensors(adv: &Advert) -> Option<AdvertDecoded> {
    if let Some([status, _khz, fast, slow]) = four(adv, POLAR_COMPANY_ID) {
        let model_id = adv
            .name
            .as_deref()
            .and_then(|n| n.strip_prefix("Polar "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or("H10")
            .to_string();
        return Some(AdvertDecoded {
            brand: "Polar",
            model: "Heart Rate Sensor".into(),
            model_id,
            data: AdvertData::PolarHr(PolarHrAdvert {
                status,
                fast_bpm: fast,
                bpm: slow,
            }),
        });
    }
    if let Some([_, batt, _, bpm]) = four(adv, XOSS_COMPANY_ID) {
        return Some(AdvertDecoded {
            brand: "XOSS",
            model: "X2 Heart Rate Sensor".into(),
            model_id: "XOSSX2".into(),
            data: AdvertData::XossHr(XossHrAdvert {
                bpm,
                batt: batt & 0x7F,
            }),
        });
    }
    if let Some(raw) = four(adv, SKALE_COMPANY_ID) {
        return Some(AdvertDecoded {
            brand: "Atomax",
            model: "Skale I/II".into(),
            model_id: "SKALE".into(),
            data: AdvertData::AtomaxSkale(AtomaxSkaleAdvert {
                weight_g: f64::from(i32::from_le_bytes(raw)) / 10.0,
            }),
        });
    }
    None
}

fn heart_rate(bpm: u8) -> Option<Measurement> {
    (bpm > 0).then(|| Measurement::gauge(Metric::HeartRate, f64::from(bpm)))
}

impl PolarHrAdvert {
    /// The slow-average heart rate in `bpm` (0 means no reading).
    pub fn measurements(&self) -> Vec<Measurement> {
        heart_rate(self.bpm).into_iter().collect()
    }
}

impl XossHrAdvert {
    /// Heart rate (`bpm`, 0 means no reading) and battery (`%`, up to 100).
    pub fn measurements(&self) -> Vec<Measurement> {
        let mut out: Vec<Measurement> = heart_rate(self.bpm).into_iter().collect();
        if self.batt <= 100 {
            out.push(Measurement::gauge(Metric::Battery, f64::from(self.batt)));
        }
        out
    }
}

impl AtomaxSkaleAdvert {
    /// Nothing: a coffee scale's weight is not a body weight.
    pub fn measurements(&self) -> Vec<Measurement> {
        Vec::new()
    }
}
