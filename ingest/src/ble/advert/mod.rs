//! Advertisement decoders: devices that broadcast their values, heard by our
//! own scanner or by an OpenMQTTGateway / Theengs gateway.
//!
//! Expected values follow the Theengs decoder (the gateway's own decoder), so
//! that a device heard directly and through a gateway yields the same
//! numbers.

mod bthome;
mod gateway;
mod miband;
mod sensors;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use bthome::{BTHOME_UUID, BtHomeObject, BtHomePacket, decode_bthome};
pub use gateway::{advert_from_gateway_json, gateway_device_id};
pub use miband::{MiBandAdvert, decode_miband};
pub use sensors::{AtomaxSkaleAdvert, PolarHrAdvert, XossHrAdvert};

use super::{BleError, XiaomiScaleFrame, decode_mi_scale_v1, decode_mi_scale_v2};
use crate::model::Measurement;

/// Placeholder service UUID for service data whose UUID the source did not
/// say (some gateway messages carry `servicedata` without
/// `servicedatauuid`). 0x0000 is not an assigned service UUID.
pub const UNKNOWN_SERVICE_UUID: u16 = 0x0000;

/// Xiaomi Mi Smart Scale (v1) service data UUID.
pub const MI_SCALE_V1_UUID: u16 = 0x181D;
/// Xiaomi Mi Body Composition Scale (v2) service data UUID.
pub const MI_SCALE_V2_UUID: u16 = 0x181B;
/// Xiaomi MiBeacon service data UUID (encrypted on recent devices).
pub const MIBEACON_UUID: u16 = 0xFE95;

/// One received advertisement, reduced to what the decoders use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advert {
    /// The advertised local name.
    pub name: Option<String>,
    /// Service data entries: (16-bit service UUID, bytes after the UUID).
    pub service_data: Vec<(u16, Vec<u8>)>,
    /// Manufacturer data entries: (company id, bytes after the company id).
    pub manufacturer_data: Vec<(u16, Vec<u8>)>,
    /// Signal strength in dBm.
    pub rssi: Option<i16>,
}

impl Advert {
    /// The first service data entry for `uuid`.
    pub fn service(&self, uuid: u16) -> Option<&[u8]> {
        self.service_data
            .iter()
            .find(|(u, _)| *u == uuid)
            .map(|(_, d)| d.as_slice())
    }

    /// The first manufacturer data entry of `company`.
    pub fn manufacturer(&self, company: u16) -> Option<&[u8]> {
        self.manufacturer_data
            .iter()
            .find(|(c, _)| *c == company)
            .map(|(_, d)| d.as_slice())
    }
}

/// What a recognised advertisement said.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdvertData {
    /// Mi Band / Amazfit.
    MiBand(MiBandAdvert),
    /// Xiaomi scale service data (0x181D or 0x181B).
    XiaomiScale(XiaomiScaleFrame),
    /// Polar heart-rate strap.
    PolarHr(PolarHrAdvert),
    /// XOSS X2 heart-rate strap.
    XossHr(XossHrAdvert),
    /// Atomax Skale coffee scale.
    AtomaxSkale(AtomaxSkaleAdvert),
    /// BTHome v2.
    BtHome(BtHomePacket),
}

/// A recognised advertisement with its model names (Theengs spelling).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdvertDecoded {
    /// Brand, e.g. "Xiaomi".
    pub brand: &'static str,
    /// Model name, e.g. "Mi Smart Scale".
    pub model: String,
    /// Model id, e.g. "XMTZC01HM/XMTZC04HM".
    pub model_id: String,
    /// The decoded values.
    pub data: AdvertData,
}

impl AdvertDecoded {
    /// The values in our units (see each payload struct for its rules).
    pub fn measurements(&self) -> Vec<Measurement> {
        match &self.data {
            AdvertData::MiBand(v) => v.measurements(),
            AdvertData::XiaomiScale(v) => v.measurements(),
            AdvertData::PolarHr(v) => v.measurements(),
            AdvertData::XossHr(v) => v.measurements(),
            AdvertData::AtomaxSkale(v) => v.measurements(),
            AdvertData::BtHome(v) => v.measurements(),
        }
    }
}

/// Decodes an advertisement. `Ok(None)`: no decoder recognises it. `Err`: a
/// recognised format that cannot be read (encrypted BTHome or MiBeacon, a
/// malformed frame).
pub fn decode_advert(adv: &Advert) -> Result<Option<AdvertDecoded>, BleError> {
    if let Some(data) = adv.service(BTHOME_UUID) {
        let packet = decode_bthome(data)?;
        return Ok(Some(AdvertDecoded {
            brand: "BTHome",
            model: "BTHome v2".into(),
            model_id: "BTHome".into(),
            data: AdvertData::BtHome(packet),
        }));
    }
    if let Some(data) = adv.service(MI_SCALE_V2_UUID) {
        return Ok(Some(AdvertDecoded {
            brand: "Xiaomi",
            model: "Mi Body Composition Scale".into(),
            model_id: "XMTZC02HM/XMTZC05HM".into(),
            data: AdvertData::XiaomiScale(decode_mi_scale_v2(data)?),
        }));
    }
    if let Some(data) = adv.service(MI_SCALE_V1_UUID) {
        return Ok(Some(AdvertDecoded {
            brand: "Xiaomi",
            model: "Mi Smart Scale".into(),
            model_id: "XMTZC01HM/XMTZC04HM".into(),
            data: AdvertData::XiaomiScale(decode_mi_scale_v1(data)?),
        }));
    }
    if let Some(found) = decode_miband(adv) {
        return Ok(Some(found));
    }
    if let Some(found) = sensors::decode_sensors(adv) {
        return Ok(Some(found));
    }
    if adv.service(MIBEACON_UUID).is_some() {
        return Err(BleError::Unsupported(
            "Xiaomi MiBeacon (0xFE95) service data is not decoded; recent devices \
             (e.g. Scale S400) encrypt it with a per-device bind key"
                .into(),
        ));
    }
    Ok(None)
}
