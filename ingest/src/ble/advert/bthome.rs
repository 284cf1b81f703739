//! BTHome v2 (service data 0xFCD2), unencrypted.
//!
//! Byte 0 is device information (bit 0 encrypted, bit 2 trigger-based,
//! bits 5–7 version = 2). Then objects follow: an id byte and a value whose
//! size and factor the id fixes (table from bthome.io/format). Objects are
//! little-endian. An unknown id ends parsing (its length is unknown); the
//! objects before it are kept and `unknown_object_id` says where it stopped.
//!
//! Only battery and mass become measurements: BTHome temperatures are
//! usually room sensors (not body temperature) and BTHome counts are generic
//! (not steps), so those stay in the decoded objects only. BTHome defines no
//! heart-rate object.

use serde::Serialize;

use crate::ble::reader::Reader;
use crate::ble::{BleError, LB_TO_KG};
use crate::model::{Measurement, Metric};

/// BTHome service data UUID.
pub const BTHOME_UUID: u16 = 0xFCD2;

/// One BTHome object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BtHomeObject {
    /// The object id.
    pub id: u8,
    /// Its property name (bthome.io spelling), e.g. "temperature".
    pub name: &'static str,
    /// Unit, e.g. "°C", "kg", "%"; empty when unit-less.
    pub unit: &'static str,
    /// The value scaled by the object's factor (text/raw objects: length).
    pub value: f64,
}

/// A decoded BTHome v2 packet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BtHomePacket {
    /// The device information byte.
    pub device_info: u8,
    /// Whether the device sends only on events.
    pub trigger_based: bool,
    /// Objects in the order sent.
    pub objects: Vec<BtHomeObject>,
    /// The id at which parsing stopped, if it was unknown.
    pub unknown_object_id: Option<u8>,
}

#[derive(Clone, Copy)]
enum Kind {
    U(usize),
    S(usize),
    /// Length-prefixed (text, raw).
    Bytes,
}

/// (id, name, unit, kind, factor)
fn spec(id: u8) -> Option<(&'static str, &'static str, Kind, f64)> {
    use Kind::*;
    Some(match id {
        0x00 => ("packet_id", "", U(1), 1.0),
        0x01 => ("battery", "%", U(1), 1.0),
        0x02 => ("temperature", "°C", S(2), 0.01),
        0x03 => ("humidity", "%", U(2), 0.01),
        0x04 => ("pressure", "hPa", U(3), 0.01),
        0x05 => ("illuminance", "lx", U(3), 0.01),
        0x06 => ("mass", "kg", U(2), 0.01),
        0x07 => ("mass", "lb", U(2), 0.01),
        0x08 => ("dewpoint", "°C", S(2), 0.01),
        0x09 => ("count", "", U(1), 1.0),
        0x0A => ("energy", "kWh", U(3), 0.001),
        0x0B => ("power", "W", U(3), 0.01),
        0x0C => ("voltage", "V", U(2), 0.001),
        0x0D => ("pm2.5", "µg/m³", U(2), 1.0),
        0x0E => ("pm10", "µg/m³", U(2), 1.0),
        0x0F..=0x11 | 0x15..=0x2D => ("binary", "", U(1), 1.0),
        0x12 => ("co2", "ppm", U(2), 1.0),
        0x13 => ("tvoc", "µg/m³", U(2), 1.0),
        0x14 => ("moisture", "%", U(2), 0.01),
        0x2E => ("humidity", "%", U(1), 1.0),
        0x2F => ("moisture", "%", U(1), 1.0),
        0x3A => ("button", "", U(1), 1.0),
        0x3C => ("dimmer", "", U(2), 1.0),
        0x3D => ("count", "", U(2), 1.0),
        0x3E => ("count", "", U(4), 1.0),
        0x3F => ("rotation", "°", S(2), 0.1),
        0x40 => ("distance", "mm", U(2), 1.0),
        0x41 => ("distance", "m", U(2), 0.1),
        0x42 => ("duration", "s", U(3), 0.001),
        0x43 => ("current", "A", U(2), 0.001),
        0x44 => ("speed", "m/s", U(2), 0.01),
        0x45 => ("temperature", "°C", S(2), 0.1),
        0x46 => ("uv_index", "", U(1), 0.1),
        0x47 => ("volume", "L", U(2), 0.1),
        0x48 => ("volume", "mL", U(2), 1.0),
        0x49 => ("volume_flow_rate", "m³/h", U(2), 0.001),
        0x4A => ("voltage", "V", U(2), 0.1),
        0x4B => ("gas", "m³", U(3), 0.001),
        0x4C => ("gas", "m³", U(4), 0.001),
        0x4D => ("energy", "kWh", U(4), 0.001),
        0x4E => ("volume", "L", U(4), 0.001),
        0x4F => ("water", "L", U(4), 0.001),
        0x50 => ("timestamp", "s", U(4), 1.0),
        0x51 => ("acceleration", "m/s²", U(2), 0.001),
        0x52 => ("gyroscope", "°/s", U(2), 0.001),
        0x53 => ("text", "", Bytes, 1.0),
        0x54 => ("raw", "", Bytes, 1.0),
        0x55 => ("volume_storage", "L", U(4), 0.001),
        0x56 => ("conductivity", "µS/cm", U(2), 1.0),
        0x57 => ("temperature", "°C", S(1), 1.0),
        0x58 => ("temperature", "°C", S(1), 0.35),
        0x59 => ("count", "", S(1), 1.0),
        0x5A => ("count", "", S(2), 1.0),
        0x5B => ("count", "", S(4), 1.0),
        0x5C => ("power", "W", S(4), 0.01),
        0x5D => ("current", "A", S(2), 0.001),
        0x5E => ("direction", "°", U(2), 0.01),
        0x5F => ("precipitation", "mm", U(2), 0.1),
        0x60 => ("channel", "", U(1), 1.0),
        0x61 => ("rotational_speed", "rpm", U(2), 1.0),
        0xF0 => ("device_type_id", "", U(2), 1.0),
        0xF1 => ("firmware_version", "", U(4), 1.0),
        0xF2 => ("firmware_version", "", U(3), 1.0),
        _ => return None,
    })
}

fn read_int(r: &mut Reader<'_>, len: usize, signed: bool) -> Result<f64, BleError> {
    let b = r.take(len, "bthome object value")?;
    let mut buf = [0u8; 8];
    buf[..len].copy_from_slice(b);
    let u = u64::from_le_bytes(buf);
    Ok(if signed {
        let shift = 64 - 8 * len as u32;
        ((u << shift) as i64 >> shift) as f64
    } else {
        u as f64
    })
}

/// Decodes BTHome v2 service data (the bytes after the 0xFCD2 UUID).
pub fn decode_bthome(bytes: &[u8]) -> Result<BtHomePacket, BleError> {
    let mut r = Reader::new(bytes);
    let device_info = r.u8("bthome device information")?;
    if device_info & 0x01 != 0 {
        return Err(BleError::Encrypted(
            "BTHome packet is encrypted (AES-CCM); no bind key configured".into(),
        ));
    }
    let version = device_info >> 5;
    if version != 2 {
        return Err(BleError::BadFrame {
            what: "BTHome v2",
            reason: format!("version {version}"),
        });
    }
    let mut objects = Vec::new();
    let mut unknown_object_id = None;
    while r.remaining() > 0 {
        let id = r.u8("bthome object id")?;
        let Some((name, unit, kind, factor)) = spec(id) else {
            unknown_object_id = Some(id);
            break;
        };
        let raw = match kind {
            Kind::U(n) => read_int(&mut r, n, false)?,
            Kind::S(n) => read_int(&mut r, n, true)?,
            Kind::Bytes => {
                let n = r.u8("bthome object length")?;
                r.take(usize::from(n), "bthome object bytes")?;
                f64::from(n)
            }
        };
        let value = if factor == 1.0 {
            raw
        } else if factor < 1.0 && (1.0 / factor).fract() == 0.0 {
            raw / (1.0 / factor)
        } else {
            raw * factor
        };
        objects.push(BtHomeObject {
            id,
            name,
            unit,
            value,
        });
    }
    Ok(BtHomePacket {
        device_info,
        trigger_based: device_info & 0x04 != 0,
        objects,
        unknown_object_id,
    })
}

impl BtHomePacket {
    /// The first object with this id.
    pub fn object(&self, id: u8) -> Option<&BtHomeObject> {
        self.objects.iter().find(|o| o.id == id)
    }

    /// Battery (`%`, 0–100) and mass as body weight (`kg`).
    pub fn measurements(&self) -> Vec<Measurement> {
        let mut out = Vec::new();
        for o in &self.objects {
            match o.id {
                0x01 if o.value <= 100.0 => out.push(Measurement::gauge(Metric::Battery, o.value)),
                0x06 => out.push(Measurement::gauge(Metric::Weight, o.value)),
                0x07 => out.push(Measurement::gauge(Metric::Weight, o.value * LB_TO_KG)),
                _ => {}
            }
        }
        out
    }
}
