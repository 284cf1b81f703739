//! How long a device waits before the next connection attempt.
//!
//! Exponential from `min`, capped at `max`, and jittered downwards by up to a
//! quarter so that straps dropped together (a power cut, an adapter reset) do
//! not all knock on the adapter in the same instant.

use std::hash::BuildHasher;
use std::time::Duration;

/// Exponential backoff with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub min: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay before attempt `failures + 1`, `failures` ≥ 1: between 75 % and
    /// 100 % of `min · 2^(failures-1)`, capped at `max`.
    pub fn delay(&self, failures: u32) -> Duration {
        let base = self.base(failures);
        let random = std::collections::hash_map::RandomState::new().hash_one(failures);
        let quarter = base.as_millis() as u64 / 4;
        let jitter = if quarter == 0 {
            0
        } else {
            random % (quarter + 1)
        };
        base - Duration::from_millis(jitter)
    }

    /// The delay without jitter.
    pub fn base(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.min
            .saturating_mul(1u32 << doublings.min(20))
            .min(self.max)
            .max(self.min.min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        min: Duration::from_secs(2),
        max: Duration::from_secs(300),
    };

    #[test]
    fn doubles_up_to_the_cap() {
        let bases: Vec<u64> = (1..=10).map(|f| B.base(f).as_secs()).collect();
        assert_eq!(bases, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(B.base(u32::MAX), Duration::from_secs(300));
    }

    #[test]
    fn jitter_stays_within_a_quarter_below() {
        for failures in 1..=12 {
            for _ in 0..50 {
                let d = B.delay(failures);
                let base = B.base(failures);
                assert!(d <= base && d >= base * 3 / 4, "{d:?} vs {base:?}");
            }
        }
    }
}
