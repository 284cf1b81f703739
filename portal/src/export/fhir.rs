//! The export's FHIR R4 Bundle (`type: collection`): a Patient for the person
//! and Observations for what we can map honestly to LOINC with UCUM units.
//!
//! The bundle is streamed: the opening, then one entry at a time as the store's
//! pages arrive, then the closing, so its size does not bound memory.
//!
//! | data | LOINC | unit (UCUM) | category | effective |
//! | --- | --- | --- | --- | --- |
//! | heart rate | 8867-4 | `/min` | vital-signs | minute (mean of the minute rollup) or instant |
//! | resting heart rate | 40443-4 | `/min` | vital-signs | instant |
//! | steps, per local day | 41950-7 | `{steps}` | activity | the local day |
//! | active energy, per local day | 41981-2 | `kcal` | activity | the local day |
//! | body weight | 29463-7 | `kg` | vital-signs | instant |
//! | blood pressure panel | 85354-9 (+ 8480-6, 8462-4) | `mm[Hg]` | vital-signs | instant |
//! | SpO2 | 59408-5 and 2708-6 | `%` | vital-signs | instant |
//! | body temperature | 8310-5 | `Cel` | vital-signs | instant |
//! | body fat | 41982-0 | `%` | exam | instant |
//!
//! Basal energy, distance, HRV and the rest stay in the tabular files only.

use std::io::Write;

use chrono::TimeZone;
use chrono_tz::Tz;
use cohealth_ingest::Metric;
use cohealth_store::{ExportProfile, Store, metric_id};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ExportError, ExportOptions, HeartRateDetail, PAGE, utc};

/// LOINC's code system.
pub const LOINC: &str = "http://loinc.org";
/// UCUM's code system.
pub const UCUM: &str = "http://unitsofmeasure.org";
/// HL7's observation category code system.
pub const CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

/// The bundle's `fullUrl` (and the subject reference) for the person's Patient:
/// a name-based UUID from the person id, stable across exports.
pub fn patient_url(person: i64) -> String {
    let digest = Sha256::digest(format!("cohealth-patient-{person}").as_bytes());
    let h = hex::encode(&digest[..16]);
    // Version 5-style layout: version nibble 5, variant bits 10.
    let variant = ['8', '9', 'a', 'b'][usize::from(digest[8] & 0x03)];
    format!(
        "urn:uuid:{}-{}-5{}-{}{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        variant,
        &h[17..20],
        &h[20..32]
    )
}

/// One LOINC-coded mapping of a metric to an Observation.
struct Code {
    id: &'static str,
    codes: &'static [(&'static str, &'static str)],
    text: &'static str,
    unit: &'static str,
    ucum: &'static str,
    category: (&'static str, &'static str),
    profile: Option<&'static str>,
}

const VITAL: (&str, &str) = ("vital-signs", "Vital Signs");
const ACTIVITY: (&str, &str) = ("activity", "Activity");
const EXAM: (&str, &str) = ("exam", "Exam");
const SD: &str = "http://hl7.org/fhir/StructureDefinition/";

const HEART_RATE: Code = Code {
    id: "hr",
    codes: &[("8867-4", "Heart rate")],
    text: "Heart rate",
    unit: "beats/minute",
    ucum: "/min",
    category: VITAL,
    profile: Some("heartrate"),
};
const RESTING_HR: Code = Code {
    id: "rhr",
    codes: &[("40443-4", "Heart rate --resting")],
    text: "Resting heart rate",
    unit: "beats/minute",
    ucum: "/min",
    category: VITAL,
    profile: Some("vitalsigns"),
};
const STEPS: Code = Code {
    id: "steps",
    codes: &[("41950-7", "Number of steps in 24 hour Measured")],
    text: "Steps in the local day",
    unit: "steps",
    ucum: "{steps}",
    category: ACTIVITY,
    profile: None,
};
const ACTIVE_ENERGY: Code = Code {
    id: "energy",
    codes: &[("41981-2", "Calories burned")],
    text: "Active energy burned in the local day",
    unit: "kcal",
    ucum: "kcal",
    category: ACTIVITY,
    profile: None,
};
const WEIGHT: Code = Code {
    id: "weight",
    codes: &[("29463-7", "Body weight")],
    text: "Body weight",
    unit: "kg",
    ucum: "kg",
    category: VITAL,
    profile: Some("bodyweight"),
};
const SPO2: Code = Code {
    id: "spo2",
    codes: &[
        (
            "59408-5",
            "Oxygen saturation in Arterial blood by Pulse oximetry",
        ),
        ("2708-6", "Oxygen saturation in Arterial blood"),
    ],
    text: "Oxygen saturation (SpO2)",
    unit: "%",
    ucum: "%",
    category: VITAL,
    profile: Some("oxygensat"),
};
const TEMPERATURE: Code = Code {
    id: "temp",
    codes: &[("8310-5", "Body temperature")],
    text: "Body temperature",
    unit: "Cel",
    ucum: "Cel",
    category: VITAL,
    profile: Some("bodytemp"),
};
const BODY_FAT: Code = Code {
    id: "fat",
    codes: &[("41982-0", "Percentage of body fat Measured")],
    text: "Body fat",
    unit: "%",
    ucum: "%",
    category: EXAM,
    profile: None,
};

/// Per-sample metrics: the metric and how it maps.
const PER_SAMPLE: [(Metric, &Code); 5] = [
    (Metric::RestingHeartRate, &RESTING_HR),
    (Metric::Weight, &WEIGHT),
    (Metric::Spo2, &SPO2),
    (Metric::BodyTemperature, &TEMPERATURE),
    (Metric::BodyFat, &BODY_FAT),
];

fn coding(code: &Code) -> Value {
    let codings: Vec<Value> = code
        .codes
        .iter()
        .map(|(c, d)| json!({"system": LOINC, "code": c, "display": d}))
        .collect();
    json!({"coding": codings, "text": code.text})
}

fn quantity(code: &Code, value: f64) -> Value {
    json!({"value": round(value), "unit": code.unit, "system": UCUM, "code": code.ucum})
}

/// Two decimals: enough for every mapped unit, and keeps the bundle small.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// An instant on the person's clock as a FHIR dateTime with its offset.
fn local(tz: Tz, ms: i64) -> String {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%:z").to_string())
        .unwrap_or_else(|| utc(ms))
}

/// A bare Observation of `code` about the patient, without effective or value.
fn observation(code: &Code, id: String, subject: &Value) -> Value {
    let mut obs = json!({
        "resourceType": "Observation",
        "id": id,
        "status": "final",
        "category": [{
            "coding": [{"system": CATEGORY, "code": code.category.0, "display": code.category.1}],
            "text": code.category.1,
        }],
        "code": coding(code),
        "subject": subject,
    });
    if let Some(profile) = code.profile {
        obs["meta"] = json!({"profile": [format!("{SD}{profile}")]});
    }
    obs
}

/// Streams entries into the bundle array, commas included.
struct Entries<'w, W: Write> {
    out: &'w mut W,
    count: u64,
}

impl<W: Write> Entries<'_, W> {
    fn push(&mut self, resource: &Value) -> Result<(), ExportError> {
        // The Patient always comes first, so every Observation follows a comma.
        self.out.write_all(b",\n")?;
        serde_json::to_writer(&mut *self.out, &json!({"resource": resource}))?;
        self.count += 1;
        Ok(())
    }

    fn push_full(&mut self, full_url: &str, resource: &Value) -> Result<(), ExportError> {
        serde_json::to_writer(
            &mut *self.out,
            &json!({"fullUrl": full_url, "resource": resource}),
        )?;
        Ok(())
    }
}

/// The Patient resource for the person.
pub fn patient(profile: &ExportProfile) -> Value {
    let mut patient = json!({
        "resourceType": "Patient",
        "id": format!("person-{}", profile.person_id),
        "active": true,
        "name": [{"text": profile.display_name}],
    });
    let gender = match profile
        .sex
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("male" | "m") => Some("male"),
        Some("female" | "f") => Some("female"),
        Some("") | None => None,
        Some(_) => Some("other"),
    };
    if let Some(gender) = gender {
        patient["gender"] = json!(gender);
    }
    if let Some(dob) = profile.date_of_birth.as_deref()
        && chrono::NaiveDate::parse_from_str(dob, "%Y-%m-%d").is_ok()
    {
        patient["birthDate"] = json!(dob);
    }
    let mut telecom = Vec::new();
    if let Some(phone) = profile.phone.as_deref().filter(|p| !p.trim().is_empty()) {
        telecom.push(json!({"system": "phone", "value": phone}));
    }
    if let Some(account) = &profile.account {
        telecom.push(json!({"system": "email", "value": account.email}));
    }
    if !telecom.is_empty() {
        patient["telecom"] = json!(telecom);
    }
    patient
}

/// Writes the whole bundle into `out`; returns the number of Observations.
pub async fn write_bundle<W: Write>(
    out: &mut W,
    store: &Store,
    profile: &ExportProfile,
    options: &ExportOptions,
) -> Result<u64, ExportError> {
    let tz: Tz = profile.time_zone.parse().unwrap_or(Tz::UTC);
    let person = profile.person_id;
    let (from, to) = options.range();
    let url = patient_url(person);
    let subject = json!({"reference": url, "display": profile.display_name});

    out.write_all(b"{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"timestamp\":")?;
    serde_json::to_writer(&mut *out, &utc(options.generated_ms))?;
    out.write_all(b",\"entry\":[\n")?;
    let mut entries = Entries { out, count: 0 };
    entries.push_full(&url, &patient(profile))?;

    // Heart rate.
    let hr = metric_id(Metric::HeartRate);
    match options.heart_rate {
        HeartRateDetail::PerMinute => {
            let mut after = None;
            loop {
                let page = store
                    .export_minutes_page(person, hr, from, to, after, PAGE)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.bucket_ms);
                for m in page.iter().filter(|m| m.n > 0) {
                    let mut obs =
                        observation(&HEART_RATE, format!("hr-m-{}", m.bucket_ms), &subject);
                    obs["effectivePeriod"] = json!({
                        "start": local(tz, m.bucket_ms),
                        "end": local(tz, m.bucket_ms + 60_000),
                    });
                    obs["valueQuantity"] = quantity(&HEART_RATE, m.total / m.n as f64);
                    entries.push(&obs)?;
                }
                if (page.len() as i64) < PAGE {
                    break;
                }
            }
        }
        HeartRateDetail::PerSample => {
            per_sample(
                &mut entries,
                store,
                person,
                hr,
                &HEART_RATE,
                &subject,
                tz,
                options,
            )
            .await?;
        }
    }

    // Per-sample vital signs and body composition.
    for (metric, code) in PER_SAMPLE {
        let id = metric_id(metric);
        per_sample(&mut entries, store, person, id, code, &subject, tz, options).await?;
    }

    // Blood pressure panels from systolic/diastolic pairs at one instant.
    let (sys, dia) = (
        metric_id(Metric::BloodPressureSystolic),
        metric_id(Metric::BloodPressureDiastolic),
    );
    let mut after = None;
    loop {
        let page = store
            .export_pressure_page(person, sys, dia, from, to, after, PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some((last.ts_ms, last.source_id));
        for bp in &page {
            entries.push(&pressure(bp, &subject, tz))?;
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }

    // Daily sums over the person's local days.
    for (metric, code) in [
        (Metric::Steps, &STEPS),
        (Metric::ActiveEnergy, &ACTIVE_ENERGY),
    ] {
        let id = metric_id(metric);
        // Starting just before this metric's first day skips the others' days.
        let mut after = Some((id, String::new()));
        loop {
            let page = store
                .export_days_page(person, from, to, after.clone(), PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some((last.metric_id, last.day.clone()));
            let done = last.metric_id > id || (page.len() as i64) < PAGE;
            for d in page.iter().filter(|d| d.metric_id == id) {
                let mut obs = observation(code, format!("{}-{}", code.id, d.day), &subject);
                obs["effectivePeriod"] = json!({
                    "start": local(tz, d.start_ms),
                    "end": local(tz, d.end_ms),
                });
                obs["valueQuantity"] = quantity(code, d.total);
                entries.push(&obs)?;
            }
            if done {
                break;
            }
        }
    }

    let count = entries.count;
    out_close(entries.out)?;
    Ok(count)
}

fn out_close<W: Write>(out: &mut W) -> Result<(), ExportError> {
    out.write_all(b"\n]}\n")?;
    Ok(())
}

fn pressure(bp: &cohealth_store::ExportPressure, subject: &Value, tz: Tz) -> Value {
    let panel = Code {
        id: "bp",
        codes: &[("85354-9", "Blood pressure panel with all children optional")],
        text: "Blood pressure",
        unit: "mm[Hg]",
        ucum: "mm[Hg]",
        category: VITAL,
        profile: Some("bp"),
    };
    let part = |code: &str, display: &str, value: f64| {
        json!({
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "valueQuantity": {"value": round(value), "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        })
    };
    let mut obs = observation(&panel, format!("bp-{}-{}", bp.ts_ms, bp.source_id), subject);
    obs["effectiveDateTime"] = json!(local(tz, bp.ts_ms));
    obs["component"] = json!([
        part("8480-6", "Systolic blood pressure", bp.systolic),
        part("8462-4", "Diastolic blood pressure", bp.diastolic),
    ]);
    obs
}

/// One Observation per sample of `metric_id`.
#[allow(clippy::too_many_arguments)]
async fn per_sample<W: Write>(
    entries: &mut Entries<'_, W>,
    store: &Store,
    person: i64,
    metric_id: i64,
    code: &Code,
    subject: &Value,
    tz: Tz,
    options: &ExportOptions,
) -> Result<(), ExportError> {
    let (from, to) = options.range();
    let mut after = None;
    loop {
        let page = store
            .export_metric_page(person, metric_id, from, to, after, PAGE)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some((last.ts_ms, last.source_id));
        for s in &page {
            let mut obs = observation(
                code,
                format!("{}-{}-{}", code.id, s.ts_ms, s.source_id),
                subject,
            );
            obs["effectiveDateTime"] = json!(local(tz, s.ts_ms));
            obs["valueQuantity"] = quantity(code, s.value);
            obs["device"] = json!({"display": s.device});
            entries.push(&obs)?;
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_urls_are_stable_uuids() {
        let a = patient_url(7);
        assert_eq!(a, patient_url(7));
        assert_ne!(a, patient_url(8));
        let uuid = a.strip_prefix("urn:uuid:").unwrap_or_default();
        let parts: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(uuid.as_bytes()[14], b'5');
    }
}
