//! The JSON Lines and CSV files of an export: one pair per kind of data.
//!
//! A ZIP entry is written in one go, so while the JSON Lines entry of a kind is
//! open its CSV twin is written elsewhere (see `Spool`) and copied in after.

use std::io::{BufWriter, Seek, SeekFrom, Write};

use cohealth_ingest::Metric;
use cohealth_store::{ExportProfile, Store, metric_from_id};
use serde::Serialize;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use super::{ExportError, ExportOptions, PAGE, utc};

/// Header of `samples.csv`.
pub const SAMPLES_CSV_HEADER: &str =
    "metric,unit,time_utc,ts_ms,utc_offset_s,value,source_kind,sub_source,device";
/// Header of `daily.csv`.
pub const DAILY_CSV_HEADER: &str = "metric,unit,day,start_utc,end_utc,count,sum,min,max,mean";
/// Header of `devices.csv`.
pub const DEVICES_CSV_HEADER: &str = "id,name,model,first_seen_utc,last_seen_utc,claimed_utc";
/// Header of `profile.csv`.
pub const PROFILE_CSV_HEADER: &str = "person_id,household_id,display_name,time_zone,created_utc,date_of_birth,sex,height_cm,units,phone,conditions,allergies,blood_type,onboarded_utc,email,username,role,account_created_utc,email_verified_utc,password_changed_utc,two_factor_since_utc";

/// One CSV cell: quoted when it holds a separator, quote or line break. Text
/// that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first)
/// gets a leading `'`; numbers are written by [`num`], never through here.
fn text(value: &str) -> String {
    let guarded = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn opt_text(value: Option<&str>) -> String {
    value.map(text).unwrap_or_default()
}

fn num(value: f64) -> String {
    if value.is_finite() {
        value.to_string()
    } else {
        String::new()
    }
}

fn opt_utc(ms: Option<i64>) -> String {
    ms.map(utc).unwrap_or_default()
}

fn metric_name(id: i64) -> (&'static str, &'static str) {
    metric_from_id(id).map_or(("unknown", ""), |m: Metric| (m.as_str(), m.unit()))
}

fn json_line<W: Write, T: Serialize>(out: &mut W, row: &T) -> Result<(), ExportError> {
    serde_json::to_writer(&mut *out, row)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A CSV file being written while its JSONL twin is the open ZIP entry: it goes,
/// already deflated, into a one-entry archive in an unnamed temp file, whose
/// compressed bytes are then copied into the export as they are. The temp file
/// is the CSV's compressed size, and nothing is compressed twice.
struct Spool {
    side: ZipWriter<BufWriter<std::fs::File>>,
    line: Vec<u8>,
}

impl Spool {
    fn new(name: &str, entry: SimpleFileOptions, header: &str) -> Result<Spool, ExportError> {
        let file = BufWriter::with_capacity(256 * 1024, tempfile::tempfile()?);
        let mut side = ZipWriter::new(file);
        side.start_file(name, entry)?;
        side.write_all(header.as_bytes())?;
        side.write_all(b"\r\n")?;
        Ok(Spool {
            side,
            line: Vec::with_capacity(256),
        })
    }

    fn row(&mut self, cells: &[String]) -> Result<(), ExportError> {
        self.line.clear();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            self.line.extend_from_slice(cell.as_bytes());
        }
        self.line.extend_from_slice(b"\r\n");
        self.side.write_all(&self.line)?;
        Ok(())
    }

    /// Copies the finished CSV entry into the export, compressed bytes as they are.
    fn into_entry<W: Write + Seek>(self, zip: &mut ZipWriter<W>) -> Result<(), ExportError> {
        let mut file = self
            .side
            .finish()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        let mut side = zip::ZipArchive::new(file)?;
        zip.raw_copy_file(side.by_index_raw(0)?)?;
        Ok(())
    }
}

#[derive(Serialize)]
struct SampleLine<'a> {
    metric: &'a str,
    unit: &'a str,
    time_utc: String,
    ts_ms: i64,
    utc_offset_s: Option<i64>,
    value: f64,
    source_kind: &'a str,
    sub_source: &'a str,
    device: &'a str,
}

/// `samples.jsonl` and `samples.csv`: every raw sample, by metric then time.
pub(super) async fn samples<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    entry: SimpleFileOptions,
    store: &Store,
    person: i64,
    options: &ExportOptions,
) -> Result<u64, ExportError> {
    let (from, to) = options.range();
    let mut csv = Spool::new("samples.csv", entry, SAMPLES_CSV_HEADER)?;
    zip.start_file("samples.jsonl", entry)?;
    let mut cursor = None;
    let mut count = 0u64;
    loop {
        let page = store
            .export_samples_page(person, from, to, cursor, PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        cursor = Some((last.metric_id, last.ts_ms, last.source_id));
        for s in &page {
            let (metric, unit) = metric_name(s.metric_id);
            let line = SampleLine {
                metric,
                unit,
                time_utc: utc(s.ts_ms),
                ts_ms: s.ts_ms,
                utc_offset_s: s.offset_s,
                value: s.value,
                source_kind: &s.kind,
                sub_source: &s.sub_source,
                device: &s.device,
            };
            json_line(zip, &line)?;
            csv.row(&[
                metric.to_owned(),
                text(unit),
                line.time_utc,
                s.ts_ms.to_string(),
                s.offset_s.map(|o| o.to_string()).unwrap_or_default(),
                num(s.value),
                text(&s.kind),
                text(&s.sub_source),
                text(&s.device),
            ])?;
        }
        count += page.len() as u64;
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    csv.into_entry(zip)?;
    Ok(count)
}

#[derive(Serialize)]
struct DayLine<'a> {
    metric: &'a str,
    unit: &'a str,
    day: &'a str,
    start_utc: String,
    end_utc: String,
    count: i64,
    sum: f64,
    min: f64,
    max: f64,
    mean: f64,
}

/// `daily.jsonl` and `daily.csv`: the local-day rollups, by metric then day.
pub(super) async fn days<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    entry: SimpleFileOptions,
    store: &Store,
    person: i64,
    options: &ExportOptions,
) -> Result<u64, ExportError> {
    let (from, to) = options.range();
    let mut csv = Spool::new("daily.csv", entry, DAILY_CSV_HEADER)?;
    zip.start_file("daily.jsonl", entry)?;
    let mut cursor = None;
    let mut count = 0u64;
    loop {
        let page = store
            .export_days_page(person, from, to, cursor, PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        cursor = Some((last.metric_id, last.day.clone()));
        for d in &page {
            let (metric, unit) = metric_name(d.metric_id);
            let mean = if d.n > 0 { d.total / d.n as f64 } else { 0.0 };
            let line = DayLine {
                metric,
                unit,
                day: &d.day,
                start_utc: utc(d.start_ms),
                end_utc: utc(d.end_ms),
                count: d.n,
                sum: d.total,
                min: d.lo,
                max: d.hi,
                mean,
            };
            json_line(zip, &line)?;
            csv.row(&[
                metric.to_owned(),
                text(unit),
                text(&d.day),
                line.start_utc,
                line.end_utc,
                d.n.to_string(),
                num(d.total),
                num(d.lo),
                num(d.hi),
                num(mean),
            ])?;
        }
        count += page.len() as u64;
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    csv.into_entry(zip)?;
    Ok(count)
}

#[derive(Serialize)]
struct DeviceLine<'a> {
    id: &'a str,
    name: Option<&'a str>,
    model: Option<&'a str>,
    first_seen_utc: String,
    last_seen_utc: String,
    claimed_utc: Option<String>,
}

/// `devices.jsonl` and `devices.csv`: the devices the person claimed.
pub(super) async fn devices<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    entry: SimpleFileOptions,
    store: &Store,
    person: i64,
) -> Result<u64, ExportError> {
    let devices = store.export_devices(person).await?;
    let mut csv = Spool::new("devices.csv", entry, DEVICES_CSV_HEADER)?;
    zip.start_file("devices.jsonl", entry)?;
    for d in &devices {
        let line = DeviceLine {
            id: &d.id,
            name: d.name.as_deref(),
            model: d.model.as_deref(),
            first_seen_utc: utc(d.first_seen_ms),
            last_seen_utc: utc(d.last_seen_ms),
            claimed_utc: d.claimed_ms.map(utc),
        };
        json_line(zip, &line)?;
        csv.row(&[
            text(&d.id),
            opt_text(d.name.as_deref()),
            opt_text(d.model.as_deref()),
            line.first_seen_utc,
            line.last_seen_utc,
            opt_utc(d.claimed_ms),
        ])?;
    }
    csv.into_entry(zip)?;
    Ok(devices.len() as u64)
}

/// `profile.jsonl` and `profile.csv`: one row about the person and their account.
pub(super) fn profile<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    entry: SimpleFileOptions,
    p: &ExportProfile,
) -> Result<(), ExportError> {
    zip.start_file("profile.jsonl", entry)?;
    json_line(zip, p)?;
    let a = p.account.as_ref();
    let cells = [
        p.person_id.to_string(),
        p.household_id.to_string(),
        text(&p.display_name),
        text(&p.time_zone),
        utc(p.created_ms),
        opt_text(p.date_of_birth.as_deref()),
        opt_text(p.sex.as_deref()),
        p.height_cm.map(num).unwrap_or_default(),
        text(&p.units),
        opt_text(p.phone.as_deref()),
        opt_text(p.conditions.as_deref()),
        opt_text(p.allergies.as_deref()),
        opt_text(p.blood_type.as_deref()),
        opt_utc(p.onboarded_ms),
        opt_text(a.map(|a| a.email.as_str())),
        opt_text(a.and_then(|a| a.username.as_deref())),
        opt_text(a.map(|a| a.role.as_str())),
        opt_utc(a.map(|a| a.created_ms)),
        opt_utc(a.and_then(|a| a.email_verified_ms)),
        opt_utc(a.and_then(|a| a.password_changed_ms)),
        opt_utc(a.and_then(|a| a.totp_enabled_ms)),
    ];
    zip.start_file("profile.csv", entry)?;
    zip.write_all(PROFILE_CSV_HEADER.as_bytes())?;
    zip.write_all(b"\r\n")?;
    zip.write_all(cells.join(",").as_bytes())?;
    zip.write_all(b"\r\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(text("plain"), "plain");
        assert_eq!(text("a,b"), "\"a,b\"");
        assert_eq!(text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(text("=1+1"), "'=1+1");
        assert_eq!(text("@x,y"), "\"'@x,y\"");
        assert_eq!(num(f64::NAN), "");
        assert_eq!(num(72.5), "72.5");
    }
}
