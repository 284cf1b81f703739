//! `cohealth ble decode` and `cohealth ble replay` (`ble record` lives with the
//! live path in `ble_live`): the decoders from the command
//! line, for bug reports and for feeding recorded sessions into the store.

use std::collections::BTreeSet;

use anyhow::{Context, bail};
use cohealth_ingest::ble::frames::FrameDecoder;
use cohealth_ingest::ble::replay::{ReplayPayload, parse_replay};
use cohealth_ingest::ble::{VendorModel, decode_characteristic_str, decode_hex, parse_uuid16};
use cohealth_ingest::mqtt::Batch;
use serde_json::json;

use crate::cli::BleCommand;
use crate::derive::derive_span;
use crate::serve::open_store;
use crate::settings::Settings;

/// 2000-01-01T00:00:00Z in ms: nothing recorded before it is believed.
const EARLIEST_MS: i64 = 946_684_800_000;

/// Runs a `ble` subcommand.
pub async fn run(settings: &Settings, command: BleCommand) -> anyhow::Result<()> {
    match command {
        BleCommand::Decode {
            characteristic,
            hex,
            model,
        } => decode(&characteristic, &hex, model.as_deref()),
        BleCommand::Replay { file } => replay(settings, &file).await,
        BleCommand::Record { file, seconds } => {
            crate::ble_live::record(settings, &file, seconds).await
        }
    }
}

/// Prints one frame decoded: the spec's fields and units, then our samples.
fn decode(characteristic: &str, hex: &str, model: Option<&str>) -> anyhow::Result<()> {
    let model = match model {
        Some(name) => {
            Some(VendorModel::parse(name).with_context(|| format!("unknown model `{name}`"))?)
        }
        None => None,
    };
    let bytes = decode_hex(hex)?;
    let decoded = decode_characteristic_str(characteristic, &bytes, model)
        .with_context(|| format!("characteristic {characteristic}, {} bytes", bytes.len()))?;
    let samples: Vec<_> = decoded
        .measurements()
        .into_iter()
        .map(|m| {
            json!({
                "metric": m.metric,
                "value": m.value,
                "unit": m.metric.unit(),
                "kind": m.kind,
                "at_ms": m.at.map(|a| a.utc_ms),
            })
        })
        .collect();
    let out = json!({
        "characteristic": parse_uuid16(characteristic).map(|u| format!("0x{u:04X}")),
        "decoded": decoded,
        "samples": samples,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Feeds a recorded session through the live path into the configured store.
async fn replay(settings: &Settings, file: &std::path::Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let events = parse_replay(&text).with_context(|| format!("parsing {}", file.display()))?;
    let store = open_store(settings).await?;
    let mut decoder = FrameDecoder::default();
    let mut batch = Batch::default();
    let mut failed = 0;
    let mut devices = BTreeSet::new();
    let latest = chrono::Utc::now().timestamp_millis() + 10 * 60_000;
    for e in &events {
        let received = e.at.utc_ms;
        // A recording is of the past: before 2000 or in our future is a typo.
        if !(EARLIEST_MS..=latest).contains(&received) {
            failed += 1;
            eprintln!(
                "line {}: the event's time is before 2000 or in the future",
                e.line
            );
            continue;
        }
        let reading = match &e.payload {
            ReplayPayload::Characteristic { uuid, bytes, .. } => {
                decoder.characteristic(&e.device, uuid, bytes, received)
            }
            ReplayPayload::Advert(adv) => decoder.advert(&e.device, adv, received),
        };
        match reading {
            Ok(r) => {
                devices.insert(r.device.to_string());
                batch.readings.push(r);
            }
            Err(err) => {
                failed += 1;
                eprintln!("line {}: {err}", e.line);
            }
        }
    }
    let report = store.commit_batch(&batch).await?;
    println!(
        "{} events, {} readings, {} samples written, {} already stored, {} waiting for a claim, {} refused, {failed} undecodable",
        events.len(),
        batch.readings.len(),
        report.written,
        report.duplicates,
        report.pending,
        report.rejected,
    );

    let times = batch.readings.iter().map(|r| r.received_ms);
    let (Some(first), Some(last)) = (times.clone().min(), times.max()) else {
        bail!("{} holds no usable events", file.display());
    };
    let owners = store.list_devices().await?;
    for person in store.persons().await? {
        let owns = owners
            .iter()
            .any(|d| d.person_id == Some(person.id) && devices.contains(&d.id));
        if owns {
            let derived = derive_span(&store, &person, first, last + 1).await?;
            println!(
                "derived for person {}: {} samples written",
                person.id, derived.written
            );
        }
    }
    store.close().await;
    Ok(())
}
