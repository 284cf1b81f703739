//! One scan session on one adapter, from the first advert to the adapter's loss.
//!
//! The scan is unfiltered so that passive advertisers (bands, scales) are heard
//! too; their adverts become readings, and every device heard is upserted by
//! the store, which makes it claimable. Only claimed devices advertising one of
//! [`CANDIDATE_SERVICES`] (or configured in `[[ble.devices]]`) get a connection,
//! up to the connection limit. At the limit, a claimed device heard just now
//! takes the slot of one that is neither linked nor heard for [`AWAY`]: a strap
//! left at the office must not keep the scale at home from connecting. When the
//! session ends every device task is stopped: a new adapter means new
//! connections.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::device::DeviceTask;
use super::{CANDIDATE_SERVICES, Claims, ManagerSettings, Tap, TapEvent};
use crate::ble::frames::FrameDecoder;
use crate::ble::radio::{Radio, RadioError, ScanEvent, Sighting};
use crate::ble::replay::ReplayPayload;
use crate::model::{DeviceId, Reading};
use crate::mqtt::now_ms;

/// A device not heard for this long, and not linked, is away: its slot may go
/// to a device that is here.
pub(super) const AWAY: Duration = Duration::from_secs(120);

/// A device task and what the session needs to know about it.
struct Running {
    handle: JoinHandle<()>,
    stop: CancellationToken,
    linked: Arc<AtomicBool>,
}

/// An advert without values refreshes "last seen" at most this often, ms.
const SEEN_EVERY_MS: i64 = 60_000;

/// What every session and device task shares.
pub(super) struct Context<R, C> {
    pub radio: Arc<R>,
    pub claims: Arc<C>,
    pub settings: Arc<ManagerSettings>,
    pub readings: mpsc::Sender<Reading>,
    pub tap: Option<Tap>,
}

pub(super) struct Session<'a, R, C> {
    ctx: &'a Context<R, C>,
    adapter: String,
    decoder: FrameDecoder,
    claimed: HashSet<DeviceId>,
    claims_failing: bool,
    candidates: HashSet<DeviceId>,
    last_seen: HashMap<DeviceId, i64>,
    last_heard: HashMap<DeviceId, Instant>,
    tasks: HashMap<DeviceId, Running>,
    stop: CancellationToken,
}

impl<'a, R: Radio, C: Claims> Session<'a, R, C> {
    pub fn new(ctx: &'a Context<R, C>, adapter: &str) -> Self {
        let profiles = ctx
            .settings
            .devices
            .iter()
            .map(|(id, d)| (id.clone(), d.profile.clone()))
            .collect();
        Session {
            ctx,
            adapter: adapter.to_owned(),
            decoder: FrameDecoder::new(profiles),
            claimed: HashSet::new(),
            claims_failing: false,
            candidates: HashSet::new(),
            last_seen: HashMap::new(),
            last_heard: HashMap::new(),
            tasks: HashMap::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Scans until the adapter is lost (`Ok`) or `cancel` fires (`Ok`).
    pub async fn run(mut self, cancel: &CancellationToken) -> Result<(), RadioError> {
        let mut events = self.ctx.radio.scan(&self.adapter).await?;
        let mut tick = tokio::time::interval(self.ctx.settings.scan_interval);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                event = events.next() => match event {
                    Some(ScanEvent::Advert(s)) => self.on_sighting(s).await,
                    Some(ScanEvent::AdapterLost) | None => break,
                },
                _ = tick.tick() => self.reconsider().await,
            }
        }
        self.stop_all().await;
        Ok(())
    }

    async fn on_sighting(&mut self, s: Sighting) {
        let received = now_ms();
        self.record(&s, received);
        self.last_heard.insert(s.device.clone(), Instant::now());
        let candidate = s.services.iter().any(|u| CANDIDATE_SERVICES.contains(u))
            || self.ctx.settings.devices.contains_key(&s.device);
        match self.decoder.advert(&s.device, &s.advert, received) {
            Ok(mut reading) => {
                if reading.model.is_none() {
                    reading.model = service_model(&s.services).map(str::to_owned);
                }
                if self.worth_sending(&reading) {
                    let _ = self.ctx.readings.send(reading).await;
                }
            }
            Err(e) => debug!(device.id = %s.device, error = %e, "advert not decoded"),
        }
        if candidate && self.candidates.insert(s.device.clone()) {
            let services: Vec<String> = s.services.iter().map(|u| format!("{u:04X}")).collect();
            debug!(device.id = %s.device, services = %services.join(","), "connection candidate heard");
        }
        if candidate {
            self.maybe_start(&s.device);
        }
    }

    fn record(&self, s: &Sighting, received_ms: i64) {
        if let Some(tap) = &self.ctx.tap {
            let _ = tap.send(TapEvent {
                device: s.device.clone(),
                received_ms,
                payload: ReplayPayload::Advert(s.advert.clone()),
            });
        }
    }

    /// Adverts with values always count; empty ones only refresh "last seen"
    /// once a minute, since BlueZ reports every advert of every neighbour.
    fn worth_sending(&mut self, reading: &Reading) -> bool {
        if !reading.measurements.is_empty() {
            return true;
        }
        let last = self.last_seen.get(&reading.device).copied();
        if last.is_some_and(|t| reading.received_ms - t < SEEN_EVERY_MS) {
            return false;
        }
        self.last_seen
            .insert(reading.device.clone(), reading.received_ms);
        true
    }

    async fn reconsider(&mut self) {
        self.refresh_claims().await;
        self.tasks.retain(|_, t| !t.handle.is_finished());
        let unclaimed: Vec<DeviceId> = self
            .tasks
            .keys()
            .filter(|d| !self.claimed.contains(*d))
            .cloned()
            .collect();
        for device in unclaimed {
            info!(device.id = %device, "device no longer claimed; disconnecting");
            if let Some(t) = self.tasks.remove(&device) {
                t.stop.cancel();
            }
        }
        let waiting: Vec<DeviceId> = self.candidates.iter().cloned().collect();
        for device in waiting {
            self.maybe_start(&device);
        }
    }

    async fn refresh_claims(&mut self) {
        match self.ctx.claims.claimed().await {
            Ok(claimed) => {
                self.claimed = claimed;
                self.claims_failing = false;
            }
            Err(e) if !self.claims_failing => {
                warn!(error = %e, "cannot read device claims; keeping the last known");
                self.claims_failing = true;
            }
            Err(_) => {}
        }
    }

    fn maybe_start(&mut self, device: &DeviceId) {
        if !self.claimed.contains(device) || self.tasks.contains_key(device) {
            return;
        }
        if self.tasks.len() >= self.ctx.settings.connection_limit && !self.free_a_slot_for(device) {
            debug!(device.id = %device, limit = self.ctx.settings.connection_limit, "connection limit reached");
            return;
        }
        let stop = self.stop.child_token();
        let linked = Arc::new(AtomicBool::new(false));
        let task = DeviceTask {
            radio: self.ctx.radio.clone(),
            adapter: self.adapter.clone(),
            device: device.clone(),
            settings: self.ctx.settings.clone(),
            readings: self.ctx.readings.clone(),
            tap: self.ctx.tap.clone(),
            linked: linked.clone(),
        };
        let handle = tokio::spawn(task.run(stop.clone()));
        let running = Running {
            handle,
            stop,
            linked,
        };
        self.tasks.insert(device.clone(), running);
    }

    /// Stops the task of a device that is away, if `device` is here and one is.
    fn free_a_slot_for(&mut self, device: &DeviceId) -> bool {
        if !self.heard_within(device, AWAY) {
            return false;
        }
        let away = self
            .tasks
            .iter()
            .find(|(d, t)| !t.linked.load(Ordering::Relaxed) && !self.heard_within(d, AWAY))
            .map(|(d, _)| d.clone());
        let Some(away) = away else {
            return false;
        };
        info!(device.id = %away, for_device = %device, "device away; its connection slot goes to one that is here");
        if let Some(t) = self.tasks.remove(&away) {
            t.stop.cancel();
        }
        true
    }

    fn heard_within(&self, device: &DeviceId, span: Duration) -> bool {
        self.last_heard
            .get(device)
            .is_some_and(|t| t.elapsed() < span)
    }

    async fn stop_all(&mut self) {
        self.stop.cancel();
        for (_, t) in self.tasks.drain() {
            let _ = t.handle.await;
        }
    }
}

/// A model hint from the advertised services, for devices no advert decoder
/// recognises (a strap that only says "heart rate").
fn service_model(services: &[u16]) -> Option<&'static str> {
    let named = [
        (0x180D, "heart rate sensor"),
        (0x1816, "cycling speed and cadence sensor"),
        (0x1814, "running speed and cadence sensor"),
        (0x181B, "body composition scale"),
        (0x181D, "weight scale"),
        (0x1810, "blood pressure monitor"),
        (0x1809, "health thermometer"),
        (0x1822, "pulse oximeter"),
    ];
    named
        .iter()
        .find(|(uuid, _)| services.contains(uuid))
        .map(|(_, name)| *name)
}
