//! The fixed mapping between [`Metric`] and the `metric` table's ids.
//!
//! Ids are small integers so that each sample row stores two bytes, not a name;
//! they are seeded by the migrations and never reused.

use cohealth_ingest::Metric;

/// The `metric.id` of `m`.
pub fn metric_id(m: Metric) -> i64 {
    Metric::ALL
        .iter()
        .position(|x| *x == m)
        .map_or(0, |i| i as i64 + 1)
}

/// The metric stored under `id`, if any.
pub fn metric_from_id(id: i64) -> Option<Metric> {
    usize::try_from(id - 1)
        .ok()
        .and_then(|i| Metric::ALL.get(i).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_migration_seed() {
        let seed = include_str!("../migrations/sqlite/0001_init.sql");
        for m in Metric::ALL {
            let row = format!("({}, '{}', '{}'", metric_id(m), m.as_str(), m.unit());
            assert!(seed.contains(&row), "{row} missing from the seed");
            assert_eq!(metric_from_id(metric_id(m)), Some(m));
        }
    }
}
