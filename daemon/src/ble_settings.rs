//! `[ble]`: the Bluetooth LE connection manager's settings, and their
//! translation into [`ManagerSettings`].

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use cohealth_ingest::ble::VendorModel;
use cohealth_ingest::ble::frames::DeviceProfile;
use cohealth_ingest::ble::manager::{Backoff, DeviceSettings, ManagerSettings};
use cohealth_ingest::model::{DeviceId, Metric};
use serde::{Deserialize, Serialize};

/// `[ble]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BleSection {
    /// Whether to use the Bluetooth radio at all.
    pub enabled: bool,
    /// How often claims are re-read and idle claimed devices retried, seconds.
    pub scan_interval_seconds: u64,
    /// How often a missing adapter is looked for again, seconds.
    pub adapter_retry_seconds: u64,
    /// Most devices connected at once.
    pub connection_limit: usize,
    /// How often the battery level is read, seconds.
    pub battery_read_seconds: u64,
    /// First reconnection delay, seconds.
    pub backoff_min_seconds: u64,
    /// Longest reconnection delay, seconds.
    pub backoff_max_seconds: u64,
    /// Longest wait for one radio operation, seconds.
    pub operation_timeout_seconds: u64,
    /// Longest wait for a batch of readings to fill, milliseconds.
    pub linger_ms: u64,
    /// Per-device settings.
    pub devices: Vec<BleDeviceSection>,
}

/// One `[[ble.devices]]` entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BleDeviceSection {
    /// Device id in any MAC spelling.
    pub id: String,
    /// Vendor layout for SIG UUIDs the vendor reuses (e.g. `MIBFS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Wheel circumference for cycling speed, mm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wheel_circumference_mm: Option<u32>,
    /// Only these metrics are kept from the device (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metric>,
}

impl Default for BleSection {
    fn default() -> Self {
        BleSection {
            enabled: true,
            scan_interval_seconds: 10,
            adapter_retry_seconds: 30,
            connection_limit: 5,
            battery_read_seconds: 3600,
            backoff_min_seconds: 2,
            backoff_max_seconds: 300,
            operation_timeout_seconds: 20,
            linger_ms: 500,
            devices: Vec::new(),
        }
    }
}

impl BleSection {
    /// The manager's settings; an unknown device id or model is an error.
    pub fn manager_settings(&self) -> anyhow::Result<ManagerSettings> {
        let seconds = |s: u64| Duration::from_secs(s.max(1));
        Ok(ManagerSettings {
            scan_interval: seconds(self.scan_interval_seconds),
            adapter_retry: seconds(self.adapter_retry_seconds),
            connection_limit: self.connection_limit,
            battery_read: seconds(self.battery_read_seconds),
            backoff: Backoff {
                min: seconds(self.backoff_min_seconds),
                max: seconds(self.backoff_max_seconds),
            },
            operation_timeout: seconds(self.operation_timeout_seconds),
            linger: Duration::from_millis(self.linger_ms),
            devices: self.devices()?,
        })
    }

    fn devices(&self) -> anyhow::Result<HashMap<DeviceId, DeviceSettings>> {
        self.devices
            .iter()
            .map(|d| {
                let id = DeviceId::parse(&d.id)
                    .with_context(|| format!("ble.devices: bad device id `{}`", d.id))?;
                let model = match &d.model {
                    Some(m) => Some(
                        VendorModel::parse(m)
                            .with_context(|| format!("ble.devices: unknown model `{m}`"))?,
                    ),
                    None => None,
                };
                let profile = DeviceProfile {
                    model,
                    wheel_circumference_mm: d.wheel_circumference_mm,
                };
                let settings = DeviceSettings {
                    profile,
                    metrics: d.metrics.clone(),
                };
                Ok((id, settings))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_checked_and_normalised() {
        let mut s = BleSection::default();
        s.devices.push(BleDeviceSection {
            id: "aa-bb-cc-dd-ee-ff".into(),
            model: Some("MIBFS".into()),
            wheel_circumference_mm: Some(2096),
            metrics: vec![Metric::HeartRate],
        });
        let m = s.manager_settings().unwrap();
        let d = &m.devices[&DeviceId::parse("AA:BB:CC:DD:EE:FF").unwrap()];
        assert_eq!(d.profile.wheel_circumference_mm, Some(2096));
        assert!(d.profile.model.is_some());

        s.devices[0].model = Some("toaster".into());
        assert!(
            s.manager_settings()
                .unwrap_err()
                .to_string()
                .contains("toaster")
        );
    }
}
