//! A scripted radio for the manager's tests: adapters that come and go,
//! devices that advertise, connect, hang, fail, notify and drop, all under the
//! test's control and a paused tokio clock.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::ble::advert::Advert;
use crate::ble::radio::{
    CharacteristicInfo, Link, Notification, Radio, RadioError, ScanEvent, Sighting,
};
use crate::model::{DeviceId, Reading};
use crate::mqtt::{Batch, Sink};

/// How a scripted device answers a connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnConnect {
    Accept,
    Refuse,
    Hang,
}

pub struct FakeDevice {
    pub on_connect: OnConnect,
    pub characteristics: Vec<CharacteristicInfo>,
    pub battery: Vec<u8>,
    notify: Option<mpsc::UnboundedSender<Notification>>,
    pub writes: Vec<(String, Vec<u8>)>,
    pub reads: usize,
    pub connects: Vec<Instant>,
}

#[derive(Default)]
struct State {
    adapters: Vec<String>,
    stack_down: bool,
    adapter_calls: usize,
    scan: Option<mpsc::UnboundedSender<ScanEvent>>,
    devices: HashMap<DeviceId, FakeDevice>,
}

#[derive(Clone, Default)]
pub struct FakeRadio(Arc<Mutex<State>>);

pub fn dev(s: &str) -> DeviceId {
    DeviceId::parse(s).expect("test device id")
}

pub fn characteristic(
    uuid: &str,
    notify: bool,
    indicate: bool,
    read: bool,
    write: bool,
) -> CharacteristicInfo {
    CharacteristicInfo {
        uuid: uuid.to_owned(),
        notify,
        indicate,
        read,
        write,
    }
}

impl FakeRadio {
    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().expect("fake radio lock")
    }

    pub fn plug_adapter(&self) {
        let mut s = self.state();
        s.stack_down = false;
        s.adapters = vec!["hci0".to_owned()];
    }

    pub fn set_stack_down(&self) {
        self.state().stack_down = true;
    }

    pub fn adapter_calls(&self) -> usize {
        self.state().adapter_calls
    }

    /// The adapter vanishes: the scan ends and every link drops.
    pub fn unplug_adapter(&self) {
        let mut s = self.state();
        s.adapters.clear();
        if let Some(scan) = s.scan.take() {
            let _ = scan.send(ScanEvent::AdapterLost);
        }
        for d in s.devices.values_mut() {
            d.notify = None;
        }
    }

    /// A heart-rate strap (notify 0x2A37, readable battery).
    pub fn add_strap(&self, id: &DeviceId, on_connect: OnConnect) {
        self.add_device(
            id,
            on_connect,
            vec![
                characteristic("2a37", true, false, false, false),
                characteristic("2a19", true, false, true, false),
            ],
        );
    }

    pub fn add_device(
        &self,
        id: &DeviceId,
        on_connect: OnConnect,
        characteristics: Vec<CharacteristicInfo>,
    ) {
        self.state().devices.insert(
            id.clone(),
            FakeDevice {
                on_connect,
                characteristics,
                battery: vec![87],
                notify: None,
                writes: Vec::new(),
                reads: 0,
                connects: Vec::new(),
            },
        );
    }

    pub fn set_on_connect(&self, id: &DeviceId, on_connect: OnConnect) {
        if let Some(d) = self.state().devices.get_mut(id) {
            d.on_connect = on_connect;
        }
    }

    pub fn advertise(&self, id: &DeviceId, services: &[u16], name: &str) {
        let sighting = Sighting {
            device: id.clone(),
            advert: Advert {
                name: Some(name.to_owned()),
                rssi: Some(-60),
                ..Advert::default()
            },
            services: services.to_vec(),
        };
        if let Some(scan) = &self.state().scan {
            let _ = scan.send(ScanEvent::Advert(sighting));
        }
    }

    /// Sends a notification on the device's link; false when not connected.
    pub fn notify(&self, id: &DeviceId, uuid: &str, value: &[u8]) -> bool {
        let s = self.state();
        let Some(tx) = s.devices.get(id).and_then(|d| d.notify.as_ref()) else {
            return false;
        };
        tx.send(Notification {
            uuid: uuid.to_owned(),
            value: value.to_vec(),
        })
        .is_ok()
    }

    pub fn connected(&self, id: &DeviceId) -> bool {
        self.state()
            .devices
            .get(id)
            .is_some_and(|d| d.notify.is_some())
    }

    /// The device walks away: its link drops.
    pub fn drop_link(&self, id: &DeviceId) {
        if let Some(d) = self.state().devices.get_mut(id) {
            d.notify = None;
        }
    }

    pub fn with<T>(&self, id: &DeviceId, f: impl FnOnce(&FakeDevice) -> T) -> T {
        f(self.state().devices.get(id).expect("scripted device"))
    }
}

impl Radio for FakeRadio {
    type Link = FakeLink;

    async fn adapters(&self) -> Result<Vec<String>, RadioError> {
        let mut s = self.state();
        s.adapter_calls += 1;
        if s.stack_down {
            return Err(RadioError::NoAdapter(
                "the name org.bluez was not provided".into(),
            ));
        }
        Ok(s.adapters.clone())
    }

    async fn scan(&self, adapter: &str) -> Result<BoxStream<'static, ScanEvent>, RadioError> {
        let mut s = self.state();
        if !s.adapters.iter().any(|a| a == adapter) {
            return Err(RadioError::NoAdapter(adapter.to_owned()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        s.scan = Some(tx);
        Ok(stream_of(rx))
    }

    async fn connect(&self, _adapter: &str, device: &DeviceId) -> Result<FakeLink, RadioError> {
        let on_connect = {
            let mut s = self.state();
            let d = s
                .devices
                .get_mut(device)
                .ok_or_else(|| RadioError::UnknownDevice(device.to_string()))?;
            d.connects.push(Instant::now());
            d.on_connect
        };
        match on_connect {
            OnConnect::Accept => Ok(FakeLink {
                radio: self.clone(),
                device: device.clone(),
            }),
            OnConnect::Refuse => Err(RadioError::Stack("le-connection-abort-by-local".into())),
            OnConnect::Hang => std::future::pending().await,
        }
    }
}

fn stream_of<T: Send + 'static>(rx: mpsc::UnboundedReceiver<T>) -> BoxStream<'static, T> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) }).boxed()
}

pub struct FakeLink {
    radio: FakeRadio,
    device: DeviceId,
}

impl FakeLink {
    fn with_device<T>(&self, f: impl FnOnce(&mut FakeDevice) -> T) -> T {
        let mut s = self.radio.state();
        f(s.devices.get_mut(&self.device).expect("scripted device"))
    }
}

impl Link for FakeLink {
    async fn discover(&mut self) -> Result<Vec<CharacteristicInfo>, RadioError> {
        Ok(self.with_device(|d| d.characteristics.clone()))
    }

    async fn subscribe(&mut self, _uuid: &str) -> Result<(), RadioError> {
        Ok(())
    }

    async fn notifications(&mut self) -> Result<BoxStream<'static, Notification>, RadioError> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.with_device(|d| d.notify = Some(tx));
        Ok(stream_of(rx))
    }

    async fn read(&mut self, uuid: &str) -> Result<Vec<u8>, RadioError> {
        self.with_device(|d| {
            d.reads += 1;
            if uuid == "2a19" {
                Ok(d.battery.clone())
            } else {
                Err(RadioError::NoCharacteristic(uuid.into()))
            }
        })
    }

    async fn write(&mut self, uuid: &str, value: &[u8]) -> Result<(), RadioError> {
        self.with_device(|d| d.writes.push((uuid.to_owned(), value.to_vec())));
        Ok(())
    }

    async fn is_connected(&mut self) -> bool {
        self.with_device(|d| d.notify.is_some())
    }

    async fn disconnect(&mut self) {
        self.with_device(|d| d.notify = None);
    }
}

/// Claims held in memory.
#[derive(Default)]
pub struct FakeClaims(pub Mutex<HashSet<DeviceId>>);

impl super::Claims for FakeClaims {
    async fn claimed(&self) -> Result<HashSet<DeviceId>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.0.lock().expect("claims lock").clone())
    }
}

/// A sink that keeps every committed reading.
#[derive(Default)]
pub struct MemorySink(pub Mutex<Vec<Reading>>);

impl MemorySink {
    pub fn readings_of(&self, id: &DeviceId) -> Vec<Reading> {
        let all = self.0.lock().expect("sink lock");
        all.iter().filter(|r| &r.device == id).cloned().collect()
    }
}

impl Sink for MemorySink {
    async fn commit(&self, batch: &Batch) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0
            .lock()
            .expect("sink lock")
            .extend(batch.readings.iter().cloned());
        Ok(())
    }
}
