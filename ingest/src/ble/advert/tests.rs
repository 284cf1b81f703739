//! Advertisement decoders against the Theengs / OpenMQTTGateway cases and
//! bthome.io examples in `tests/fixtures/ble/vectors.json`.

use serde_json::Value;

use super::*;
use crate::ble::fixture_tests::{case, cases, close};
use crate::ble::{WeighingMode, decode_hex};
use crate::model::{Metric, ValueKind};

fn input_json(c: &Value) -> Value {
    match &c["input"] {
        Value::String(s) => serde_json::from_str(s).expect("input JSON string"),
        other => other.clone(),
    }
}

/// The fields Theengs would publish, from our decoded value.
fn theengs_view(d: &AdvertDecoded) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("brand".into(), d.brand.into());
    m.insert("model".into(), d.model.clone().into());
    m.insert("model_id".into(), d.model_id.clone().into());
    match &d.data {
        AdvertData::MiBand(b) => {
            if let Some(s) = b.steps {
                m.insert("steps".into(), s.into());
            }
            if let Some(h) = b.act_bpm {
                m.insert("act_bpm".into(), h.into());
            }
            m.insert("mac".into(), b.mac.clone().into());
        }
        AdvertData::XiaomiScale(f) => {
            m.insert("weight".into(), f.weight.into());
            let unit = serde_json::to_value(f.unit).unwrap();
            m.insert("unit".into(), unit);
            let mode = if f.weighing_mode == WeighingMode::Person {
                "person"
            } else {
                "object"
            };
            m.insert("weighing_mode".into(), mode.into());
            if let Some(z) = f.impedance_ohm {
                m.insert("impedance".into(), z.into());
            }
        }
        AdvertData::PolarHr(p) => {
            m.insert("bpm".into(), p.bpm.into());
        }
        AdvertData::XossHr(x) => {
            m.insert("bpm".into(), x.bpm.into());
            m.insert("batt".into(), x.batt.into());
        }
        AdvertData::AtomaxSkale(s) => {
            m.insert("weight".into(), s.weight_g.into());
        }
        AdvertData::BtHome(_) => {}
    }
    m
}

const IGNORED: [&str; 5] = ["type", "cidc", "acts", "track", "device"];

#[test]
fn theengs_cases_match() {
    let mut n = 0;
    for c in cases().iter().filter(|c| c["kind"] == "theengs-json") {
        let adv = advert_from_gateway_json(&input_json(c)).unwrap();
        let d = decode_advert(&adv)
            .unwrap()
            .unwrap_or_else(|| panic!("{}", c["id"]));
        let ours = theengs_view(&d);
        for (k, want) in c["expected"].as_object().unwrap() {
            if IGNORED.contains(&k.as_str()) {
                continue;
            }
            let got = ours
                .get(k)
                .unwrap_or_else(|| panic!("{}: missing {k}", c["id"]));
            match (got.as_f64(), want.as_f64()) {
                (Some(a), Some(b)) => assert!(close(a, b), "{}: {k} {a} != {b}", c["id"]),
                _ => assert_eq!(got, want, "{}: {k}", c["id"]),
            }
        }
        for k in ours.keys() {
            assert!(c["expected"].get(k).is_some(), "{}: extra {k}", c["id"]);
        }
        n += 1;
    }
    assert_eq!(n, 11);
}

#[test]
fn theengs_measurements() {
    let dec = |id: &str| {
        let adv = advert_from_gateway_json(&input_json(&case(id))).unwrap();
        decode_advert(&adv).unwrap().unwrap().measurements()
    };
    let mb = dec("theengs-miband-steps-and-bpm");
    assert_eq!(mb[0].metric, Metric::Steps);
    assert_eq!((mb[0].value, mb[0].kind), (9101.0, ValueKind::Cumulative));
    assert_eq!((mb[1].metric, mb[1].value), (Metric::HeartRate, 125.0));
    assert_eq!(
        dec("theengs-miband-hr-ff-absent").len(),
        1,
        "0xFF is not 255 bpm"
    );
    assert_eq!(dec("theengs-amazfit-bip-s-encrypted-mfg").len(), 1);
    assert!(
        dec("theengs-mi-scale-v1-object-kg").is_empty(),
        "object weighing"
    );
    assert!(dec("theengs-mi-body-scale2-object").is_empty());
    assert!(
        dec("theengs-atomax-skale-negative").is_empty(),
        "coffee scale"
    );
    let lb = dec("theengs-mi-scale-v1-person-lb");
    assert!(close(lb[0].value, 59.738115));
    let z = dec("theengs-mi-body-scale2-kg-impedance");
    assert_eq!((z[1].metric, z[1].value), (Metric::Impedance, 503.0));
    assert_eq!(z[0].at.map(|a| a.utc_ms), Some(1_644_856_918_000)); // 2022-02-14T16:41:58
    let h = dec("theengs-polar-h10-70");
    assert_eq!((h[0].metric, h[0].value), (Metric::HeartRate, 70.0));
    assert_eq!(dec("theengs-xoss-x2").len(), 2);
}

#[test]
fn openmqttgateway_cases() {
    for (id, stabilized) in [("omg-xmtzc04hm-1", true), ("omg-xmtzc04hm-3", false)] {
        let c = case(id);
        let adv = advert_from_gateway_json(&input_json(&c)).unwrap();
        assert!(adv.rssi.is_some());
        let d = decode_advert(&adv).unwrap().unwrap();
        let AdvertData::XiaomiScale(f) = &d.data else {
            panic!()
        };
        assert!(close(
            f.weight_kg,
            c["expected"]["weight_kg"].as_f64().unwrap()
        ));
        assert_eq!(f.stabilized, stabilized);
        assert_eq!((f.timestamp.year, f.timestamp.day), (1970, 12));
        // The scale clock was never set: results are timed by receipt.
        assert!(d.measurements().iter().all(|m| m.at.is_none()));
        assert_eq!(d.measurements().len(), usize::from(stabilized));
    }
    let c = case("omg-xiaomi-s400-encrypted");
    let v = input_json(&c);
    assert_eq!(gateway_device_id(&v).unwrap().as_str(), "AA:BB:CC:DD:EE:FF");
    let adv = advert_from_gateway_json(&v).unwrap();
    assert!(matches!(
        decode_advert(&adv),
        Err(crate::ble::BleError::Unsupported(_))
    ));
}

#[test]
fn gateway_json_errors() {
    let bad = [
        serde_json::json!([1]),
        serde_json::json!({"servicedata": "0g"}),
        serde_json::json!({"servicedata": "00", "servicedatauuid": "nope"}),
        serde_json::json!({"manufacturerdata": "57"}),
        serde_json::json!({"rssi": "loud"}),
        serde_json::json!({"rssi": 100000}),
        serde_json::json!({"name": 5}),
    ];
    for v in bad {
        assert!(advert_from_gateway_json(&v).is_err(), "{v}");
    }
    assert_eq!(decode_advert(&Advert::default()), Ok(None));
}

#[test]
fn bthome_cases() {
    let mut n = 0;
    for c in cases().iter().filter(|c| c["kind"] == "bthome-v2") {
        let bytes = decode_hex(c["input"].as_str().unwrap()).unwrap();
        let r = decode_bthome(&bytes);
        if c["expected"].get("error").is_some() {
            assert!(matches!(r, Err(crate::ble::BleError::Encrypted(_))));
            continue;
        }
        let p = r.unwrap();
        assert_eq!(p.unknown_object_id, None);
        let mut values: Vec<f64> = p.objects.iter().map(|o| o.value).collect();
        let mut want: Vec<f64> = c["expected"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(Value::as_f64)
            .collect();
        values.sort_by(f64::total_cmp);
        want.sort_by(f64::total_cmp);
        assert_eq!(values.len(), want.len(), "{}", c["id"]);
        for (a, b) in values.iter().zip(&want) {
            assert!(close(*a, *b), "{}: {a} != {b}", c["id"]);
        }
        n += 1;
    }
    assert_eq!(n, 13);
    let adv = Advert {
        service_data: vec![(
            BTHOME_UUID,
            decode_hex("4001610 65E1F 073E1D 02C409 FF01".replace(' ', "").as_str()).unwrap(),
        )],
        ..Advert::default()
    };
    let d = decode_advert(&adv).unwrap().unwrap();
    let AdvertData::BtHome(p) = &d.data else {
        panic!()
    };
    assert_eq!(p.unknown_object_id, Some(0xFF));
    let ms = d.measurements();
    assert_eq!(
        ms.len(),
        3,
        "battery and two masses; temperature is not body temperature"
    );
    assert!(close(ms[2].value, 74.86 * crate::ble::LB_TO_KG));
    assert!(decode_bthome(&[0x20]).is_err(), "v1 device info");
    assert!(decode_bthome(&[0x40, 0x02, 0x01]).is_err(), "truncated");
}
