//! Units as a person reads them. The store keeps one unit per metric (SI-ish,
//! see the metric registry); a person who chose imperial units sees weights in
//! pounds, distances in miles, speeds in mph and temperatures in °F. Only what
//! is shown changes: the API and exports stay in the stored units.

use cohealth_ingest::Metric;

/// How one metric's stored values are shown: `shown = stored * scale + offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Shown {
    /// The unit label.
    pub unit: &'static str,
    /// Multiplier from the stored unit.
    pub scale: f64,
    /// Added after scaling (temperatures).
    pub offset: f64,
}

impl Shown {
    /// A stored value as shown.
    pub fn value(self, stored: f64) -> f64 {
        stored * self.scale + self.offset
    }

    /// A stored difference or total as shown (no offset).
    pub fn amount(self, stored: f64) -> f64 {
        stored * self.scale
    }
}

/// How `metric` is shown to a person whose preference is `units`.
pub(crate) fn shown(metric: Metric, units: &str) -> Shown {
    let same = Shown {
        unit: metric.unit(),
        scale: 1.0,
        offset: 0.0,
    };
    if units != "imperial" {
        return same;
    }
    let (unit, scale, offset) = match metric {
        Metric::Weight | Metric::MuscleMass => ("lb", 1.0 / 0.453_592_37, 0.0),
        Metric::Distance => ("mi", 1.0 / 1609.344, 0.0),
        Metric::Speed => ("mph", 3600.0 / 1609.344, 0.0),
        Metric::BodyTemperature => ("degF", 1.8, 32.0),
        _ => return same,
    };
    Shown {
        unit,
        scale,
        offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imperial_conversions() {
        let lb = shown(Metric::Weight, "imperial");
        assert!((lb.value(70.0) - 154.324).abs() < 0.001);
        let f = shown(Metric::BodyTemperature, "imperial");
        assert!((f.value(37.0) - 98.6).abs() < 1e-9);
        assert!((shown(Metric::Distance, "imperial").value(1609.344) - 1.0).abs() < 1e-12);
        assert_eq!(shown(Metric::Weight, "metric").unit, "kg");
        assert_eq!(shown(Metric::HeartRate, "imperial").unit, "bpm");
    }
}
