//! Mi Band / Amazfit advertisements.
//!
//! Layout per the Theengs decoder: manufacturer data of Xiaomi/Huami
//! (company 0x0157), 24 bytes after the company id, with the band's MAC in
//! the last 6 bytes. When the first byte is 0x02 the fourth byte is the
//! activity heart rate (a value whose high nibble is 0xF, e.g. 0xFF, means
//! absent); newer firmware sends an opaque payload instead. Service data
//! 0xFEE0 of 4 bytes is the step count since midnight (uint32 LE).

use serde::Serialize;

use super::{Advert, AdvertData, AdvertDecoded, UNKNOWN_SERVICE_UUID};
use crate::model::{Measurement, Metric};

/// Huami / Xiaomi Wearables company id.
pub const HUAMI_COMPANY_ID: u16 = 0x0157;
/// Mi Band step-count service.
pub const MIBAND_STEPS_UUID: u16 = 0xFEE0;

/// A decoded Mi Band / Amazfit advertisement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MiBandAdvert {
    /// Steps since local midnight (a running total the band resets daily).
    pub steps: Option<u32>,
    /// Activity heart rate in `bpm`, when the band reports one.
    pub act_bpm: Option<u8>,
    /// The band's MAC as embedded in the payload.
    pub mac: String,
}

/// Recognises a Mi Band / Amazfit advertisement.
pub fn decode_miband(adv: &Advert) -> Option<AdvertDecoded> {
    let mfg = adv.manufacturer(HUAMI_COMPANY_ID)?;
    if mfg.len() != 24 {
        return None;
    }
    let mac_bytes = mfg.get(18..24)?;
    let mac = mac_bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let act_bpm = match (mfg.first(), mfg.get(3)) {
        (Some(0x02), Some(&hr)) if hr >> 4 != 0xF => Some(hr),
        _ => None,
    };
    let steps = adv
        .service(MIBAND_STEPS_UUID)
        .or_else(|| adv.service(UNKNOWN_SERVICE_UUID))
        .and_then(|d| <[u8; 4]>::try_from(d).ok())
        .map(u32::from_le_bytes);
    Some(AdvertDecoded {
        brand: "Xiaomi/Amazfit",
        model: "Mi Band/Smart Watch".into(),
        model_id: "MB/SW".into(),
        data: AdvertData::MiBand(MiBandAdvert {
            steps,
            act_bpm,
            mac,
        }),
    })
}

impl MiBandAdvert {
    /// Steps as a cumulative daily count and the activity heart rate (`bpm`).
    pub fn measurements(&self) -> Vec<Measurement> {
        let mut out = Vec::new();
        if let Some(s) = self.steps {
            out.push(Measurement::cumulative(Metric::Steps, f64::from(s)));
        }
        if let Some(hr) = self.act_bpm.filter(|&hr| hr > 0) {
            out.push(Measurement::gauge(Metric::HeartRate, f64::from(hr)));
        }
        out
    }
}
