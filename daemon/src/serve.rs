//! Wiring the long-running parts together, and the one shutdown path.
//!
//! SIGTERM or SIGINT stops ingest first (the batch in hand is committed and acked),
//! then the portal finishes its requests, then the store closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use cohealth_ingest::mqtt::{self, Batch, MqttSettings, Sink};
use cohealth_ingest::stats::IngestStats;
use cohealth_store::{CommitReport, Limits, LiveSample, Store, StoreError};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::settings::{Hsts, Settings};

/// Which parts a process runs.
#[derive(Clone, Copy, Debug)]
pub struct Parts {
    daemon: bool,
    portal: bool,
}

impl Parts {
    /// Daemon and portal together (`serve`).
    pub const BOTH: Parts = Parts {
        daemon: true,
        portal: true,
    };
    /// Only the daemon.
    pub const DAEMON: Parts = Parts {
        daemon: true,
        portal: false,
    };
    /// Only the portal.
    pub const PORTAL: Parts = Parts {
        daemon: false,
        portal: true,
    };
}

/// Opens the store with the configured limits.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let limits = Limits {
        pending_ttl_ms: settings.pending.ttl_seconds.saturating_mul(1000),
        pending_max: settings.pending.max_samples,
        ..Limits::default()
    };
    Store::open(&settings.database_url(), limits)
        .await
        .context("opening the store")
}

/// Runs until SIGTERM or SIGINT.
pub async fn run(settings: Settings, parts: Parts) -> anyhow::Result<()> {
    let store = open_store(&settings).await?;
    info!(store.backend = store.backend(), "store ready");
    crate::commands::apply_config_claims(&store, &settings).await?;
    let stats = Arc::new(IngestStats::default());
    let (live, _) = tokio::sync::broadcast::channel(1024);

    let sink = Arc::new(StoreSink {
        store: store.clone(),
        stats: stats.clone(),
        live: live.clone(),
    });

    let portal_stop = CancellationToken::new();
    let portal = if parts.portal {
        Some(start_portal(&settings, &sink, portal_stop.clone()).await?)
    } else {
        None
    };

    let ingest_stop = CancellationToken::new();
    let mut ingest = Vec::new();
    if parts.daemon {
        ingest.push(tokio::spawn(housekeeping(
            store.clone(),
            stats.clone(),
            ingest_stop.clone(),
        )));
        ingest.push(tokio::spawn(crate::export_job::run(
            store.clone(),
            settings.export.clone(),
            ingest_stop.clone(),
        )));
        if settings.mqtt.enabled {
            ingest.push(start_mqtt(&settings, &sink, ingest_stop.clone())?);
        } else {
            info!("MQTT ingest is disabled in the configuration");
        }
        if settings.ble.enabled {
            let ble = crate::ble_live::start(
                &settings,
                store.clone(),
                sink.clone(),
                ingest_stop.clone(),
            )?;
            ingest.push(ble);
        } else {
            info!("Bluetooth is disabled in the configuration");
        }
    }

    wait_for_signal().await;
    info!("shutting down: ingest first");
    ingest_stop.cancel();
    for task in ingest {
        let _ = task.await;
    }
    portal_stop.cancel();
    if let Some(task) = portal {
        let _ = task.await;
    }
    store.close().await;
    info!("stopped");
    Ok(())
}

async fn start_portal(
    settings: &Settings,
    sink: &Arc<StoreSink>,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    // Certificate problems stop the start before the port is taken.
    let tls = match (&settings.portal.tls_cert, &settings.portal.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::load(cert, key)?),
        _ => None,
    };
    let hsts = match settings.portal.hsts {
        Hsts::On => tls.is_some(),
        Hsts::Off => false,
        Hsts::Auto => tls.as_ref().is_some_and(|t| !t.self_signed),
    };
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    info!(
        portal.address = %address,
        portal.scheme = scheme,
        portal.self_signed = tls.as_ref().map(|t| t.self_signed),
        portal.hsts = hsts,
        "portal listening"
    );
    let state = cohealth_portal::AppState {
        store: sink.store.clone(),
        stats: sink.stats.clone(),
        live: sink.live.clone(),
    };
    let mailer = match &settings.portal.smtp {
        Some(smtp) => {
            let mailer = cohealth_portal::mail::Mailer::new(&smtp.mail_settings())
                .context("setting up outgoing mail (portal.smtp)")?;
            info!("outgoing mail is on");
            Some(mailer)
        }
        None => {
            info!("outgoing mail is off: no [portal.smtp] in the configuration");
            None
        }
    };
    if mailer.is_some()
        && settings.portal.public_url.is_empty()
        && settings.listen.ip().is_unspecified()
    {
        warn!(
            portal.public_url = %settings.public_url(),
            "links in emails point at an unspecified address; set portal.public_url"
        );
    }
    let options = cohealth_portal::PortalOptions {
        stop: stop.clone(),
        // Configured, or needed for mail links: then derived from `listen`.
        // Otherwise links (invitations) follow the address each request came to.
        public_url: (mailer.is_some() || !settings.portal.public_url.is_empty())
            .then(|| settings.public_url()),
        mailer,
        tls: tls.is_some(),
        hsts,
        ..Default::default()
    };
    let ingest =
        cohealth_portal::with_security_headers(crate::http_ingest::router(sink.clone()), &options);
    let app = cohealth_portal::router_with(state, options)
        .merge(ingest)
        .into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = async move { stop.cancelled().await };
    Ok(tokio::spawn(async move {
        let served = match tls {
            Some(tls) => {
                // tap_io gives axum's ConnectInfo<SocketAddr> support to our listener.
                let listener =
                    crate::tls::TlsListener::new(listener, tls.config).map(|l| l.tap_io(|_| {}));
                match listener {
                    Ok(listener) => {
                        axum::serve(listener, app)
                            .with_graceful_shutdown(shutdown)
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
            None => {
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        };
        if let Err(e) = served {
            warn!(error = %e, "portal stopped with an error");
        }
    }))
}

fn start_mqtt(
    settings: &Settings,
    sink: &Arc<StoreSink>,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let m = &settings.mqtt;
    let mqtt_settings = MqttSettings {
        url: m.url.clone(),
        client_id: m.client_id.clone(),
        username: m.username.clone(),
        password: m.password.as_ref().map(|p| p.expose().to_owned()),
        ca_file: m.ca_file.clone(),
        keep_alive: Duration::from_secs(m.keep_alive_seconds.max(5)),
        batch_max: m.batch_max,
        linger: Duration::from_millis(m.linger_ms),
        routes: m.topics.clone(),
    };
    let sink = sink.clone();
    let stats = sink.stats.clone();
    info!(mqtt.url = %m.url, mqtt.client_id = %m.client_id, "MQTT ingest starting");
    Ok(tokio::spawn(async move {
        if let Err(e) = mqtt::run(mqtt_settings, sink, stats, stop).await {
            tracing::error!(error = %e, "MQTT ingest cannot run");
        }
    }))
}

/// The store as the MQTT source's sink, keeping the counters.
pub struct StoreSink {
    /// Where batches go.
    pub store: Store,
    /// Counters to update.
    pub stats: Arc<IngestStats>,
    /// Where committed samples are announced for live pages.
    pub live: broadcast::Sender<LiveSample>,
}

impl StoreSink {
    /// Commits a batch, then updates the counters and announces live samples.
    pub async fn commit_counted(&self, batch: &Batch) -> Result<CommitReport, StoreError> {
        let report = self.store.commit_batch(batch).await?;
        let s = &self.stats;
        IngestStats::add(&s.samples_written, report.written + report.pending);
        IngestStats::add(&s.duplicates, report.duplicates);
        IngestStats::add(&s.rejected_values, report.rejected);
        IngestStats::add(&s.pending_evicted, report.evicted);
        if let Some(newest) = report.newest_ms {
            let lag = (mqtt::now_ms() - newest).max(0) as u64;
            s.lag_ms.store(lag, Ordering::Relaxed);
        }
        for sample in &report.live {
            // No subscriber (no open page) is the normal case, not an error.
            let _ = self.live.send(sample.clone());
        }
        Ok(report)
    }
}

impl Sink for StoreSink {
    async fn commit(&self, batch: &Batch) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.commit_counted(batch).await?;
        Ok(())
    }
}

/// Unclaimed devices not heard for this many days leave the device list.
const UNHEARD_DEVICE_DAYS: i64 = 30;

/// Once a minute: expires the pending area; every five: derives HRV and resting
/// heart rate for the last two hours (late frames included). At start and then
/// hourly it carries out account deletions that are due, and at start and then
/// daily it drops raw samples past the household's retention.
async fn housekeeping(store: Store, stats: Arc<IngestStats>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    for round in 0u64.. {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if round % 5 == 4 {
            derive_recent(&store).await;
        }
        if round % 60 == 0 {
            match store.purge_due_deletions(mqtt::now_ms()).await {
                Ok(0) => {}
                Ok(n) => info!(accounts.deleted = n, "carried out due account deletions"),
                Err(e) => warn!(error = %e, "could not carry out due account deletions"),
            }
        }
        if round % 1440 == 0 {
            match store.apply_retention(mqtt::now_ms()).await {
                Ok(0) => {}
                Ok(n) => info!(samples.deleted = n, "dropped raw samples past retention"),
                Err(e) => warn!(error = %e, "could not apply raw-sample retention"),
            }
        }
        if round % 60 == 59 {
            let cutoff = mqtt::now_ms() - UNHEARD_DEVICE_DAYS * 86_400_000;
            match store.forget_unheard_devices(cutoff).await {
                Ok(0) => {}
                Ok(n) => info!(
                    devices.forgotten = n,
                    "forgot unclaimed devices not heard for 30 days"
                ),
                Err(e) => warn!(error = %e, "could not forget unheard devices"),
            }
        }
        match store.expire_pending(mqtt::now_ms()).await {
            Ok(0) => {}
            Ok(n) => {
                IngestStats::add(&stats.pending_expired, n);
                info!(pending.expired = n, "expired unclaimed devices' samples");
            }
            Err(e) => warn!(error = %e, "could not expire the pending area"),
        }
    }
}

async fn derive_recent(store: &Store) {
    let now = mqtt::now_ms();
    let persons = match store.persons().await {
        Ok(p) => p,
        Err(e) => return warn!(error = %e, "cannot list persons for derived metrics"),
    };
    for person in persons {
        if let Err(e) = crate::derive::derive_span(store, &person, now - 2 * 3_600_000, now).await {
            warn!(person.id = person.id, error = %e, "deriving HRV and resting heart rate failed");
        }
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops cohealth");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
