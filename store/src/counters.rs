//! Running totals into increments.
//!
//! Bands report steps and energy as totals since midnight or since boot. We keep the
//! last total per source and metric (in `counter_state`, written in the same
//! transaction as the samples) and store only the increase. A total lower than the
//! last one is a reset: the new total is all new. A total at or before the last one's
//! instant is a replay or a late frame and adds nothing. The first total ever seen
//! from a source counts in full: it is what the person did since the device's reset.

/// The last total seen from one source for one metric.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CounterState {
    /// The running total.
    pub value: f64,
    /// When it was reported, UTC ms.
    pub ts_ms: i64,
}

/// Advances `state` with a new total; returns the increment to store, if any.
pub(crate) fn advance(state: &mut Option<CounterState>, value: f64, ts_ms: i64) -> Option<f64> {
    let next = CounterState { value, ts_ms };
    let delta = match *state {
        None => value,
        Some(last) if ts_ms <= last.ts_ms => return None,
        Some(last) if value >= last.value => value - last.value,
        Some(_) => value,
    };
    *state = Some(next);
    (delta > 0.0).then_some(delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_resets_and_replays() {
        let mut s = None;
        assert_eq!(advance(&mut s, 100.0, 10), Some(100.0));
        assert_eq!(advance(&mut s, 130.0, 20), Some(30.0));
        // the same frame again, and a late one
        assert_eq!(advance(&mut s, 130.0, 20), None);
        assert_eq!(advance(&mut s, 120.0, 15), None);
        // no change stores nothing
        assert_eq!(advance(&mut s, 130.0, 25), None);
        // midnight reset
        assert_eq!(advance(&mut s, 7.0, 30), Some(7.0));
        assert_eq!(advance(&mut s, 9.0, 40), Some(2.0));
        assert_eq!(
            s,
            Some(CounterState {
                value: 9.0,
                ts_ms: 40
            })
        );
    }
}
