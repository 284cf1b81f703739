//! The text replay format: what a user attaches to a bug report so that we
//! can feed the exact frames their devices sent back through the decoders.
//!
//! # Format
//!
//! UTF-8 text, one item per line. Blank lines and lines whose first
//! non-space character is `#` are ignored (a `#` later in a line starts a
//! comment too). The first other line must be
//!
//! ```text
//! start <RFC 3339 time stamp>
//! ```
//!
//! e.g. `start 2024-05-01T07:30:00.000+02:00`. Every following line is one
//! event of whitespace-separated fields:
//!
//! ```text
//! <offset_ms> <device-id> <characteristic-uuid> <hex>
//! <offset_ms> <device-id> adv <entry> [<entry> ...]
//! ```
//!
//! * `offset_ms`: milliseconds since `start`, a non-negative integer.
//! * `device-id`: a MAC (`AA:BB:CC:DD:EE:FF`, any spelling
//!   [`DeviceId::parse`] accepts) or another id without spaces.
//! * `characteristic-uuid`: `2a37`, `0x2A37`, a full 128-bit UUID.
//! * `hex`: the notification bytes; may be empty only as `-`.
//! * advertisement entries, in any order, each at most once per key except
//!   `svc` and `mfg`:
//!   * `svc:<uuid16>:<hex>`: service data for a 16-bit service UUID,
//!   * `mfg:<company-id>:<hex>`: manufacturer data; the company id is written
//!     as a number (`0157` = Xiaomi), the hex excludes the two id bytes,
//!   * `name:<text>`: the advertised name, `%20` for a space and `%25` for `%`,
//!   * `rssi:<dBm>`: signal strength, e.g. `rssi:-60`.
//!
//! Example:
//!
//! ```text
//! # Polar H10 and a Mi scale, 2024-05-01 morning
//! start 2024-05-01T07:30:00Z
//! 0     AA:BB:CC:DD:EE:01 2a37 1648540102ec02
//! 1000  AA:BB:CC:DD:EE:02 adv svc:181b:0226e607020e10293af7019a38 name:MIBFS rssi:-58
//! ```
//!
//! Parsing is pure: [`parse_replay`] returns the events or the first error,
//! which names its 1-based line number.

use serde::Serialize;

use super::advert::Advert;
use super::reader::decode_hex;
use super::{BleError, parse_rfc3339, parse_uuid16};
use crate::model::{DeviceId, Instant};

/// What one replay line carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplayPayload {
    /// A GATT notification or read value.
    Characteristic {
        /// The UUID as written (for vendor 128-bit UUIDs).
        uuid: String,
        /// The 16-bit UUID, when it is one.
        uuid16: Option<u16>,
        /// The value bytes.
        bytes: Vec<u8>,
    },
    /// An advertisement.
    Advert(Advert),
}

/// One event of a replay file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayEvent {
    /// 1-based line number in the file.
    pub line: usize,
    /// Milliseconds since the `start` line.
    pub offset_ms: u64,
    /// `start` + offset.
    pub at: Instant,
    /// The device.
    pub device: DeviceId,
    /// What it sent.
    pub payload: ReplayPayload,
}

/// Parses a whole replay file.
pub fn parse_replay(text: &str) -> Result<Vec<ReplayEvent>, BleError> {
    let mut start: Option<Instant> = None;
    let mut events = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line = idx + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let err = |reason: String| BleError::Replay { line, reason };
        let Some(base) = start else {
            let rest = content
                .strip_prefix("start")
                .filter(|r| r.starts_with(char::is_whitespace))
                .ok_or_else(|| err("expected `start <RFC 3339 time stamp>` first".into()))?;
            start = Some(parse_rfc3339(rest.trim()).map_err(|e| err(e.to_string()))?);
            continue;
        };
        events.push(parse_event(content, base).map_err(err)?.with_line(line));
    }
    Ok(events)
}

impl ReplayEvent {
    fn with_line(mut self, line: usize) -> Self {
        self.line = line;
        self
    }
}

fn parse_event(content: &str, base: Instant) -> Result<ReplayEvent, String> {
    let mut fields = content.split_whitespace();
    let offset_txt = fields.next().ok_or("missing offset")?;
    let offset_ms: u64 = offset_txt
        .parse()
        .map_err(|_| format!("offset {offset_txt:?} is not a non-negative integer"))?;
    let offset_i = i64::try_from(offset_ms).map_err(|_| "offset too large".to_string())?;
    let utc_ms = base
        .utc_ms
        .checked_add(offset_i)
        .ok_or("offset too large")?;
    let dev_txt = fields.next().ok_or("missing device id")?;
    let device = DeviceId::parse(dev_txt).ok_or(format!("bad device id {dev_txt:?}"))?;
    let kind = fields
        .next()
        .ok_or("missing characteristic uuid or `adv`")?;
    let payload = if kind.eq_ignore_ascii_case("adv") {
        ReplayPayload::Advert(parse_advert(fields)?)
    } else {
        let hex = fields.next().ok_or("missing hex value")?;
        if let Some(extra) = fields.next() {
            return Err(format!("unexpected field {extra:?}"));
        }
        let bytes = if hex == "-" {
            Vec::new()
        } else {
            decode_hex(hex).map_err(|e| e.to_string())?
        };
        ReplayPayload::Characteristic {
            uuid: kind.to_string(),
            uuid16: parse_uuid16(kind),
            bytes,
        }
    };
    Ok(ReplayEvent {
        line: 0,
        offset_ms,
        at: Instant {
            utc_ms,
            offset_s: base.offset_s,
        },
        device,
        payload,
    })
}

fn parse_advert<'a>(fields: impl Iterator<Item = &'a str>) -> Result<Advert, String> {
    let mut adv = Advert::default();
    for entry in fields {
        let (key, rest) = entry
            .split_once(':')
            .ok_or(format!("advert entry {entry:?} has no `key:`"))?;
        match key {
            "svc" | "mfg" => {
                let (id_txt, hex) = rest
                    .split_once(':')
                    .ok_or(format!("{entry:?}: expected {key}:<id>:<hex>"))?;
                let id = parse_uuid16(id_txt).ok_or(format!("bad 16-bit id {id_txt:?}"))?;
                let bytes = decode_hex(hex).map_err(|e| e.to_string())?;
                if key == "svc" {
                    adv.service_data.push((id, bytes));
                } else {
                    adv.manufacturer_data.push((id, bytes));
                }
            }
            "name" if adv.name.is_none() => adv.name = Some(percent_decode(rest)?),
            "rssi" if adv.rssi.is_none() => {
                adv.rssi = Some(rest.parse().map_err(|_| format!("bad rssi {rest:?}"))?)
            }
            _ => return Err(format!("unknown or repeated advert entry {entry:?}")),
        }
    }
    Ok(adv)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = bytes.next();
            let lo = bytes.next();
            let pair = [hi.unwrap_or(b'?'), lo.unwrap_or(b'?')];
            let txt = std::str::from_utf8(&pair).map_err(|_| format!("bad escape in {s:?}"))?;
            let v = u8::from_str_radix(txt, 16).map_err(|_| format!("bad escape in {s:?}"))?;
            out.push(v);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|_| format!("name {s:?} is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# Polar H10 and a Mi scale
  # indented comment

start 2024-05-01T07:30:00Z   # morning
0     AA:BB:CC:DD:EE:01 2a37 1648540102ec02
1000  aa-bb-cc-dd-ee-02 adv svc:181b:0226e607020e10293af7019a38 name:Mi%20Scale rssi:-58
1500  hae:iphone 0x2A19 -
";

    #[test]
    fn parses_sample() {
        let ev = parse_replay(SAMPLE).unwrap();
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[0].line, 5);
        assert_eq!(ev[0].at.utc_ms, 1_714_548_600_000);
        assert_eq!(ev[0].device.as_str(), "AA:BB:CC:DD:EE:01");
        match &ev[0].payload {
            ReplayPayload::Characteristic { uuid16, bytes, .. } => {
                assert_eq!(*uuid16, Some(0x2A37));
                assert_eq!(bytes.len(), 7);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ev[1].at.utc_ms, 1_714_548_601_000);
        match &ev[1].payload {
            ReplayPayload::Advert(a) => {
                assert_eq!(a.name.as_deref(), Some("Mi Scale"));
                assert_eq!(a.rssi, Some(-58));
                assert_eq!(a.service_data[0].0, 0x181B);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&ev[2].payload, ReplayPayload::Characteristic { bytes, .. } if bytes.is_empty())
        );
    }

    fn err_line(text: &str) -> usize {
        match parse_replay(text) {
            Err(BleError::Replay { line, .. }) => line,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(err_line("0 AA:BB:CC:DD:EE:FF 2a37 00"), 1);
        assert_eq!(err_line("# c\nstart yesterday"), 2);
        assert_eq!(err_line("start 2024-05-01T07:30:00Z\n\n-5 X 2a37 00"), 3);
        assert_eq!(err_line("start 2024-05-01T07:30:00Z\n0 X 2a37 0g"), 2);
        assert_eq!(err_line("start 2024-05-01T07:30:00Z\n0 X 2a37"), 2);
        assert_eq!(err_line("start 2024-05-01T07:30:00Z\n0 X 2a37 00 11"), 2);
        assert_eq!(err_line("start 2024-05-01T07:30:00Z\n0 X adv svc:zz:00"), 2);
        assert_eq!(err_line("start 2024-05-01T07:30:00Z\n0 X adv foo:1"), 2);
        assert_eq!(
            err_line("start 2024-05-01T07:30:00Z\n0 X adv rssi:1 rssi:2"),
            2
        );
        assert_eq!(err_line("start 2024-05-01T07:30:00Z\n0 X adv name:%zz"), 2);
        assert_eq!(err_line("startx 2024-05-01T07:30:00Z"), 1);
    }

    #[test]
    fn empty_file_has_no_events() {
        assert_eq!(parse_replay("# nothing\n\n"), Ok(Vec::new()));
    }
}
