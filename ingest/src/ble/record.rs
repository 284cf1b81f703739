//! Writing the replay format, so that a live session can be recorded
//! (`cohealth ble record`) and attached to a bug report. The reader is
//! [`super::replay`]; a test below checks that one reads what the other wrote.

use std::fmt::Write as _;

use super::replay::ReplayPayload;
use crate::model::DeviceId;

/// The `start` line for a recording whose first event is at `utc_ms`.
pub fn start_line(utc_ms: i64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(utc_ms).unwrap_or_default();
    format!("start {}", at.format("%Y-%m-%dT%H:%M:%S%.3fZ"))
}

/// One event line, `offset_ms` after the `start` line.
pub fn event_line(offset_ms: u64, device: &DeviceId, payload: &ReplayPayload) -> String {
    let mut line = format!("{offset_ms} {device}");
    match payload {
        ReplayPayload::Characteristic { uuid, bytes, .. } => {
            let value = if bytes.is_empty() {
                "-".to_owned()
            } else {
                hex(bytes)
            };
            let _ = write!(line, " {uuid} {value}");
        }
        ReplayPayload::Advert(adv) => {
            line.push_str(" adv");
            for (uuid, bytes) in &adv.service_data {
                let _ = write!(line, " svc:{uuid:04x}:{}", hex(bytes));
            }
            for (company, bytes) in &adv.manufacturer_data {
                let _ = write!(line, " mfg:{company:04x}:{}", hex(bytes));
            }
            if let Some(name) = &adv.name {
                let _ = write!(line, " name:{}", escape(name));
            }
            if let Some(rssi) = adv.rssi {
                let _ = write!(line, " rssi:{rssi}");
            }
        }
    }
    line
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Percent-escapes what would end a field or start a comment.
fn escape(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_graphic() && b != b'%' && b != b'#' {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::advert::Advert;
    use crate::ble::replay::parse_replay;

    #[test]
    fn what_is_written_reads_back() {
        let strap = DeviceId::parse("aa:bb:cc:dd:ee:01").unwrap();
        let hr = ReplayPayload::Characteristic {
            uuid: "2a37".into(),
            uuid16: Some(0x2A37),
            bytes: vec![0x16, 0x48, 0x54, 0x01],
        };
        let adv = ReplayPayload::Advert(Advert {
            name: Some("Mi 100% #1 Scälé".into()),
            service_data: vec![(0x181B, vec![2, 0x26])],
            manufacturer_data: vec![(0x0157, vec![1])],
            rssi: Some(-58),
        });
        let text = format!(
            "{}\n{}\n{}\n",
            start_line(1_714_548_600_000),
            event_line(0, &strap, &hr),
            event_line(1500, &strap, &adv)
        );
        let events = parse_replay(&text).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].at.utc_ms, 1_714_548_600_000);
        assert_eq!(events[0].payload, hr);
        assert_eq!(events[1].offset_ms, 1500);
        assert_eq!(events[1].payload, adv);
    }
}
