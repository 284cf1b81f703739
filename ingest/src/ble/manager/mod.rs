//! The Bluetooth LE connection manager: keeps claimed wearables connected,
//! unattended, and turns what they and their neighbours say into readings.
//!
//! # Layout
//!
//! * [`run`] (this file): the adapter loop. No adapter (no system bus, no
//!   BlueZ, no dongle) is said once at info and retried on a slow timer.
//! * `scan`: one scan session on one adapter: adverts become readings, claimed
//!   connection candidates get a device task, claims are re-read on a timer.
//! * `device`: one task per connected device: connect, discover, subscribe,
//!   read the battery, ask for stored records, pump notifications; reconnect
//!   with [`Backoff`] when the link drops.
//! * `batch`: readings of all tasks committed to the [`Sink`] in short batches.
//!
//! The manager talks to the radio only through [`Radio`](super::radio::Radio),
//! so its decisions are tested with a scripted fake under a paused clock.
//!
//! Every frame goes through a [`FrameDecoder`](super::frames::FrameDecoder),
//! exactly as `cohealth ble replay` does, so a recorded session (see [`Tap`])
//! replays into the same samples.

mod backoff;
mod batch;
mod device;
#[cfg(test)]
mod fake;
mod scan;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub use backoff::Backoff;

use super::frames::DeviceProfile;
use super::radio::Radio;
use super::replay::ReplayPayload;
use crate::model::{DeviceId, Metric};
use crate::mqtt::Sink;

/// Services that make an advertising device worth connecting to (once claimed):
/// heart rate, cycling speed and cadence, running speed and cadence, weight
/// scale, body composition, blood pressure, health thermometer, pulse oximeter,
/// battery.
pub const CANDIDATE_SERVICES: [u16; 9] = [
    0x180D, 0x1816, 0x1814, 0x181D, 0x181B, 0x1810, 0x1809, 0x1822, 0x180F,
];

/// How the manager behaves.
#[derive(Clone, Debug)]
pub struct ManagerSettings {
    /// How often claims are re-read and idle claimed devices reconsidered.
    pub scan_interval: Duration,
    /// How often a missing adapter is looked for again.
    pub adapter_retry: Duration,
    /// Most devices connected at once.
    pub connection_limit: usize,
    /// How often the battery level is read.
    pub battery_read: Duration,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// Longest wait for a connect, a discovery, a read or a write.
    pub operation_timeout: Duration,
    /// Longest wait for a batch of readings to fill.
    pub linger: Duration,
    /// Per-device settings.
    pub devices: HashMap<DeviceId, DeviceSettings>,
}

impl Default for ManagerSettings {
    fn default() -> Self {
        ManagerSettings {
            scan_interval: Duration::from_secs(10),
            adapter_retry: Duration::from_secs(30),
            connection_limit: 5,
            battery_read: Duration::from_secs(3600),
            backoff: Backoff {
                min: Duration::from_secs(2),
                max: Duration::from_secs(300),
            },
            operation_timeout: Duration::from_secs(20),
            linger: Duration::from_millis(500),
            devices: HashMap::new(),
        }
    }
}

/// Settings for one device.
#[derive(Clone, Debug, Default)]
pub struct DeviceSettings {
    /// Vendor layout and wheel circumference for the decoder.
    pub profile: DeviceProfile,
    /// Only these metrics are kept from the device (empty: all). Battery is
    /// always kept.
    pub metrics: Vec<Metric>,
}

/// Where the manager learns which devices are claimed (the store, in the
/// daemon), so that ingest does not depend on the store crate.
pub trait Claims: Send + Sync + 'static {
    /// Every claimed device.
    fn claimed(
        &self,
    ) -> impl Future<Output = Result<HashSet<DeviceId>, crate::mqtt::BoxError>> + Send;
}

/// One raw event as heard, for `cohealth ble record`.
#[derive(Clone, Debug, PartialEq)]
pub struct TapEvent {
    /// The device.
    pub device: DeviceId,
    /// When it arrived, UTC ms.
    pub received_ms: i64,
    /// The frame or advert, in replay form.
    pub payload: ReplayPayload,
}

/// Receives every raw frame and advert before decoding.
pub type Tap = mpsc::UnboundedSender<TapEvent>;

/// Runs the manager until `cancel` fires; the readings in hand are committed
/// before it returns.
pub async fn run<R: Radio, C: Claims, S: Sink>(
    radio: Arc<R>,
    claims: Arc<C>,
    sink: Arc<S>,
    settings: ManagerSettings,
    tap: Option<Tap>,
    cancel: CancellationToken,
) {
    let (readings, rx) = mpsc::channel(1024);
    let batcher = tokio::spawn(batch::run_batcher(sink, rx, settings.linger));
    let ctx = scan::Context {
        radio,
        claims,
        settings: Arc::new(settings),
        readings,
        tap,
    };
    adapter_loop(&ctx, &cancel).await;
    drop(ctx);
    let _ = batcher.await;
    info!("Bluetooth manager stopped");
}

async fn adapter_loop<R: Radio, C: Claims>(ctx: &scan::Context<R, C>, cancel: &CancellationToken) {
    let retry = ctx.settings.adapter_retry;
    let mut announced = false;
    while !cancel.is_cancelled() {
        match ctx.radio.adapters().await {
            Ok(adapters) if !adapters.is_empty() => {
                let adapter = &adapters[0];
                info!(ble.adapter = %adapter, "Bluetooth adapter found; scanning");
                announced = false;
                match scan::Session::new(ctx, adapter).run(cancel).await {
                    Ok(()) if cancel.is_cancelled() => return,
                    Ok(()) => {
                        warn!(ble.adapter = %adapter, "Bluetooth adapter lost; looking for it again")
                    }
                    Err(e) => warn!(ble.adapter = %adapter, error = %e, "cannot scan; retrying"),
                }
            }
            outcome => {
                let reason = match outcome {
                    Err(e) => e.to_string(),
                    Ok(_) => "no adapter present".to_owned(),
                };
                if announced {
                    debug!(reason, "still no Bluetooth adapter");
                } else {
                    info!(
                        reason,
                        retry_seconds = retry.as_secs(),
                        "no Bluetooth adapter; retrying every {} s",
                        retry.as_secs()
                    );
                    announced = true;
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(retry) => {}
        }
    }
}
