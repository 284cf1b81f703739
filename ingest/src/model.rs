//! The words every source speaks: metrics, measurements, readings and device ids.
//!
//! A *reading* is what a source said, as received; each reading carries one or more
//! *measurements*, and the pipeline turns measurements into one-scalar *samples*.
//! Decoders only build these types; they never touch the store or the network.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One kind of scalar we keep, each with a single fixed unit.
///
/// The registry is open: a new metric is a new variant here plus a row in the store's
/// `metric` table (a migration), nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Heart rate in beats per minute (`bpm`).
    HeartRate,
    /// One beat-to-beat (RR) interval in milliseconds (`ms`).
    RrInterval,
    /// Heart-rate variability as RMSSD over a window, in milliseconds (`ms`).
    HrvRmssd,
    /// Resting heart rate for a local day in beats per minute (`bpm`).
    RestingHeartRate,
    /// Steps taken (`count`), stored as increments, never as running totals.
    Steps,
    /// Active energy burned in kilocalories (`kcal`), stored as increments.
    ActiveEnergy,
    /// Basal (resting) energy burned in kilocalories (`kcal`), stored as increments.
    BasalEnergy,
    /// Distance covered in metres (`m`), stored as increments.
    Distance,
    /// Instantaneous speed in metres per second (`m/s`).
    Speed,
    /// Cadence in revolutions or steps per minute (`rpm`).
    Cadence,
    /// Body weight in kilograms (`kg`).
    Weight,
    /// Body fat as a percentage of weight (`%`).
    BodyFat,
    /// Muscle mass in kilograms (`kg`).
    MuscleMass,
    /// Body mass index (`kg/m2`).
    Bmi,
    /// Body impedance in ohms (`ohm`).
    Impedance,
    /// Systolic blood pressure in millimetres of mercury (`mmHg`).
    BloodPressureSystolic,
    /// Diastolic blood pressure in millimetres of mercury (`mmHg`).
    BloodPressureDiastolic,
    /// Mean arterial pressure in millimetres of mercury (`mmHg`).
    BloodPressureMean,
    /// Pulse rate reported by a cuff or oximeter in beats per minute (`bpm`).
    PulseRate,
    /// Blood oxygen saturation (`%`).
    Spo2,
    /// Body temperature in degrees Celsius (`degC`).
    BodyTemperature,
    /// Device battery level (`%`).
    Battery,
}

/// How a metric's samples combine over a span of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregation {
    /// Amounts that add up (steps, energy, distance): the day's figure is the sum.
    Sum,
    /// Levels (heart rate, weight): a span is described by min, mean and max.
    Level,
}

impl Metric {
    /// Every metric, in registry order.
    pub const ALL: [Metric; 22] = [
        Metric::HeartRate,
        Metric::RrInterval,
        Metric::HrvRmssd,
        Metric::RestingHeartRate,
        Metric::Steps,
        Metric::ActiveEnergy,
        Metric::BasalEnergy,
        Metric::Distance,
        Metric::Speed,
        Metric::Cadence,
        Metric::Weight,
        Metric::BodyFat,
        Metric::MuscleMass,
        Metric::Bmi,
        Metric::Impedance,
        Metric::BloodPressureSystolic,
        Metric::BloodPressureDiastolic,
        Metric::BloodPressureMean,
        Metric::PulseRate,
        Metric::Spo2,
        Metric::BodyTemperature,
        Metric::Battery,
    ];

    /// The stable name used in the store, the API, MQTT payloads and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::HeartRate => "heart_rate",
            Metric::RrInterval => "rr_interval",
            Metric::HrvRmssd => "hrv_rmssd",
            Metric::RestingHeartRate => "resting_heart_rate",
            Metric::Steps => "steps",
            Metric::ActiveEnergy => "active_energy",
            Metric::BasalEnergy => "basal_energy",
            Metric::Distance => "distance",
            Metric::Speed => "speed",
            Metric::Cadence => "cadence",
            Metric::Weight => "weight",
            Metric::BodyFat => "body_fat",
            Metric::MuscleMass => "muscle_mass",
            Metric::Bmi => "bmi",
            Metric::Impedance => "impedance",
            Metric::BloodPressureSystolic => "blood_pressure_systolic",
            Metric::BloodPressureDiastolic => "blood_pressure_diastolic",
            Metric::BloodPressureMean => "blood_pressure_mean",
            Metric::PulseRate => "pulse_rate",
            Metric::Spo2 => "spo2",
            Metric::BodyTemperature => "body_temperature",
            Metric::Battery => "battery",
        }
    }

    /// The unit every sample of this metric is stored in (UCUM-like spelling).
    pub fn unit(self) -> &'static str {
        match self {
            Metric::HeartRate | Metric::RestingHeartRate | Metric::PulseRate => "bpm",
            Metric::RrInterval | Metric::HrvRmssd => "ms",
            Metric::Steps => "count",
            Metric::ActiveEnergy | Metric::BasalEnergy => "kcal",
            Metric::Distance => "m",
            Metric::Speed => "m/s",
            Metric::Cadence => "rpm",
            Metric::Weight | Metric::MuscleMass => "kg",
            Metric::BodyFat | Metric::Spo2 | Metric::Battery => "%",
            Metric::Bmi => "kg/m2",
            Metric::Impedance => "ohm",
            Metric::BloodPressureSystolic
            | Metric::BloodPressureDiastolic
            | Metric::BloodPressureMean => "mmHg",
            Metric::BodyTemperature => "degC",
        }
    }

    /// Whether samples of this metric add up over time or describe a level.
    pub fn aggregation(self) -> Aggregation {
        match self {
            Metric::Steps | Metric::ActiveEnergy | Metric::BasalEnergy | Metric::Distance => {
                Aggregation::Sum
            }
            _ => Aggregation::Level,
        }
    }

    /// Looks a metric up by its stable name.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a measured value relates to the ones before it from the same source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// The value stands alone (a heart rate, a weight, an increment of steps).
    #[default]
    Gauge,
    /// A running total that the device resets (at midnight, on reboot); the pipeline
    /// turns it into increments and detects the resets.
    Cumulative,
}

/// An instant in UTC with millisecond precision, and the UTC offset it was
/// written with when the source said so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Instant {
    /// Milliseconds since the Unix epoch, UTC.
    pub utc_ms: i64,
    /// The source's own UTC offset in seconds, when it stated one.
    pub offset_s: Option<i32>,
}

impl Instant {
    /// An instant without a known original offset.
    pub fn from_ms(utc_ms: i64) -> Self {
        Instant {
            utc_ms,
            offset_s: None,
        }
    }
}

/// One scalar value a source reported, in our unit for its metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// What was measured.
    pub metric: Metric,
    /// The value in `metric.unit()`.
    pub value: f64,
    /// The device's own time stamp, when the frame carried one; otherwise the
    /// pipeline uses the time of receipt.
    pub at: Option<Instant>,
    /// Whether the value is a stand-alone value or a running total.
    #[serde(default)]
    pub kind: ValueKind,
}

impl Measurement {
    /// A stand-alone value timed by receipt.
    pub fn gauge(metric: Metric, value: f64) -> Self {
        Measurement {
            metric,
            value,
            at: None,
            kind: ValueKind::Gauge,
        }
    }

    /// A stand-alone value with the device's own time stamp.
    pub fn gauge_at(metric: Metric, value: f64, at: Instant) -> Self {
        Measurement {
            at: Some(at),
            ..Measurement::gauge(metric, value)
        }
    }

    /// A running total (for example a band's steps since midnight).
    pub fn cumulative(metric: Metric, value: f64) -> Self {
        Measurement {
            kind: ValueKind::Cumulative,
            ..Measurement::gauge(metric, value)
        }
    }
}

/// The kind of path a reading took to reach us; decides source priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Our own Bluetooth LE connection or scan.
    Ble,
    /// A BLE-to-MQTT gateway (Theengs, OpenMQTTGateway).
    Gateway,
    /// A phone exporter (Health Auto Export) or the native JSON format.
    Phone,
    /// A file import.
    Import,
}

impl SourceKind {
    /// The stable name used in the store and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Ble => "ble",
            SourceKind::Gateway => "gateway",
            SourceKind::Phone => "phone",
            SourceKind::Import => "import",
        }
    }

    /// Looks a source kind up by its stable name.
    pub fn from_name(name: &str) -> Option<SourceKind> {
        [
            SourceKind::Ble,
            SourceKind::Gateway,
            SourceKind::Phone,
            SourceKind::Import,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// Default priority: a lower number wins when two sources cover one minute.
    pub fn default_priority(self) -> i32 {
        match self {
            SourceKind::Ble => 10,
            SourceKind::Gateway => 20,
            SourceKind::Phone => 30,
            SourceKind::Import => 40,
        }
    }
}

/// A device id in its one canonical spelling.
///
/// MAC-like ids (`aabbccddeeff`, `AA-BB-CC-DD-EE-FF`, `aa:bb:…`) become upper-case
/// colon form, so that a strap heard directly and through a gateway is one device.
/// Other ids (a phone exporter's name) are kept as given, trimmed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(String);

impl DeviceId {
    /// Normalises `raw` into a device id; `None` when it is empty or too long.
    pub fn parse(raw: &str) -> Option<DeviceId> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 128 || raw.chars().any(char::is_control) {
            return None;
        }
        Some(DeviceId(
            normalise_mac(raw).unwrap_or_else(|| raw.to_string()),
        ))
    }

    /// The canonical spelling.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this id is a Bluetooth MAC address.
    pub fn is_mac(&self) -> bool {
        normalise_mac(&self.0).is_some()
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn normalise_mac(raw: &str) -> Option<String> {
    let hex: Vec<u8> = raw.bytes().filter(|b| !matches!(b, b':' | b'-')).collect();
    let separators = raw.len() - hex.len();
    if hex.len() != 12 || !(separators == 0 || separators == 5) {
        return None;
    }
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut out = String::with_capacity(17);
    for (i, pair) in hex.chunks(2).enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(pair[0].to_ascii_uppercase() as char);
        out.push(pair[1].to_ascii_uppercase() as char);
    }
    Some(out)
}

/// What one source said at one moment about one device.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reading {
    /// The device that produced the values.
    pub device: DeviceId,
    /// The path the reading took.
    pub source: SourceKind,
    /// A finer source name inside the path (a gateway's name, the app's `source`
    /// string); part of the sample key so two sub-sources never overwrite each other.
    pub sub_source: String,
    /// When we received it, in UTC milliseconds.
    pub received_ms: i64,
    /// What the device calls itself, if it said.
    pub name: Option<String>,
    /// The model, as a decoder recognised it.
    pub model: Option<String>,
    /// Signal strength in dBm, for radio sources.
    pub rssi: Option<i16>,
    /// The values.
    pub measurements: Vec<Measurement>,
}

impl Reading {
    /// An empty reading from `device` via `source`, received at `received_ms`.
    pub fn new(device: DeviceId, source: SourceKind, received_ms: i64) -> Self {
        Reading {
            device,
            source,
            sub_source: String::new(),
            received_ms,
            name: None,
            model: None,
            rssi: None,
            measurements: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_spellings_are_one_device() {
        let a = DeviceId::parse("aabbccddeeff").unwrap();
        let b = DeviceId::parse("AA-BB-CC-DD-EE-FF").unwrap();
        let c = DeviceId::parse(" aa:bb:cc:dd:ee:ff ").unwrap();
        assert_eq!(a.as_str(), "AA:BB:CC:DD:EE:FF");
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert!(a.is_mac());
    }

    #[test]
    fn non_mac_ids_are_kept() {
        assert_eq!(
            DeviceId::parse("hae:iphone").unwrap().as_str(),
            "hae:iphone"
        );
        assert_eq!(
            DeviceId::parse("aabbccddeef").unwrap().as_str(),
            "aabbccddeef"
        );
        assert!(DeviceId::parse("  ").is_none());
        assert!(DeviceId::parse("a\nb").is_none());
    }

    #[test]
    fn metric_names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.as_str()), Some(m));
        }
    }
}
