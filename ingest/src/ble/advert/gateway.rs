//! Reading the raw advertisement a BLE-to-MQTT gateway publishes on
//! `home/<gateway>/BTtoMQTT/undecoded` (OpenMQTTGateway, Theengs Gateway).
//!
//! Shape: `{"id": "AA:BB:..", "name": "..", "rssi": -60, "servicedata":
//! "<hex>", "servicedatauuid": "0x181d", "manufacturerdata": "<hex>"}` where
//! the manufacturer hex starts with the company id, little-endian. Decoded
//! fields the gateway may have added (`weight`, `model`, …) are ignored: we
//! decode the raw bytes ourselves.

use serde_json::Value;

use super::{Advert, UNKNOWN_SERVICE_UUID};
use crate::ble::{BleError, decode_hex, parse_uuid16};
use crate::model::DeviceId;

fn str_field<'a>(v: &'a Value, key: &str) -> Result<Option<&'a str>, BleError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(other) => Err(BleError::BadJson(format!(
            "`{key}` is not a string: {other}"
        ))),
    }
}

/// Builds an [`Advert`] from a gateway's raw JSON message.
pub fn advert_from_gateway_json(v: &Value) -> Result<Advert, BleError> {
    if !v.is_object() {
        return Err(BleError::BadJson("message is not a JSON object".into()));
    }
    let mut adv = Advert {
        name: str_field(v, "name")?.map(str::to_string),
        ..Advert::default()
    };
    adv.rssi = match v.get("rssi") {
        None | Some(Value::Null) => None,
        Some(r) => Some(
            r.as_i64()
                .and_then(|x| i16::try_from(x).ok())
                .ok_or_else(|| BleError::BadJson(format!("`rssi` is not a dBm integer: {r}")))?,
        ),
    };
    if let Some(hex) = str_field(v, "servicedata")? {
        let uuid = match str_field(v, "servicedatauuid")? {
            Some(u) => parse_uuid16(u)
                .ok_or_else(|| BleError::BadJson(format!("bad `servicedatauuid` {u:?}")))?,
            None => UNKNOWN_SERVICE_UUID,
        };
        adv.service_data.push((uuid, decode_hex(hex)?));
    }
    if let Some(hex) = str_field(v, "manufacturerdata")? {
        let bytes = decode_hex(hex)?;
        match bytes.as_slice() {
            [lo, hi, rest @ ..] => adv
                .manufacturer_data
                .push((u16::from_le_bytes([*lo, *hi]), rest.to_vec())),
            _ => {
                return Err(BleError::BadJson(
                    "`manufacturerdata` shorter than its 2-byte company id".into(),
                ));
            }
        }
    }
    Ok(adv)
}

/// The device id a gateway message names in `id` (usually the MAC).
pub fn gateway_device_id(v: &Value) -> Option<DeviceId> {
    v.get("id")
        .and_then(Value::as_str)
        .and_then(DeviceId::parse)
}
