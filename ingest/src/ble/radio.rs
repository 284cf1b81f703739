//! The seam between the connection manager and a Bluetooth stack.
//!
//! The manager's decisions (whom to connect, when to retry, what to do when the
//! adapter goes away) are worth testing without a radio, and btleplug is worth
//! keeping out of those decisions. So the manager speaks only these two traits:
//! [`Radio`] (adapters, scanning, connecting) and [`Link`] (one connection).
//! `super::btle` implements them on btleplug; the manager's tests implement them
//! with a scripted fake under a paused tokio clock.

use std::future::Future;

use futures::stream::BoxStream;

use super::advert::Advert;
use crate::model::DeviceId;

/// Why a radio operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RadioError {
    /// No Bluetooth stack or adapter to talk to (no system bus, no BlueZ, no dongle).
    #[error("Bluetooth unavailable: {0}")]
    NoAdapter(String),
    /// The device is not known to the adapter (not heard recently).
    #[error("device not found: {0}")]
    UnknownDevice(String),
    /// The device does not offer this characteristic.
    #[error("no characteristic {0}")]
    NoCharacteristic(String),
    /// The link dropped.
    #[error("disconnected")]
    Disconnected,
    /// Anything else the stack reported.
    #[error("{0}")]
    Stack(String),
}

/// What a scan reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanEvent {
    /// An advertisement (or an update of what the device advertises).
    Advert(Sighting),
    /// The adapter went away (powered off, unplugged); the scan is over.
    AdapterLost,
}

/// One device heard advertising.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    /// The device, normalised.
    pub device: DeviceId,
    /// Name, service data, manufacturer data and RSSI as advertised.
    pub advert: Advert,
    /// 16-bit service UUIDs the device advertises.
    pub services: Vec<u16>,
}

/// A characteristic found by service discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CharacteristicInfo {
    /// The 16-bit UUID for SIG characteristics, else the 128-bit one, lower case.
    pub uuid: String,
    /// It can notify.
    pub notify: bool,
    /// It can indicate.
    pub indicate: bool,
    /// It can be read.
    pub read: bool,
    /// It can be written.
    pub write: bool,
}

/// A notification or indication value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The characteristic's UUID in [`CharacteristicInfo::uuid`] form.
    pub uuid: String,
    /// The value bytes.
    pub value: Vec<u8>,
}

/// A Bluetooth stack: its adapters, scanning, and connecting.
pub trait Radio: Send + Sync + 'static {
    /// One connection.
    type Link: Link;

    /// The adapters present now, by a stable name (`hci0`); an error when the
    /// stack itself is unreachable.
    fn adapters(&self) -> impl Future<Output = Result<Vec<String>, RadioError>> + Send;

    /// Starts an unfiltered scan on `adapter`; the stream ends (or says
    /// [`ScanEvent::AdapterLost`]) when the adapter goes away.
    fn scan(
        &self,
        adapter: &str,
    ) -> impl Future<Output = Result<BoxStream<'static, ScanEvent>, RadioError>> + Send;

    /// Connects to `device` through `adapter`.
    fn connect(
        &self,
        adapter: &str,
        device: &DeviceId,
    ) -> impl Future<Output = Result<Self::Link, RadioError>> + Send;
}

/// One connection to one device.
pub trait Link: Send + 'static {
    /// Discovers services and lists their characteristics.
    fn discover(
        &mut self,
    ) -> impl Future<Output = Result<Vec<CharacteristicInfo>, RadioError>> + Send;

    /// Subscribes to notifications or indications of `uuid`.
    fn subscribe(&mut self, uuid: &str) -> impl Future<Output = Result<(), RadioError>> + Send;

    /// The values of every subscribed characteristic; ends when the link drops.
    fn notifications(
        &mut self,
    ) -> impl Future<Output = Result<BoxStream<'static, Notification>, RadioError>> + Send;

    /// Reads `uuid`'s value.
    fn read(&mut self, uuid: &str) -> impl Future<Output = Result<Vec<u8>, RadioError>> + Send;

    /// Writes `value` to `uuid` with a response.
    fn write(
        &mut self,
        uuid: &str,
        value: &[u8],
    ) -> impl Future<Output = Result<(), RadioError>> + Send;

    /// Whether the link is still up.
    fn is_connected(&mut self) -> impl Future<Output = bool> + Send;

    /// Disconnects; errors are of no interest at that point.
    fn disconnect(&mut self) -> impl Future<Output = ()> + Send;
}
