//! "Take all your data with you": the export page, the ZIP's contents, the FHIR
//! bundle checked by the official HL7 R4 JSON Schema, and the scheduled backup.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use chrono::TimeZone;
use cohealth_ingest::{DeviceId, Metric, SourceKind};
use cohealth_portal::export::{self, ExportOptions, HeartRateDetail, scheduled};
use serde_json::Value;

use crate::common::{NOW, TestPortal, text};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// The official R4 schema, compiled once for the whole test binary.
fn fhir_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/fhir-r4/fhir.schema.json"
        );
        let schema: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        jsonschema::draft6::new(&schema).unwrap()
    })
}

/// Schema errors of one resource, as text (empty: valid).
fn schema_errors(resource: &Value) -> Vec<String> {
    fhir_validator()
        .iter_errors(resource)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// The portal's seed plus blood pressure, SpO2, temperature and body fat.
async fn seeded() -> TestPortal {
    let portal = TestPortal::new().await;
    portal.seed().await;
    let person = portal.user.person_id;
    let cuff = DeviceId::parse("AA:BB:CC:DD:EE:03").unwrap();
    let at = [NOW - 30 * HOUR, NOW - 3 * HOUR];
    for (metric, values) in [
        (Metric::BloodPressureSystolic, [121.0, 118.0]),
        (Metric::BloodPressureDiastolic, [79.0, 76.0]),
    ] {
        let points: Vec<(i64, f64)> = at.iter().copied().zip(values).collect();
        portal
            .store
            .bulk_load(person, &cuff, SourceKind::Gateway, metric, &points)
            .await
            .unwrap();
    }
    // A systolic reading without its diastolic twin: no panel for it.
    portal
        .store
        .bulk_load(
            person,
            &cuff,
            SourceKind::Gateway,
            Metric::BloodPressureSystolic,
            &[(NOW - 50 * HOUR, 130.0)],
        )
        .await
        .unwrap();
    let ring = DeviceId::parse("AA:BB:CC:DD:EE:04").unwrap();
    for (metric, value) in [
        (Metric::Spo2, 97.0),
        (Metric::BodyTemperature, 36.7),
        (Metric::BodyFat, 21.4),
    ] {
        portal
            .store
            .bulk_load(
                person,
                &ring,
                SourceKind::Ble,
                metric,
                &[(NOW - 4 * HOUR, value)],
            )
            .await
            .unwrap();
    }
    portal
}

/// Every entry of a ZIP by name.
fn unzip(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
        let mut body = String::new();
        entry.read_to_string(&mut body).unwrap();
        files.insert(entry.name().unwrap().into_owned(), body);
    }
    files
}

async fn export_zip(portal: &TestPortal, options: &ExportOptions) -> BTreeMap<String, String> {
    let (out, _) = export::write_zip(
        &portal.store,
        portal.user.person_id,
        options,
        Cursor::new(Vec::new()),
    )
    .await
    .unwrap();
    unzip(&out.into_inner())
}

fn options() -> ExportOptions {
    ExportOptions {
        generated_ms: NOW,
        ..ExportOptions::default()
    }
}

async fn seeded_count(portal: &TestPortal) -> usize {
    let mut n = 0;
    for metric in Metric::ALL {
        n += portal
            .store
            .count_samples(portal.user.person_id, metric)
            .await
            .unwrap();
    }
    usize::try_from(n).unwrap()
}

#[tokio::test]
async fn the_export_page_needs_sign_in_and_csrf() {
    let portal = seeded().await;
    let page = portal.get("/account/export", None).await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(page.headers()[header::LOCATION], "/login");
    let anonymous = portal
        .post_form("/account/export", None, "csrf=x&heart_rate=minute")
        .await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);

    let (cookie, _) = portal.sign_in().await;
    let page = portal.get("/account/export", Some(&cookie)).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = text(page).await;
    assert!(html.contains(r#"action="/account/export""#));
    let csrf = crate::common::csrf_of(&html);

    let forged = portal
        .post_form(
            "/account/export",
            Some(&cookie),
            "csrf=not-the-token&heart_rate=minute",
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let missing = portal
        .post_form("/account/export", Some(&cookie), "heart_rate=minute")
        .await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);

    let bad_day = portal
        .post_form(
            "/account/export",
            Some(&cookie),
            &format!("csrf={csrf}&from=yesterday"),
        )
        .await;
    assert_eq!(bad_day.status(), StatusCode::BAD_REQUEST);

    let done = portal
        .post_form(
            "/account/export",
            Some(&cookie),
            &format!("csrf={csrf}&heart_rate=minute&from=&to="),
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let h = done.headers();
    assert_eq!(h[header::CONTENT_TYPE], "application/zip");
    assert_eq!(
        h[header::CONTENT_DISPOSITION],
        "attachment; filename=\"cohealth-export-2026-11-04.zip\""
    );
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    let length: usize = h[header::CONTENT_LENGTH].to_str().unwrap().parse().unwrap();
    let bytes = axum::body::to_bytes(done.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(bytes.len(), length);
    let files = unzip(&bytes);
    assert_eq!(
        files["samples.jsonl"].lines().count(),
        seeded_count(&portal).await
    );
    // The export is in the person's audit log, without values.
    let log = portal
        .store
        .audit_log_of(portal.user.person_id, 10)
        .await
        .unwrap();
    let entry = log.iter().find(|e| e.action == "export").unwrap();
    assert_eq!(entry.actor_person, Some(portal.user.person_id));
    assert_eq!(
        entry.detail.as_deref(),
        Some("zip; heart rate per minute; from start; to now")
    );
}

#[tokio::test]
async fn only_your_own_data_is_exported() {
    let portal = seeded().await;
    // Someone else in the household with data of their own.
    let other = crate::common::add_user(
        &portal.store,
        "bob@example.org",
        Some("bob"),
        "Bob",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
    )
    .await;
    let theirs = DeviceId::parse("AA:BB:CC:DD:EE:99").unwrap();
    portal
        .store
        .bulk_load(
            other.person_id,
            &theirs,
            SourceKind::Ble,
            Metric::HeartRate,
            &[(NOW - HOUR, 88.0), (NOW - HOUR + 1000, 89.0)],
        )
        .await
        .unwrap();
    let (cookie, csrf) = portal.sign_in().await;
    let done = portal
        .post_form("/account/export", Some(&cookie), &format!("csrf={csrf}"))
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let files = unzip(
        &axum::body::to_bytes(done.into_body(), usize::MAX)
            .await
            .unwrap(),
    );
    assert!(!files["samples.csv"].contains("AA:BB:CC:DD:EE:99"));
    assert!(!files["devices.csv"].contains("AA:BB:CC:DD:EE:99"));
    assert!(!files["profile.jsonl"].contains("bob@example.org"));
    assert!(files["profile.jsonl"].contains("ada@example.org"));
    assert_eq!(
        files["samples.jsonl"].lines().count(),
        seeded_count(&portal).await
    );
}

#[tokio::test]
async fn the_zip_holds_every_sample_day_device_and_the_profile() {
    let portal = seeded().await;
    let files = export_zip(&portal, &options()).await;
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "README.txt",
            "daily.csv",
            "daily.jsonl",
            "devices.csv",
            "devices.jsonl",
            "fhir/bundle.json",
            "profile.csv",
            "profile.jsonl",
            "samples.csv",
            "samples.jsonl",
        ]
    );

    let seeded = seeded_count(&portal).await;
    assert!(seeded > 1000, "the seed has a day of heart rate");
    assert_eq!(files["samples.jsonl"].lines().count(), seeded);
    let csv: Vec<&str> = files["samples.csv"].split("\r\n").collect();
    assert_eq!(
        csv[0],
        "metric,unit,time_utc,ts_ms,utc_offset_s,value,source_kind,sub_source,device"
    );
    assert_eq!(
        csv.len(),
        seeded + 2,
        "header, rows, and the final line end"
    );
    // Each JSON line parses and agrees with its CSV row.
    let weights: Vec<Value> = files["samples.jsonl"]
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["metric"] == "weight")
        .collect();
    assert_eq!(weights.len(), 17, "20 days minus every sixth");
    let w = &weights[0];
    assert_eq!(w["unit"], "kg");
    assert_eq!(w["device"], "AA:BB:CC:DD:EE:02");
    assert_eq!(w["source_kind"], "gateway");
    let ts = w["ts_ms"].as_i64().unwrap();
    assert_eq!(
        w["time_utc"],
        chrono::Utc
            .timestamp_millis_opt(ts)
            .unwrap()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    );
    let row = format!(
        "weight,kg,{},{ts},,{},gateway,,AA:BB:CC:DD:EE:02",
        w["time_utc"].as_str().unwrap(),
        w["value"].as_f64().unwrap()
    );
    assert!(csv.contains(&row.as_str()), "{row}");

    let daily_csv: Vec<&str> = files["daily.csv"].split("\r\n").collect();
    assert_eq!(
        daily_csv[0],
        "metric,unit,day,start_utc,end_utc,count,sum,min,max,mean"
    );
    assert_eq!(
        daily_csv.len() - 2,
        files["daily.jsonl"].lines().count(),
        "one CSV row per JSON line"
    );
    // Steps per Berlin day, computed from the seeded inputs.
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let mut expected: BTreeMap<String, f64> = BTreeMap::new();
    for h in 0..7 * 24 {
        let ts = NOW - 7 * DAY + h * HOUR;
        let day = berlin
            .timestamp_millis_opt(ts)
            .unwrap()
            .format("%Y-%m-%d")
            .to_string();
        *expected.entry(day).or_default() += ((ts / HOUR) % 7 * 150) as f64;
    }
    let got: BTreeMap<String, f64> = files["daily.jsonl"]
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["metric"] == "steps")
        .map(|v| {
            (
                v["day"].as_str().unwrap().to_owned(),
                v["sum"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);

    let devices: Vec<Value> = files["devices.jsonl"]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = devices.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "AA:BB:CC:DD:EE:01",
            "AA:BB:CC:DD:EE:02",
            "AA:BB:CC:DD:EE:03",
            "AA:BB:CC:DD:EE:04"
        ],
        "claimed devices only; the neighbour's band is not ours"
    );
    assert!(files["devices.csv"].starts_with("id,name,model,first_seen_utc,"));

    let profile: Value = serde_json::from_str(files["profile.jsonl"].trim()).unwrap();
    assert_eq!(profile["display_name"], "Ada");
    assert_eq!(profile["time_zone"], "Europe/Berlin");
    assert_eq!(profile["account"]["email"], "ada@example.org");
    for (name, body) in &files {
        assert!(!body.contains("$argon2"), "{name} holds a password hash");
        assert!(!body.contains("password_hash"), "{name}");
        assert!(!body.contains("totp_secret"), "{name}");
        assert!(!body.contains("token_hash"), "{name}");
    }
    assert!(files["profile.csv"].starts_with("person_id,household_id,display_name,"));
    assert_eq!(files["profile.csv"].split("\r\n").count(), 3);

    let readme = &files["README.txt"];
    for needle in [
        "samples.jsonl",
        "daily.csv",
        "fhir/bundle.json",
        "RFC 3339",
        "Europe/Berlin",
        "41981-2",
        "ACTIVE energy",
        "one Observation per minute",
    ] {
        assert!(readme.contains(needle), "README lacks {needle}");
    }
}

/// The FHIR bundle of the seeded portal, parsed.
async fn bundle(portal: &TestPortal, options: &ExportOptions) -> Value {
    let files = export_zip(portal, options).await;
    serde_json::from_str(&files["fhir/bundle.json"]).unwrap()
}

fn observations<'a>(bundle: &'a Value, loinc: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["code"]["coding"][0]["code"] == loinc)
        .collect()
}

#[tokio::test]
async fn every_bundle_entry_passes_the_official_r4_schema() {
    let portal = seeded().await;
    for detail in [HeartRateDetail::PerMinute, HeartRateDetail::PerSample] {
        let bundle = bundle(
            &portal,
            &ExportOptions {
                heart_rate: detail,
                ..options()
            },
        )
        .await;
        assert_eq!(bundle["resourceType"], "Bundle");
        assert_eq!(bundle["type"], "collection");
        let entries = bundle["entry"].as_array().unwrap();
        assert!(entries.len() > 100);
        for entry in entries {
            let errors = schema_errors(&entry["resource"]);
            assert!(errors.is_empty(), "{}: {errors:?}", entry["resource"]);
        }
        // The bundle shell itself, without its entries, is a valid Bundle too.
        let mut shell = bundle.clone();
        shell["entry"] = Value::Array(vec![entries[0].clone()]);
        assert!(schema_errors(&shell).is_empty());
    }
}

#[tokio::test]
async fn the_schema_check_catches_planted_errors() {
    let portal = seeded().await;
    let bundle = bundle(&portal, &options()).await;
    let good = observations(&bundle, "29463-7")[0].clone();
    assert!(schema_errors(&good).is_empty());
    let plant = |path: &str, value: Value| {
        let mut bad = good.clone();
        *bad.pointer_mut(path).unwrap() = value;
        bad
    };
    for bad in [
        plant("/status", Value::from("done")),
        plant("/valueQuantity/value", Value::from("72.1")),
        plant("/effectiveDateTime", Value::from("yesterday")),
        // (A bare string for a Reference passes: the schema's Reference has no
        // `type: object`. An unknown key inside it does not.)
        plant("/subject", serde_json::json!({"ref": "Patient/1"})),
        plant("/code/coding/0/system", Value::from(17)),
    ] {
        assert!(!schema_errors(&bad).is_empty(), "accepted {bad}");
    }
    let mut unknown = good.clone();
    unknown["valueKilograms"] = Value::from(72);
    assert!(!schema_errors(&unknown).is_empty());
}

#[tokio::test]
async fn observations_keep_the_vital_signs_rules() {
    let portal = seeded().await;
    let bundle = bundle(&portal, &options()).await;
    let entries = bundle["entry"].as_array().unwrap();
    let patient = &entries[0];
    assert_eq!(patient["resource"]["resourceType"], "Patient");
    assert_eq!(patient["resource"]["name"][0]["text"], "Ada");
    let patient_url = patient["fullUrl"].as_str().unwrap();
    assert!(patient_url.starts_with("urn:uuid:"));
    for e in &entries[1..] {
        let r = &e["resource"];
        assert_eq!(r["resourceType"], "Observation");
        assert_eq!(r["status"], "final");
        assert_eq!(r["subject"]["reference"], patient_url);
        assert_eq!(r["code"]["coding"][0]["system"], "http://loinc.org");
        let category = &r["category"][0]["coding"][0];
        assert_eq!(
            category["system"],
            "http://terminology.hl7.org/CodeSystem/observation-category"
        );
        if let Some(q) = r.get("valueQuantity") {
            assert_eq!(q["system"], "http://unitsofmeasure.org");
            assert!(q["code"].is_string());
        }
    }
    let vital = |o: &Value| o["category"][0]["coding"][0]["code"] == "vital-signs";

    // Heart rate, per minute: one per minute with samples, the minute's mean.
    let hr = observations(&bundle, "8867-4");
    let minutes = portal
        .store
        .series(
            portal.user.person_id,
            Metric::HeartRate,
            cohealth_store::Bucket::Minute,
            0,
            NOW + DAY,
        )
        .await
        .unwrap();
    assert_eq!(hr.len(), minutes.len());
    assert!(hr.len() > 1000);
    for o in &hr {
        assert!(vital(o));
        assert_eq!(o["valueQuantity"]["code"], "/min");
        assert!(o["effectivePeriod"]["start"].is_string());
    }
    // The seed's heart rate is 60 + (minute % 50); check one minute.
    let first = hr[0];
    let start =
        chrono::DateTime::parse_from_rfc3339(first["effectivePeriod"]["start"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
    assert_eq!(
        first["valueQuantity"]["value"].as_f64().unwrap(),
        60.0 + ((start / 60_000) % 50) as f64
    );
    // 13:30 UTC is 14:30 in Berlin: dateTimes carry the person's offset.
    assert!(
        first["effectivePeriod"]["start"]
            .as_str()
            .unwrap()
            .ends_with("+01:00")
    );

    // Per sample instead: one per stored sample.
    let per_sample = bundle_per_sample(&portal).await;
    let hr_samples = portal
        .store
        .count_samples(portal.user.person_id, Metric::HeartRate)
        .await
        .unwrap();
    assert_eq!(
        observations(&per_sample, "8867-4").len(),
        usize::try_from(hr_samples).unwrap()
    );

    // Steps per local Berlin day, with the day as effectivePeriod.
    let steps = observations(&bundle, "41950-7");
    assert_eq!(steps.len(), 8, "a week of hours touches eight Berlin days");
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let mut total = 0.0;
    for o in &steps {
        assert_eq!(o["category"][0]["coding"][0]["code"], "activity");
        let start = o["effectivePeriod"]["start"].as_str().unwrap();
        let end = o["effectivePeriod"]["end"].as_str().unwrap();
        assert!(start.ends_with("T00:00:00+01:00"), "{start}");
        assert!(end.ends_with("T00:00:00+01:00"), "{end}");
        let from = chrono::DateTime::parse_from_rfc3339(start)
            .unwrap()
            .timestamp_millis();
        let to = chrono::DateTime::parse_from_rfc3339(end)
            .unwrap()
            .timestamp_millis();
        assert_eq!(to - from, DAY, "November days in Berlin have 24 hours");
        let expected: f64 = (0..7 * 24)
            .map(|h| NOW - 7 * DAY + h * HOUR)
            .filter(|ts| (from..to).contains(ts))
            .map(|ts| ((ts / HOUR) % 7 * 150) as f64)
            .sum();
        assert_eq!(o["valueQuantity"]["value"].as_f64().unwrap(), expected);
        assert_eq!(o["valueQuantity"]["code"], "{steps}");
        assert_eq!(
            berlin
                .timestamp_millis_opt(from)
                .unwrap()
                .format("%H:%M")
                .to_string(),
            "00:00"
        );
        total += expected;
    }
    assert!(total > 0.0);

    // Active energy per day: 41981-2 in kcal.
    let energy = observations(&bundle, "41981-2");
    assert_eq!(energy.len(), 8);
    assert!(energy.iter().all(|o| o["valueQuantity"]["code"] == "kcal"));

    // Weight per sample, in kg, values as seeded.
    let weight = observations(&bundle, "29463-7");
    assert_eq!(weight.len(), 17);
    for o in &weight {
        assert!(vital(o));
        assert_eq!(o["valueQuantity"]["code"], "kg");
        let v = o["valueQuantity"]["value"].as_f64().unwrap();
        assert!([72.0, 72.3, 72.6, 72.9].contains(&v), "{v}");
    }

    // Blood pressure: the two complete pairs only, as panels.
    let bp = observations(&bundle, "85354-9");
    assert_eq!(bp.len(), 2);
    let values: Vec<(f64, f64)> = bp
        .iter()
        .map(|o| {
            assert!(vital(o));
            assert!(o.get("valueQuantity").is_none());
            let c = o["component"].as_array().unwrap();
            assert_eq!(c[0]["code"]["coding"][0]["code"], "8480-6");
            assert_eq!(c[1]["code"]["coding"][0]["code"], "8462-4");
            assert_eq!(c[0]["valueQuantity"]["code"], "mm[Hg]");
            (
                c[0]["valueQuantity"]["value"].as_f64().unwrap(),
                c[1]["valueQuantity"]["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(values, [(121.0, 79.0), (118.0, 76.0)]);

    let rest = observations(&bundle, "40443-4");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["valueQuantity"]["value"], 54.0);
    assert_eq!(rest[0]["valueQuantity"]["code"], "/min");
    let spo2 = observations(&bundle, "59408-5");
    assert_eq!(spo2.len(), 1);
    assert_eq!(spo2[0]["code"]["coding"][1]["code"], "2708-6");
    assert_eq!(spo2[0]["valueQuantity"]["value"], 97.0);
    let temp = observations(&bundle, "8310-5");
    assert_eq!(temp[0]["valueQuantity"]["code"], "Cel");
    assert_eq!(temp[0]["valueQuantity"]["value"], 36.7);
    let fat = observations(&bundle, "41982-0");
    assert_eq!(fat[0]["valueQuantity"]["code"], "%");
    assert_eq!(fat[0]["valueQuantity"]["value"], 21.4);
}

async fn bundle_per_sample(portal: &TestPortal) -> Value {
    bundle(
        portal,
        &ExportOptions {
            heart_rate: HeartRateDetail::PerSample,
            ..options()
        },
    )
    .await
}

#[tokio::test]
async fn a_date_range_limits_every_file() {
    let portal = seeded().await;
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let from = cohealth_store::day_start(
        berlin,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
    );
    let to = cohealth_store::day_start(
        berlin,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 3).unwrap(),
    );
    let files = export_zip(
        &portal,
        &ExportOptions {
            from_ms: Some(from),
            to_ms: Some(to),
            ..options()
        },
    )
    .await;
    let samples: Vec<Value> = files["samples.jsonl"]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!samples.is_empty());
    assert!(samples.iter().all(|s| {
        let ts = s["ts_ms"].as_i64().unwrap();
        (from..to).contains(&ts)
    }));
    let days: Vec<Value> = files["daily.jsonl"]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        days.iter()
            .all(|d| d["day"] == "2026-11-01" || d["day"] == "2026-11-02")
    );
    let bundle: Value = serde_json::from_str(&files["fhir/bundle.json"]).unwrap();
    assert_eq!(observations(&bundle, "41950-7").len(), 2);
}

#[cfg(unix)]
#[tokio::test]
async fn the_scheduled_export_writes_private_files_and_keeps_the_newest() {
    use std::os::unix::fs::PermissionsExt;
    let portal = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("backups");
    let mut written = Vec::new();
    for run in 0..3 {
        let now = NOW + run * DAY;
        let report = scheduled::run(&portal.store, &target, 2, now)
            .await
            .unwrap();
        assert_eq!(report.failed, 0);
        assert_eq!(report.written.len(), 1, "one person, one file");
        written.push(report.written[0].clone());
        assert_eq!(report.removed, u64::from(run == 2));
    }
    let mut names: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let person = portal.user.person_id;
    assert_eq!(
        names,
        [
            scheduled::file_name(person, NOW + DAY),
            scheduled::file_name(person, NOW + 2 * DAY),
        ],
        "the oldest is gone and no temp file is left"
    );
    assert_eq!(
        names[0],
        format!("cohealth-person-{person}-20261105T133000Z.zip")
    );
    assert!(!written[0].exists());
    for name in &names {
        let path = target.join(name);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
        let files = unzip(&std::fs::read(&path).unwrap());
        assert_eq!(
            files["samples.jsonl"].lines().count(),
            seeded_count(&portal).await
        );
        assert!(files.contains_key("fhir/bundle.json"));
    }
    let dir_mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
}

/// Peak memory of a large export (run by hand: `cargo test --release -p
/// cohealth-portal --test it -- --ignored big_export --nocapture`, with
/// `COHEALTH_EXPORT_DAYS` days of 1 Hz heart rate, default 7). Resets the
/// kernel's peak-RSS mark after loading, so the figure is the export's own.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, minutes long; run by hand"]
async fn big_export_memory() {
    fn status(field: &str) -> i64 {
        let text = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = text.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
    let days: i64 = std::env::var("COHEALTH_EXPORT_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(7);
    let portal = TestPortal::new().await;
    let strap = DeviceId::parse("AA:BB:CC:00:00:09").unwrap();
    let start = NOW - days * DAY;
    for d in 0..days {
        let points: Vec<(i64, f64)> = (0..86_400)
            .map(|s| start + d * DAY + s * 1000)
            .map(|t| (t, 50.0 + ((t / 1000) % 70) as f64))
            .collect();
        portal
            .store
            .bulk_load(
                portal.user.person_id,
                &strap,
                SourceKind::Ble,
                Metric::HeartRate,
                &points,
            )
            .await
            .unwrap();
    }
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before_kib = status("VmRSS:");
    let started = std::time::Instant::now();
    let file = tempfile::tempfile().unwrap();
    let (file, summary) = export::write_zip(&portal.store, portal.user.person_id, &options(), file)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let peak_kib = status("VmHWM:");
    let size = file.metadata().unwrap().len();
    eprintln!(
        "{} samples, {} observations: {:?}, zip {} MiB, RSS before {} MiB, peak during export {} MiB",
        summary.samples,
        summary.observations,
        elapsed,
        size / (1 << 20),
        before_kib / 1024,
        peak_kib / 1024
    );
    assert_eq!(summary.samples, u64::try_from(days * 86_400).unwrap());
}

#[tokio::test]
async fn an_export_of_a_deleted_range_is_empty() {
    let portal = seeded().await;
    let person = portal.user.person_id;
    let (from, to) = (NOW - 26 * HOUR, NOW);
    let heart = |files: &BTreeMap<String, String>| {
        files["samples.jsonl"]
            .lines()
            .filter(|l| l.contains(r#""metric":"heart_rate""#))
            .count()
    };
    let ranged = ExportOptions {
        from_ms: Some(from),
        to_ms: Some(to),
        ..options()
    };
    assert!(
        heart(&export_zip(&portal, &ranged).await) > 0,
        "seeded heart rate"
    );
    portal
        .store
        .delete_metric_range(person, Metric::HeartRate, from, to)
        .await
        .unwrap();
    let files = export_zip(&portal, &ranged).await;
    assert_eq!(heart(&files), 0, "no raw heart rate left in the range");
    let fhir = &files["fhir/bundle.json"];
    assert!(!fhir.contains("8867-4"), "no heart-rate Observation either");
    // Other metrics of the range stay.
    assert!(files["samples.jsonl"].contains(r#""metric":"steps""#));
}
