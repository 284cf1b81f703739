//! The manager's decisions against a scripted radio under a paused clock.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::sleep;
use tokio_util::sync::CancellationToken;

use super::fake::{FakeClaims, FakeRadio, MemorySink, OnConnect, characteristic, dev};
use super::{Backoff, ManagerSettings, run};
use crate::model::{DeviceId, Metric};

/// Heart rate 72 bpm, no RR intervals.
const HR_72: [u8; 2] = [0x00, 72];

struct Rig {
    claims: Arc<FakeClaims>,
    sink: Arc<MemorySink>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

fn settings() -> ManagerSettings {
    ManagerSettings {
        scan_interval: Duration::from_secs(5),
        adapter_retry: Duration::from_secs(30),
        operation_timeout: Duration::from_secs(10),
        backoff: Backoff {
            min: Duration::from_secs(2),
            max: Duration::from_secs(60),
        },
        ..ManagerSettings::default()
    }
}

fn start(radio: &FakeRadio, claimed: &[&DeviceId], settings: ManagerSettings) -> Rig {
    let claims = Arc::new(FakeClaims::default());
    claims
        .0
        .lock()
        .unwrap()
        .extend(claimed.iter().map(|d| (*d).clone()));
    let sink = Arc::new(MemorySink::default());
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run(
        Arc::new(radio.clone()),
        claims.clone(),
        sink.clone(),
        settings,
        None,
        cancel.clone(),
    ));
    Rig {
        claims,
        sink,
        cancel,
        task,
    }
}

impl Rig {
    fn heart_rates(&self, id: &DeviceId) -> usize {
        self.sink
            .readings_of(id)
            .iter()
            .flat_map(|r| &r.measurements)
            .filter(|m| m.metric == Metric::HeartRate)
            .count()
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.task.await.unwrap();
    }
}

fn radio_with_adapter() -> FakeRadio {
    let radio = FakeRadio::default();
    radio.plug_adapter();
    radio
}

#[tokio::test(start_paused = true)]
async fn connects_only_claimed_candidates() {
    let (mine, neighbour, band) = (
        dev("AA:00:00:00:00:01"),
        dev("AA:00:00:00:00:02"),
        dev("AA:00:00:00:00:03"),
    );
    let radio = radio_with_adapter();
    radio.add_strap(&mine, OnConnect::Accept);
    radio.add_strap(&neighbour, OnConnect::Accept);
    radio.add_strap(&band, OnConnect::Accept);
    let rig = start(&radio, &[&mine, &band], settings());
    sleep(Duration::from_millis(10)).await;

    radio.advertise(&mine, &[0x180D], "Polar H10");
    radio.advertise(&neighbour, &[0x180D], "Polar H9");
    // A passive advertiser: no candidate service, so never connected even if claimed.
    radio.advertise(&band, &[0xFEE0], "Mi Band");
    sleep(Duration::from_secs(1)).await;

    assert!(radio.notify(&mine, "2a37", &HR_72));
    sleep(Duration::from_secs(1)).await;
    assert_eq!(rig.heart_rates(&mine), 1);
    assert_eq!(radio.with(&neighbour, |d| d.connects.len()), 0);
    assert_eq!(radio.with(&band, |d| d.connects.len()), 0);
    // Every device heard is reported, so it shows up as claimable.
    let seen = rig.sink.readings_of(&neighbour);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].name.as_deref(), Some("Polar H9"));
    assert_eq!(seen[0].model.as_deref(), Some("heart rate sensor"));
    assert_eq!(seen[0].rssi, Some(-60));
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_claim_made_later_is_picked_up() {
    let strap = dev("AA:00:00:00:00:04");
    let radio = radio_with_adapter();
    radio.add_strap(&strap, OnConnect::Accept);
    let rig = start(&radio, &[], settings());
    sleep(Duration::from_millis(10)).await;
    radio.advertise(&strap, &[0x180D], "H10");
    sleep(Duration::from_secs(3)).await;
    assert!(!radio.connected(&strap));

    rig.claims.0.lock().unwrap().insert(strap.clone());
    sleep(Duration::from_secs(6)).await;
    assert!(radio.connected(&strap));

    rig.claims.0.lock().unwrap().clear();
    sleep(Duration::from_secs(6)).await;
    assert!(!radio.connected(&strap), "an unclaimed device is let go");
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn reconnects_with_exponential_backoff() {
    let strap = dev("AA:00:00:00:00:05");
    let radio = radio_with_adapter();
    radio.add_strap(&strap, OnConnect::Accept);
    let s = settings();
    let backoff = s.backoff;
    let rig = start(&radio, &[&strap], s);
    sleep(Duration::from_millis(10)).await;
    radio.advertise(&strap, &[0x180D], "H10");
    sleep(Duration::from_secs(1)).await;
    assert!(radio.connected(&strap));

    radio.set_on_connect(&strap, OnConnect::Refuse);
    radio.drop_link(&strap);
    sleep(Duration::from_secs(400)).await;

    let connects = radio.with(&strap, |d| d.connects.clone());
    assert!(connects.len() >= 8, "{} attempts", connects.len());
    for (n, pair) in connects.windows(2).enumerate().skip(1) {
        let gap = pair[1] - pair[0];
        // connects[n] was refused after n failures (the drop counts as the first).
        let base = backoff.base(n as u32 + 1);
        assert!(
            gap <= base && gap >= base * 3 / 4,
            "gap {n}: {gap:?}, base {base:?}"
        );
    }
    assert_eq!(backoff.base(7), Duration::from_secs(60), "capped");

    radio.set_on_connect(&strap, OnConnect::Accept);
    sleep(Duration::from_secs(61)).await;
    assert!(radio.connected(&strap));
    assert!(radio.notify(&strap, "2a37", &HR_72));
    sleep(Duration::from_secs(1)).await;
    assert_eq!(rig.heart_rates(&strap), 1);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn one_stuck_device_never_stalls_the_others() {
    let (stuck, fine) = (dev("AA:00:00:00:00:06"), dev("AA:00:00:00:00:07"));
    let radio = radio_with_adapter();
    radio.add_strap(&stuck, OnConnect::Hang);
    radio.add_strap(&fine, OnConnect::Accept);
    let rig = start(&radio, &[&stuck, &fine], settings());
    sleep(Duration::from_millis(10)).await;
    radio.advertise(&stuck, &[0x180D], "stuck");
    radio.advertise(&fine, &[0x180D], "fine");
    sleep(Duration::from_secs(1)).await;

    for _ in 0..5 {
        assert!(radio.notify(&fine, "2a37", &HR_72));
        sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(rig.heart_rates(&fine), 5);

    // The hung connect is abandoned after the operation timeout and retried.
    sleep(Duration::from_secs(30)).await;
    assert!(radio.with(&stuck, |d| d.connects.len()) >= 2);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn survives_adapter_loss_and_return() {
    let strap = dev("AA:00:00:00:00:08");
    let radio = radio_with_adapter();
    radio.add_strap(&strap, OnConnect::Accept);
    let rig = start(&radio, &[&strap], settings());
    sleep(Duration::from_millis(10)).await;
    radio.advertise(&strap, &[0x180D], "H10");
    sleep(Duration::from_secs(1)).await;
    assert!(radio.connected(&strap));

    radio.unplug_adapter();
    sleep(Duration::from_secs(120)).await;
    assert!(!radio.connected(&strap));
    let calls_while_gone = radio.adapter_calls();

    radio.plug_adapter();
    sleep(Duration::from_secs(31)).await;
    assert!(radio.adapter_calls() > calls_while_gone);
    radio.advertise(&strap, &[0x180D], "H10");
    sleep(Duration::from_secs(1)).await;
    assert!(radio.connected(&strap));
    assert!(radio.notify(&strap, "2a37", &HR_72));
    sleep(Duration::from_secs(1)).await;
    assert_eq!(rig.heart_rates(&strap), 1);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn no_adapter_is_retried_on_the_slow_timer() {
    let radio = FakeRadio::default();
    radio.set_stack_down();
    let rig = start(&radio, &[], settings());
    sleep(Duration::from_secs(299)).await;
    // Once at start, then every 30 s: never a tight loop.
    assert_eq!(radio.adapter_calls(), 10);
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn respects_the_connection_limit() {
    let (a, b) = (dev("AA:00:00:00:00:09"), dev("AA:00:00:00:00:0A"));
    let radio = radio_with_adapter();
    radio.add_strap(&a, OnConnect::Accept);
    radio.add_strap(&b, OnConnect::Accept);
    let rig = start(
        &radio,
        &[&a, &b],
        ManagerSettings {
            connection_limit: 1,
            ..settings()
        },
    );
    sleep(Duration::from_millis(10)).await;
    radio.advertise(&a, &[0x180D], "a");
    radio.advertise(&b, &[0x180D], "b");
    sleep(Duration::from_secs(20)).await;
    assert!(radio.connected(&a));
    assert_eq!(radio.with(&b, |d| d.connects.len()), 0);

    rig.claims.0.lock().unwrap().remove(&a);
    sleep(Duration::from_secs(11)).await;
    assert!(
        radio.connected(&b),
        "the freed slot goes to the next claimed device"
    );
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_device_that_is_away_gives_its_slot_to_one_that_is_here() {
    let (office, home) = (dev("AA:00:00:00:00:0C"), dev("AA:00:00:00:00:0D"));
    let radio = radio_with_adapter();
    radio.add_strap(&office, OnConnect::Accept);
    radio.add_strap(&home, OnConnect::Accept);
    let s = ManagerSettings {
        connection_limit: 1,
        ..settings()
    };
    let rig = start(&radio, &[&office, &home], s);
    sleep(Duration::from_millis(10)).await;
    radio.advertise(&office, &[0x180D], "office");
    sleep(Duration::from_secs(1)).await;
    assert!(radio.connected(&office));

    // Heard, but the slot is held by a linked device: it waits.
    radio.advertise(&home, &[0x180D], "home");
    sleep(Duration::from_secs(30)).await;
    assert_eq!(radio.with(&home, |d| d.connects.len()), 0);

    // The strap leaves (drops, refuses, no more adverts) for over two minutes.
    radio.set_on_connect(&office, OnConnect::Refuse);
    radio.drop_link(&office);
    sleep(Duration::from_secs(130)).await;
    radio.advertise(&home, &[0x180D], "home");
    sleep(Duration::from_secs(1)).await;
    assert!(radio.connected(&home));
    rig.stop().await;
}

#[tokio::test(start_paused = true)]
async fn asks_for_stored_records_and_reads_the_battery() {
    let scale = dev("AA:00:00:00:00:0B");
    let radio = radio_with_adapter();
    radio.add_device(
        &scale,
        OnConnect::Accept,
        vec![
            characteristic("2a9d", false, true, false, false),
            characteristic("2a52", false, true, false, true),
            characteristic("2a19", false, false, true, false),
        ],
    );
    let s = ManagerSettings {
        battery_read: Duration::from_secs(600),
        ..settings()
    };
    let rig = start(&radio, &[&scale], s);
    sleep(Duration::from_millis(10)).await;
    radio.advertise(&scale, &[0x181D], "scale");
    sleep(Duration::from_secs(1)).await;

    let writes = radio.with(&scale, |d| d.writes.clone());
    assert_eq!(writes, vec![("2a52".to_owned(), vec![0x01, 0x01])]);
    // A stored weighing (70.00 kg, 2024-05-01 07:30:00) indicated twice: one sample key.
    let weighing = [0x02, 0xB0, 0x36, 0xE8, 0x07, 5, 1, 7, 30, 0];
    assert!(radio.notify(&scale, "2a9d", &weighing));
    assert!(radio.notify(&scale, "2a9d", &weighing));
    sleep(Duration::from_secs(1)).await;
    let weights: Vec<_> = rig
        .sink
        .readings_of(&scale)
        .into_iter()
        .flat_map(|r| r.measurements)
        .filter(|m| m.metric == Metric::Weight)
        .collect();
    assert_eq!(weights.len(), 2);
    assert_eq!(
        weights[0].at, weights[1].at,
        "the device's time stamp, not receipt"
    );
    assert!(weights[0].at.is_some());

    sleep(Duration::from_secs(1300)).await;
    assert_eq!(
        radio.with(&scale, |d| d.reads),
        3,
        "at connect, then every 600 s"
    );
    let batteries = rig
        .sink
        .readings_of(&scale)
        .into_iter()
        .flat_map(|r| r.measurements)
        .filter(|m| m.metric == Metric::Battery)
        .count();
    assert_eq!(batteries, 3);
    rig.stop().await;
}
