//! The live Bluetooth path in the daemon: the connection manager on btleplug,
//! fed claims from the store and committing to the same sink as MQTT; and
//! `cohealth ble record`, which taps the same path into a replay file.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cohealth_ingest::ble::btle::BtleRadio;
use cohealth_ingest::ble::manager::{self, Claims, TapEvent};
use cohealth_ingest::ble::record::{event_line, start_line};
use cohealth_ingest::model::DeviceId;
use cohealth_ingest::mqtt::{Batch, Sink};
use cohealth_store::Store;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::settings::Settings;

/// Claims as the store holds them.
pub struct StoreClaims(pub Store);

impl Claims for StoreClaims {
    async fn claimed(&self) -> Result<HashSet<DeviceId>, Box<dyn std::error::Error + Send + Sync>> {
        let devices = self.0.list_devices().await?;
        Ok(devices
            .into_iter()
            .filter(|d| d.person_id.is_some())
            .filter_map(|d| DeviceId::parse(&d.id))
            .collect())
    }
}

/// Starts the connection manager; it stops (and flushes) when `stop` fires.
pub fn start<S: Sink>(
    settings: &Settings,
    store: Store,
    sink: Arc<S>,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let manager_settings = settings.ble.manager_settings()?;
    info!(
        ble.connection_limit = manager_settings.connection_limit,
        "Bluetooth manager starting"
    );
    let radio = Arc::new(BtleRadio::new());
    let claims = Arc::new(StoreClaims(store));
    Ok(tokio::spawn(manager::run(
        radio,
        claims,
        sink,
        manager_settings,
        None,
        stop,
    )))
}

/// A sink that keeps nothing: `ble record` only writes the file.
struct Discard;

impl Sink for Discard {
    async fn commit(&self, _: &Batch) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }
}

/// Records live frames and adverts into `file` for `seconds` (or until Ctrl-C).
pub async fn record(settings: &Settings, file: &Path, seconds: Option<u64>) -> anyhow::Result<()> {
    let store = crate::serve::open_store(settings).await?;
    let mut out =
        std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?;
    writeln!(
        out,
        "# cohealth ble record, version {}",
        env!("CARGO_PKG_VERSION")
    )?;
    let (tap, mut events) = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let manager = tokio::spawn(manager::run(
        Arc::new(BtleRadio::new()),
        Arc::new(StoreClaims(store.clone())),
        Arc::new(Discard),
        settings.ble.manager_settings()?,
        Some(tap),
        stop.clone(),
    ));
    let deadline = tokio::time::sleep(seconds.map_or(Duration::MAX, Duration::from_secs));
    tokio::pin!(deadline);
    let mut start: Option<i64> = None;
    let mut written = 0u64;
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            _ = tokio::signal::ctrl_c() => break,
            event = events.recv() => match event {
                Some(e) => {
                    write_event(&mut out, &mut start, &e)?;
                    written += 1;
                }
                None => break,
            },
        }
    }
    stop.cancel();
    let _ = manager.await;
    out.sync_all()?;
    store.close().await;
    eprintln!("{written} events written to {}", file.display());
    Ok(())
}

fn write_event(
    out: &mut std::fs::File,
    start: &mut Option<i64>,
    e: &TapEvent,
) -> anyhow::Result<()> {
    let base = match *start {
        Some(base) => base,
        None => {
            writeln!(out, "{}", start_line(e.received_ms))?;
            *start = Some(e.received_ms);
            e.received_ms
        }
    };
    let offset = u64::try_from(e.received_ms - base).unwrap_or(0);
    writeln!(out, "{}", event_line(offset, &e.device, &e.payload))?;
    Ok(())
}
