//! The [`Radio`] seam on btleplug (BlueZ over the system D-Bus on Linux).
//!
//! Deliberately thin: every decision lives in [`super::manager`]. What this
//! file adds is translation: btleplug's central events into [`Sighting`]s,
//! characteristic UUIDs into the decoders' short form, and an adapter watch,
//! because btleplug reports a power-off as a state change and an unplugged
//! dongle not at all (the event stream just goes quiet).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use btleplug::api::bleuuid::BleUuid;
use btleplug::api::{
    Central, CentralEvent, CentralState, CharPropFlags, Characteristic, Manager as _,
    Peripheral as _, PeripheralProperties, ScanFilter, WriteType,
};
use btleplug::platform::{Adapter, Manager, Peripheral, PeripheralId};
use futures::stream::{BoxStream, StreamExt};
use uuid::Uuid;

use super::advert::Advert;
use super::radio::{
    CharacteristicInfo, Link, Notification, Radio, RadioError, ScanEvent, Sighting,
};
use crate::model::DeviceId;

/// How often a scanning adapter is checked for still being there and powered.
const ADAPTER_WATCH: Duration = Duration::from_secs(5);

/// The btleplug radio. Cheap to create: the D-Bus connection is opened on the
/// first [`Radio::adapters`] call and again after the stack went away.
#[derive(Default)]
pub struct BtleRadio {
    manager: tokio::sync::Mutex<Option<Manager>>,
    adapters: Mutex<HashMap<String, Adapter>>,
}

impl BtleRadio {
    /// A radio that has not touched D-Bus yet.
    pub fn new() -> Self {
        BtleRadio::default()
    }

    fn adapter(&self, name: &str) -> Result<Adapter, RadioError> {
        let adapters = self
            .adapters
            .lock()
            .map_err(|_| RadioError::Stack("poisoned".into()))?;
        adapters
            .get(name)
            .cloned()
            .ok_or_else(|| RadioError::NoAdapter(name.to_owned()))
    }
}

fn stack(e: btleplug::Error) -> RadioError {
    match e {
        btleplug::Error::NotConnected => RadioError::Disconnected,
        btleplug::Error::DeviceNotFound => RadioError::UnknownDevice(e.to_string()),
        btleplug::Error::NoSuchCharacteristic => RadioError::NoCharacteristic(e.to_string()),
        other => RadioError::Stack(other.to_string()),
    }
}

impl Radio for BtleRadio {
    type Link = BtleLink;

    async fn adapters(&self) -> Result<Vec<String>, RadioError> {
        let mut manager = self.manager.lock().await;
        if manager.is_none() {
            *manager = Some(
                Manager::new()
                    .await
                    .map_err(|e| RadioError::NoAdapter(e.to_string()))?,
            );
        }
        let Some(m) = manager.as_ref() else {
            return Err(RadioError::NoAdapter("no manager".into()));
        };
        let found = match m.adapters().await {
            Ok(found) => found,
            Err(e) => {
                // The bus or BlueZ went away: start afresh next time.
                *manager = None;
                return Err(RadioError::NoAdapter(e.to_string()));
            }
        };
        let mut named = HashMap::new();
        for adapter in found {
            let info = adapter.adapter_info().await.map_err(stack)?;
            let name = info.split_whitespace().next().unwrap_or("hci").to_owned();
            named.insert(name, adapter);
        }
        let mut names: Vec<String> = named.keys().cloned().collect();
        names.sort();
        if let Ok(mut adapters) = self.adapters.lock() {
            *adapters = named;
        }
        Ok(names)
    }

    async fn scan(&self, name: &str) -> Result<BoxStream<'static, ScanEvent>, RadioError> {
        let adapter = self.adapter(name)?;
        if adapter.adapter_state().await.map_err(stack)? == CentralState::PoweredOff {
            return Err(RadioError::NoAdapter(format!("{name} is powered off")));
        }
        let events = adapter.events().await.map_err(stack)?;
        // No service filter: bands and scales only advertise, and are heard only so.
        adapter
            .start_scan(ScanFilter::default())
            .await
            .map_err(stack)?;
        let sightings = events
            .filter_map({
                let adapter = adapter.clone();
                move |event| sighting(adapter.clone(), event)
            })
            .boxed();
        let watch = futures::stream::unfold(adapter, |adapter| async move {
            tokio::time::sleep(ADAPTER_WATCH).await;
            match adapter.adapter_state().await {
                Ok(CentralState::PoweredOn) => Some((None, adapter)),
                _ => Some((Some(ScanEvent::AdapterLost), adapter)),
            }
        })
        .filter_map(|e| async move { e })
        .boxed();
        Ok(futures::stream::select(sightings, watch).boxed())
    }

    async fn connect(&self, adapter: &str, device: &DeviceId) -> Result<BtleLink, RadioError> {
        let adapter = self.adapter(adapter)?;
        let peripheral = find(&adapter, device).await?;
        if !peripheral.is_connected().await.map_err(stack)? {
            peripheral.connect().await.map_err(stack)?;
        }
        Ok(BtleLink {
            peripheral,
            characteristics: HashMap::new(),
        })
    }
}

async fn find(adapter: &Adapter, device: &DeviceId) -> Result<Peripheral, RadioError> {
    let peripherals = adapter.peripherals().await.map_err(stack)?;
    peripherals
        .into_iter()
        .find(|p| DeviceId::parse(&p.address().to_string()).as_ref() == Some(device))
        .ok_or_else(|| RadioError::UnknownDevice(device.to_string()))
}

/// One advert-ish event as a [`Sighting`]. Service and manufacturer data are
/// taken from the event itself, never from the cached properties, so a scale's
/// old weighing is not decoded again on every RSSI update.
async fn sighting(adapter: Adapter, event: CentralEvent) -> Option<ScanEvent> {
    let (id, service_data, manufacturer_data) = match event {
        CentralEvent::StateUpdate(CentralState::PoweredOff) => return Some(ScanEvent::AdapterLost),
        CentralEvent::DeviceDiscovered(id)
        | CentralEvent::DeviceUpdated(id)
        | CentralEvent::ServicesAdvertisement { id, .. }
        | CentralEvent::RssiUpdate { id, .. } => (id, HashMap::new(), HashMap::new()),
        CentralEvent::ServiceDataAdvertisement { id, service_data } => {
            (id, service_data, HashMap::new())
        }
        CentralEvent::ManufacturerDataAdvertisement {
            id,
            manufacturer_data,
        } => (id, HashMap::new(), manufacturer_data),
        _ => return None,
    };
    let props = properties(&adapter, &id).await?;
    let device = DeviceId::parse(&props.address.to_string())?;
    let advert = Advert {
        name: props.local_name.clone(),
        service_data: service_data
            .into_iter()
            .filter_map(|(uuid, bytes)| Some((uuid.to_ble_u16()?, bytes)))
            .collect(),
        manufacturer_data: manufacturer_data.into_iter().collect(),
        rssi: props.rssi,
    };
    let services = props
        .services
        .iter()
        .filter_map(|u| u.to_ble_u16())
        .collect();
    Some(ScanEvent::Advert(Sighting {
        device,
        advert,
        services,
    }))
}

async fn properties(adapter: &Adapter, id: &PeripheralId) -> Option<PeripheralProperties> {
    let peripheral = adapter.peripheral(id).await.ok()?;
    peripheral.properties().await.ok().flatten()
}

/// The decoders' form of a UUID: `2a37` for SIG UUIDs, else the full UUID.
fn uuid_text(uuid: &Uuid) -> String {
    match uuid.to_ble_u16() {
        Some(short) => format!("{short:04x}"),
        None => uuid.to_string(),
    }
}

/// A connection to one peripheral.
pub struct BtleLink {
    peripheral: Peripheral,
    characteristics: HashMap<String, Characteristic>,
}

impl BtleLink {
    fn characteristic(&self, uuid: &str) -> Result<&Characteristic, RadioError> {
        self.characteristics
            .get(uuid)
            .ok_or_else(|| RadioError::NoCharacteristic(uuid.to_owned()))
    }
}

impl Link for BtleLink {
    async fn discover(&mut self) -> Result<Vec<CharacteristicInfo>, RadioError> {
        self.peripheral.discover_services().await.map_err(stack)?;
        self.characteristics = self
            .peripheral
            .characteristics()
            .into_iter()
            .map(|c| (uuid_text(&c.uuid), c))
            .collect();
        Ok(self
            .characteristics
            .iter()
            .map(|(uuid, c)| CharacteristicInfo {
                uuid: uuid.clone(),
                notify: c.properties.contains(CharPropFlags::NOTIFY),
                indicate: c.properties.contains(CharPropFlags::INDICATE),
                read: c.properties.contains(CharPropFlags::READ),
                write: c.properties.contains(CharPropFlags::WRITE),
            })
            .collect())
    }

    async fn subscribe(&mut self, uuid: &str) -> Result<(), RadioError> {
        let c = self.characteristic(uuid)?.clone();
        self.peripheral.subscribe(&c).await.map_err(stack)
    }

    async fn notifications(&mut self) -> Result<BoxStream<'static, Notification>, RadioError> {
        let values = self.peripheral.notifications().await.map_err(stack)?;
        Ok(values
            .map(|v| Notification {
                uuid: uuid_text(&v.uuid),
                value: v.value,
            })
            .boxed())
    }

    async fn read(&mut self, uuid: &str) -> Result<Vec<u8>, RadioError> {
        let c = self.characteristic(uuid)?.clone();
        self.peripheral.read(&c).await.map_err(stack)
    }

    async fn write(&mut self, uuid: &str, value: &[u8]) -> Result<(), RadioError> {
        let c = self.characteristic(uuid)?.clone();
        self.peripheral
            .write(&c, value, WriteType::WithResponse)
            .await
            .map_err(stack)
    }

    async fn is_connected(&mut self) -> bool {
        self.peripheral.is_connected().await.unwrap_or(false)
    }

    async fn disconnect(&mut self) {
        let _ = self.peripheral.disconnect().await;
    }
}
