//! The `README.txt` inside every export: what each file is, units, time formats
//! and how the FHIR bundle maps our data. Written for the person, not for us.

use std::fmt::Write;

use cohealth_ingest::Metric;
use cohealth_store::ExportProfile;

use super::tabular::{DAILY_CSV_HEADER, DEVICES_CSV_HEADER, SAMPLES_CSV_HEADER};
use super::{ExportOptions, HeartRateDetail, utc};

/// The README text for one export.
pub fn text(profile: &ExportProfile, options: &ExportOptions) -> String {
    let mut t = String::new();
    let range = match (options.from_ms, options.to_ms) {
        (None, None) => "all of your data".to_owned(),
        (from, to) => format!(
            "data from {} up to (not including) {}",
            from.map_or_else(|| "the beginning".to_owned(), utc),
            to.map_or_else(|| "now".to_owned(), utc)
        ),
    };
    let hr = match options.heart_rate {
        HeartRateDetail::PerMinute => {
            "one Observation per minute that has heart-rate samples; its value is the mean \
             of that minute (from the minute summary, using the preferred source) and its \
             effectivePeriod is the minute"
        }
        HeartRateDetail::PerSample => {
            "one Observation per stored heart-rate sample, at the sample's instant \
             (effectiveDateTime)"
        }
    };
    let _ = write!(
        t,
        "CoHealth export
===============

Made {made} for person {person} (time zone {zone}); it holds {range}.

Every file is UTF-8. JSON Lines files (.jsonl) hold one JSON object per line;
CSV files (.csv) use commas, CRLF line ends and a header row, and quote a cell
with double quotes when it holds a comma, quote or line break. A text cell that
a spreadsheet could mistake for a formula (starting with = + - @) is written
with a leading apostrophe; the JSON Lines twin has the text exactly as stored.

Times
-----
- *_utc and time_utc: RFC 3339 in UTC with milliseconds, e.g. 2026-11-04T13:30:00.000Z.
- ts_ms: the same instant as milliseconds since 1970-01-01T00:00:00Z.
- utc_offset_s: the UTC offset in seconds the source reported for a sample, when
  it reported one (empty otherwise); add it to the UTC time for the local clock.
- day: a local calendar date (YYYY-MM-DD) in your time zone ({zone}); a day
  starts at local midnight, so a daylight-saving day lasts 23 or 25 hours.
  start_utc and end_utc give its exact bounds.
- In fhir/bundle.json, dateTimes carry your zone's UTC offset of that instant.

Files
-----
README.txt      this file.
profile.jsonl   one line: you (name, time zone, date of birth, sex, height,
profile.csv     units, phone, conditions, allergies, blood type) and, if you
                sign in, your account (email, user name, role, dates). No
                password hash, two-factor secret or token is ever exported.
devices.jsonl   the devices you claimed: id, name, model, first and last heard,
devices.csv     when you claimed them.
                CSV columns: {devices}
samples.jsonl   every raw sample kept for you, ordered by metric, then time,
samples.csv     then source. One sample is one value of one metric at one
                instant from one source: source_kind is how it arrived (ble,
                gateway, phone, import), sub_source the gateway's or exporting
                app's name, device the device id. The same instant can appear
                once per source.
                CSV columns: {samples}
daily.jsonl     one row per metric and local day: count of samples, sum, min,
daily.csv       max and mean of the values, using the preferred source per
                minute. For steps and energy the sum is the day's total; for
                levels (heart rate, weight) the mean is the useful figure.
                CSV columns: {daily}
fhir/bundle.json  the same data for health records systems: a FHIR R4 Bundle
                of type collection (see below).

Metrics and units
-----------------
",
        made = utc(options.generated_ms),
        person = profile.person_id,
        zone = profile.time_zone,
        devices = DEVICES_CSV_HEADER,
        samples = SAMPLES_CSV_HEADER,
        daily = DAILY_CSV_HEADER,
    );
    for metric in Metric::ALL {
        let _ = writeln!(t, "{:<26} {}", metric.as_str(), metric.unit());
    }
    let _ = write!(
        t,
        "(bpm = beats per minute, count = number of steps, kcal = kilocalories,
degC = degrees Celsius, mmHg = millimetres of mercury, % = percent)

FHIR bundle (fhir/bundle.json)
------------------------------
A FHIR R4 (4.0.1) Bundle, type collection. The first entry is a Patient for you;
every Observation has status final, refers to it as its subject, is coded with
LOINC (http://loinc.org) and carries a valueQuantity in UCUM units
(http://unitsofmeasure.org):

heart rate          8867-4   /min     vital-signs  {hr}
resting heart rate  40443-4  /min     vital-signs  per sample
steps               41950-7  {{steps}} activity     one per local day, the day's
                                                   total, effectivePeriod = the day
active energy       41981-2  kcal     activity     one per local day, the day's
                    (\"Calories burned\")             total of ACTIVE energy only
                                                   (energy spent moving, above
                                                   resting); effectivePeriod = the day
body weight         29463-7  kg       vital-signs  per sample
blood pressure      85354-9  mm[Hg]   vital-signs  a panel per systolic/diastolic
                    components 8480-6 (systolic), 8462-4 (diastolic);
                    only instants where both were measured by one source
oxygen saturation   59408-5 and 2708-6  %  vital-signs  per sample
body temperature    8310-5   Cel      vital-signs  per sample
body fat            41982-0  %        exam         per sample

Basal (resting) energy, distance, speed, cadence, RR intervals, HRV, muscle
mass, BMI, impedance, mean arterial pressure, pulse rate and battery levels have
no Observation here; they are in samples.* and daily.*.
"
    );
    t
}
