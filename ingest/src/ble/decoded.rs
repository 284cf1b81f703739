//! The single entry point for GATT notifications: route by characteristic
//! UUID (and device model for vendor layouts), never by payload shape.

use serde::Serialize;

use super::*;
use crate::model::Measurement;

/// Any decoded characteristic value; serialises with a `"type"` tag for
/// `cohealth ble decode`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Decoded {
    /// 0x2A37.
    HeartRate(HeartRateMeasurement),
    /// 0x2A38.
    BodySensorLocation {
        /// The location.
        location: BodySensorLocation,
    },
    /// 0x2A19.
    Battery(BatteryLevel),
    /// 0x2A53.
    Rsc(RscMeasurement),
    /// 0x2A5B.
    Csc(CscMeasurement),
    /// 0x2A9D.
    Weight(WeightMeasurement),
    /// 0x2A9C, standard layout.
    BodyComposition(BodyCompositionMeasurement),
    /// 0x2A35.
    BloodPressure(BloodPressureMeasurement),
    /// 0x2A1C.
    Temperature(TemperatureMeasurement),
    /// 0x2A5E.
    PlxSpotCheck(PlxSpotCheck),
    /// 0x2A5F.
    PlxContinuous(PlxContinuous),
    /// Xiaomi scale layout on 0x2A9D / 0x2A9C.
    XiaomiScale(XiaomiScaleFrame),
    /// Soehnle vendor characteristic.
    Soehnle(SoehnleMeasurement),
}

impl Decoded {
    /// The value's measurements in our units (see each struct).
    pub fn measurements(&self) -> Vec<Measurement> {
        match self {
            Decoded::HeartRate(v) => v.measurements(),
            Decoded::BodySensorLocation { .. } => Vec::new(),
            Decoded::Battery(v) => v.measurements(),
            Decoded::Rsc(v) => v.measurements(),
            Decoded::Csc(v) => v.measurements(),
            Decoded::Weight(v) => v.measurements(),
            Decoded::BodyComposition(v) => v.measurements(),
            Decoded::BloodPressure(v) => v.measurements(),
            Decoded::Temperature(v) => v.measurements(),
            Decoded::PlxSpotCheck(v) => v.measurements(),
            Decoded::PlxContinuous(v) => v.measurements(),
            Decoded::XiaomiScale(v) => v.measurements(),
            Decoded::Soehnle(v) => v.measurements(),
        }
    }
}

/// Decodes one notification or read value of the 16-bit characteristic
/// `uuid`. `model` selects vendor layouts that reuse SIG UUIDs.
pub fn decode_characteristic(
    uuid: u16,
    bytes: &[u8],
    model: Option<VendorModel>,
) -> Result<Decoded, BleError> {
    use VendorModel::*;
    Ok(match (uuid, model) {
        (0x2A37, _) => Decoded::HeartRate(decode_heart_rate(bytes)?),
        (0x2A38, _) => Decoded::BodySensorLocation {
            location: decode_body_sensor_location(bytes)?,
        },
        (0x2A19, _) => Decoded::Battery(decode_battery(bytes)?),
        (0x2A53, _) => Decoded::Rsc(decode_rsc(bytes)?),
        (0x2A5B, _) => Decoded::Csc(decode_csc(bytes)?),
        (0x2A9D, Some(XiaomiMiScale)) => Decoded::XiaomiScale(decode_mi_scale_v1(bytes)?),
        (0x2A9D, _) => Decoded::Weight(decode_weight(bytes)?),
        (0x2A9C, Some(XiaomiMiBodyCompositionScale)) => {
            Decoded::XiaomiScale(decode_mi_scale_v2(bytes)?)
        }
        (0x2A9C, _) => Decoded::BodyComposition(decode_body_composition(bytes)?),
        (0x2A35, _) => Decoded::BloodPressure(decode_blood_pressure(bytes)?),
        (0x2A1C, _) => Decoded::Temperature(decode_temperature(bytes)?),
        (0x2A5E, _) => Decoded::PlxSpotCheck(decode_plx_spot_check(bytes)?),
        (0x2A5F, _) => Decoded::PlxContinuous(decode_plx_continuous(bytes)?),
        (other, _) => return Err(BleError::UnsupportedCharacteristic(other)),
    })
}

/// Like [`decode_characteristic`] but takes the UUID as text, so that vendor
/// 128-bit characteristics (Soehnle) can be named too.
pub fn decode_characteristic_str(
    uuid: &str,
    bytes: &[u8],
    model: Option<VendorModel>,
) -> Result<Decoded, BleError> {
    if uuid.trim().eq_ignore_ascii_case(SOEHNLE_MEASUREMENT_UUID) {
        return Ok(Decoded::Soehnle(decode_soehnle(bytes)?));
    }
    let short = parse_uuid16(uuid).ok_or_else(|| BleError::BadUuid(uuid.to_string()))?;
    decode_characteristic(short, bytes, model)
}

/// The Bluetooth base UUID suffix shared by all 16-bit SIG UUIDs.
const BASE_SUFFIX: &str = "-0000-1000-8000-00805f9b34fb";

/// Parses a 16-bit UUID written as `2a37`, `0x2A37` or the full 128-bit
/// `00002a37-0000-1000-8000-00805f9b34fb`. `None` for anything else.
pub fn parse_uuid16(s: &str) -> Option<u16> {
    let s = s.trim();
    let lower = s.to_ascii_lowercase();
    let hex = if let Some(prefix) = lower.strip_suffix(BASE_SUFFIX) {
        prefix.strip_prefix("0000")?.to_string()
    } else {
        lower
            .strip_prefix("0x")
            .unwrap_or(lower.as_str())
            .to_string()
    };
    if hex.len() != 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(&hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_spellings() {
        assert_eq!(parse_uuid16("2a37"), Some(0x2A37));
        assert_eq!(parse_uuid16("0x2A37"), Some(0x2A37));
        assert_eq!(parse_uuid16(" 0X181d "), Some(0x181D));
        assert_eq!(
            parse_uuid16("00002a37-0000-1000-8000-00805f9b34fb"),
            Some(0x2A37)
        );
        assert_eq!(
            parse_uuid16("00002A37-0000-1000-8000-00805F9B34FB"),
            Some(0x2A37)
        );
        assert_eq!(parse_uuid16("12342a37-0000-1000-8000-00805f9b34fb"), None);
        assert_eq!(parse_uuid16(SOEHNLE_MEASUREMENT_UUID), None);
        assert_eq!(parse_uuid16("2a3"), None);
        assert_eq!(parse_uuid16("+a37"), None);
        assert_eq!(parse_uuid16(""), None);
    }

    #[test]
    fn unknown_uuid_is_an_error() {
        assert_eq!(
            decode_characteristic(0x1234, &[0], None),
            Err(BleError::UnsupportedCharacteristic(0x1234))
        );
        assert!(matches!(
            decode_characteristic_str("zz", &[0], None),
            Err(BleError::BadUuid(_))
        ));
    }

    #[test]
    fn decoded_serialises_tagged() {
        let d = decode_characteristic(0x2A38, &[1], None).unwrap();
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["type"], "body_sensor_location");
        let d = decode_characteristic(0x2A19, &[0x64], None).unwrap();
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["type"], "battery");
        assert_eq!(v["percent"], 100);
    }
}
