//! One device's task: connect, serve the link until it drops, wait, again.
//!
//! Each device has its own task and every radio call has a timeout, so a
//! device that hangs mid-connect costs only its own task. Stored records
//! (scales and cuffs keep weighings taken while we were away) are asked for
//! through the record access control point where one is offered; they carry
//! the device's time stamps, so records the store already has are duplicates
//! of the same sample key and never double.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{ManagerSettings, Tap, TapEvent};
use crate::ble::frames::FrameDecoder;
use crate::ble::parse_uuid16;
use crate::ble::radio::{CharacteristicInfo, Link, Notification, Radio, RadioError};
use crate::ble::replay::ReplayPayload;
use crate::model::{DeviceId, Metric, Reading};
use crate::mqtt::now_ms;

/// Battery Level.
const BATTERY: &str = "2a19";
/// Record Access Control Point.
const RACP: &str = "2a52";
/// RACP "report stored records", operator "all records".
const REPORT_ALL_RECORDS: [u8; 2] = [0x01, 0x01];
/// How often a quiet link is checked for being up.
const LIVENESS: Duration = Duration::from_secs(5);
/// A link that stayed up this long starts the backoff afresh when it drops.
const STABLE: Duration = Duration::from_secs(60);

pub(super) struct DeviceTask<R> {
    pub radio: Arc<R>,
    pub adapter: String,
    pub device: DeviceId,
    pub settings: Arc<ManagerSettings>,
    pub readings: mpsc::Sender<Reading>,
    pub tap: Option<Tap>,
    /// True while the link is up and subscribed (the session reads it to see
    /// which slots are held by devices that are away).
    pub linked: Arc<AtomicBool>,
}

impl<R: Radio> DeviceTask<R> {
    /// Keeps the device connected until `stop` fires.
    pub async fn run(self, stop: CancellationToken) {
        let profile = self.settings.devices.get(&self.device);
        let profiles = profile
            .map(|d| {
                [(self.device.clone(), d.profile.clone())]
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default();
        let mut decoder = FrameDecoder::new(profiles);
        let mut failures = 0u32;
        loop {
            let started = Instant::now();
            let outcome = self.connect_and_serve(&mut decoder, &stop).await;
            if stop.is_cancelled() {
                return;
            }
            if started.elapsed() >= STABLE {
                failures = 0;
            }
            failures += 1;
            let delay = self.settings.backoff.delay(failures);
            self.report(outcome, failures, delay);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// A drop is lifecycle (info); the first failed attempt in a row is a warning,
    /// the rest are debug, so a strap left at the office does not fill the log.
    fn report(&self, outcome: Result<(), RadioError>, failures: u32, delay: Duration) {
        let retry_ms = delay.as_millis() as u64;
        let id = &self.device;
        match outcome {
            Ok(()) | Err(RadioError::Disconnected) => {
                info!(device.id = %id, retry_ms, "device disconnected; reconnecting")
            }
            Err(e) if failures <= 1 => {
                warn!(device.id = %id, error = %e, retry_ms, "device connection failed; retrying with backoff")
            }
            Err(e) => {
                debug!(device.id = %id, error = %e, attempt = failures, retry_ms, "device connection failed again")
            }
        }
    }

    async fn connect_and_serve(
        &self,
        decoder: &mut FrameDecoder,
        stop: &CancellationToken,
    ) -> Result<(), RadioError> {
        let connect = self.bounded(self.radio.connect(&self.adapter, &self.device));
        let mut link = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            link = connect => link?,
        };
        let served = self.serve(&mut link, decoder, stop).await;
        self.linked.store(false, Ordering::Relaxed);
        // Stopping or not, the link is let go: BlueZ would keep it up otherwise.
        let _ = timeout(self.settings.operation_timeout, link.disconnect()).await;
        served
    }

    async fn serve(
        &self,
        link: &mut R::Link,
        decoder: &mut FrameDecoder,
        stop: &CancellationToken,
    ) -> Result<(), RadioError> {
        let characteristics = self.bounded(link.discover()).await?;
        let mut values = self.bounded(link.notifications()).await?;
        for c in characteristics.iter().filter(|c| c.notify || c.indicate) {
            self.bounded(link.subscribe(&c.uuid)).await?;
        }
        self.linked.store(true, Ordering::Relaxed);
        info!(device.id = %self.device, characteristics = characteristics.len(), "device connected and subscribed");
        if has(&characteristics, RACP, |c| c.write) {
            self.bounded(link.write(RACP, &REPORT_ALL_RECORDS)).await?;
            debug!(device.id = %self.device, "asked for stored records");
        }
        let battery = has(&characteristics, BATTERY, |c| c.read);
        let mut battery_tick = tokio::time::interval(self.settings.battery_read);
        let mut liveness = tokio::time::interval(LIVENESS);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                value = values.next() => match value {
                    Some(n) => self.on_value(decoder, n).await,
                    None => return Err(RadioError::Disconnected),
                },
                _ = battery_tick.tick(), if battery => {
                    let value = self.bounded(link.read(BATTERY)).await?;
                    let n = Notification { uuid: BATTERY.to_owned(), value };
                    self.on_value(decoder, n).await;
                }
                _ = liveness.tick() => {
                    let up = timeout(self.settings.operation_timeout, link.is_connected()).await;
                    if !up.unwrap_or(false) {
                        return Err(RadioError::Disconnected);
                    }
                }
            }
        }
    }

    async fn on_value(&self, decoder: &mut FrameDecoder, n: Notification) {
        let received = now_ms();
        if let Some(tap) = &self.tap {
            let _ = tap.send(TapEvent {
                device: self.device.clone(),
                received_ms: received,
                payload: ReplayPayload::Characteristic {
                    uuid: n.uuid.clone(),
                    uuid16: parse_uuid16(&n.uuid),
                    bytes: n.value.clone(),
                },
            });
        }
        match decoder.characteristic(&self.device, &n.uuid, &n.value, received) {
            Ok(mut reading) => {
                self.keep_preferred(&mut reading);
                if !reading.measurements.is_empty() {
                    let _ = self.readings.send(reading).await;
                }
            }
            Err(e) => {
                debug!(device.id = %self.device, characteristic = %n.uuid, error = %e, "value not decoded")
            }
        }
    }

    fn keep_preferred(&self, reading: &mut Reading) {
        let Some(wanted) = self.settings.devices.get(&self.device).map(|d| &d.metrics) else {
            return;
        };
        if !wanted.is_empty() {
            reading
                .measurements
                .retain(|m| m.metric == Metric::Battery || wanted.contains(&m.metric));
        }
    }

    async fn bounded<T, F>(&self, op: F) -> Result<T, RadioError>
    where
        F: Future<Output = Result<T, RadioError>>,
    {
        timeout(self.settings.operation_timeout, op)
            .await
            .map_err(|_| RadioError::Stack("timed out".to_owned()))?
    }
}

fn has(
    characteristics: &[CharacteristicInfo],
    uuid: &str,
    can: impl Fn(&CharacteristicInfo) -> bool,
) -> bool {
    characteristics.iter().any(|c| c.uuid == uuid && can(c))
}
