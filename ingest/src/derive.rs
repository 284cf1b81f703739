//! Values derived from stored samples: heart-rate variability and resting
//! heart rate. Pure functions over slices; the caller picks the samples.
//!
//! # HRV (RMSSD)
//!
//! [`hrv_rmssd`] computes the root mean square of successive differences of
//! RR intervals over consecutive, non-overlapping 5-minute windows aligned to
//! the Unix epoch (00:00–00:05 UTC, …). Artefacts are rejected first, in time
//! order: an interval is accepted when it lies within 300–2000 ms (30–200
//! bpm) and differs by at most 20 % from the previously accepted interval.
//! The first interval of a series is accepted on the range rule alone.
//! Successive differences are only taken between two accepted intervals that
//! were adjacent in the input (nothing rejected between them) and in the
//! same window. A window needs at least [`MIN_RMSSD_DIFFS`] differences.
//!
//! # Resting heart rate
//!
//! [`resting_heart_rate`]: for one local day's samples, the lowest mean
//! heart rate over any 30-minute span. Spans are rolling: one starts at each
//! sample and covers `[t, t + 30 min)`. A span counts only when its samples
//! cover it: the first and last sample are at least 25 minutes apart and no
//! gap between consecutive samples exceeds 5 minutes. The span's mean is the
//! mean of its per-minute means (minute buckets counted from the span's
//! start; empty minutes are skipped), so that a burst of samples within one
//! minute weighs as one minute. Samples outside 20–250 bpm are ignored. The
//! result is in `bpm`; `None` when no span qualifies.

/// HRV window length in milliseconds (5 minutes).
pub const HRV_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Lowest accepted RR interval in ms.
pub const RR_MIN_MS: f64 = 300.0;
/// Highest accepted RR interval in ms.
pub const RR_MAX_MS: f64 = 2000.0;
/// Largest accepted relative change from the previous accepted interval.
pub const RR_MAX_CHANGE: f64 = 0.20;
/// Fewest successive differences for an RMSSD window.
pub const MIN_RMSSD_DIFFS: usize = 30;

/// Resting-heart-rate span in milliseconds (30 minutes).
pub const RHR_SPAN_MS: i64 = 30 * 60 * 1000;
/// Least covered time of a span in milliseconds (25 minutes).
pub const RHR_MIN_COVER_MS: i64 = 25 * 60 * 1000;
/// Largest gap between samples inside a span in milliseconds (5 minutes).
pub const RHR_MAX_GAP_MS: i64 = 5 * 60 * 1000;

/// One RMSSD result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmssdWindow {
    /// Window start, UTC milliseconds (a multiple of [`HRV_WINDOW_MS`]).
    pub start_ms: i64,
    /// RMSSD in milliseconds (`ms`).
    pub rmssd_ms: f64,
    /// Successive differences used.
    pub diffs: usize,
}

/// Marks each RR interval accepted (true) or rejected as an artefact.
pub fn accept_rr(rr: &[(i64, f64)]) -> Vec<bool> {
    let mut last: Option<f64> = None;
    rr.iter()
        .map(|&(_, ms)| {
            let in_range = ms.is_finite() && (RR_MIN_MS..=RR_MAX_MS).contains(&ms);
            let ok = in_range && last.is_none_or(|prev| (ms - prev).abs() <= RR_MAX_CHANGE * prev);
            if ok {
                last = Some(ms);
            }
            ok
        })
        .collect()
}

/// RMSSD per 5-minute window from `(utc_ms, rr_ms)` pairs (sorted by time
/// first; see the module documentation for the rules).
pub fn hrv_rmssd(rr: &[(i64, f64)]) -> Vec<RmssdWindow> {
    let mut sorted = rr.to_vec();
    sorted.sort_by_key(|&(t, _)| t);
    let ok = accept_rr(&sorted);
    let mut out: Vec<RmssdWindow> = Vec::new();
    let mut sum_sq = 0.0;
    let mut n = 0usize;
    let mut window: Option<i64> = None;
    let flush = |w: Option<i64>, sum_sq: f64, n: usize, out: &mut Vec<RmssdWindow>| {
        if let Some(start_ms) = w
            && n >= MIN_RMSSD_DIFFS
        {
            out.push(RmssdWindow {
                start_ms,
                rmssd_ms: (sum_sq / n as f64).sqrt(),
                diffs: n,
            });
        }
    };
    for i in 1..sorted.len() {
        let (t, ms) = sorted[i];
        let w = t.div_euclid(HRV_WINDOW_MS) * HRV_WINDOW_MS;
        if window != Some(w) {
            flush(window, sum_sq, n, &mut out);
            window = Some(w);
            sum_sq = 0.0;
            n = 0;
        }
        let (t_prev, prev) = sorted[i - 1];
        let same_window = t_prev.div_euclid(HRV_WINDOW_MS) * HRV_WINDOW_MS == w;
        if ok[i] && ok[i - 1] && same_window {
            let d = ms - prev;
            sum_sq += d * d;
            n += 1;
        }
    }
    flush(window, sum_sq, n, &mut out);
    out
}

/// The lowest 30-minute mean (of per-minute means) heart rate of one local day from
/// `(utc_ms, bpm)` samples, or `None` when no span is covered well enough
/// (see the module documentation).
pub fn resting_heart_rate(samples: &[(i64, f64)]) -> Option<f64> {
    let mut s: Vec<(i64, f64)> = samples
        .iter()
        .copied()
        .filter(|&(_, b)| b.is_finite() && (20.0..=250.0).contains(&b))
        .collect();
    s.sort_by_key(|&(t, _)| t);
    let mut best: Option<f64> = None;
    for i in 0..s.len() {
        let start = s[i].0;
        let end = start.saturating_add(RHR_SPAN_MS);
        let mut sums = [0.0f64; 30];
        let mut counts = [0u32; 30];
        let mut last = start;
        let mut ok = true;
        for &(t, bpm) in s[i..].iter().take_while(|&&(t, _)| t < end) {
            if t - last > RHR_MAX_GAP_MS {
                ok = false;
                break;
            }
            last = t;
            let minute = usize::try_from((t - start) / 60_000).unwrap_or(0).min(29);
            sums[minute] += bpm;
            counts[minute] += 1;
        }
        if !ok || last - start < RHR_MIN_COVER_MS {
            continue;
        }
        let (total, minutes) = sums
            .iter()
            .zip(&counts)
            .filter(|(_, c)| **c > 0)
            .fold((0.0, 0u32), |(t, m), (s, &c)| (t + s / f64::from(c), m + 1));
        let mean = total / f64::from(minutes);
        best = Some(best.map_or(mean, |b: f64| b.min(mean)));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmssd_of_alternating_series() {
        // 800, 850, 800, ... every 0.8 s for 5 minutes: all diffs are 50 ms.
        let rr: Vec<(i64, f64)> = (0..300)
            .map(|i| (i * 800, if i % 2 == 0 { 800.0 } else { 850.0 }))
            .collect();
        let w = hrv_rmssd(&rr);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].start_ms, 0);
        assert!((w[0].rmssd_ms - 50.0).abs() < 1e-9);
    }

    #[test]
    fn artefacts_are_rejected() {
        let rr = [
            (0, 800.0),
            (1, 250.0),
            (2, 820.0),
            (3, 1200.0),
            (4, 830.0),
            (5, 2100.0),
        ];
        assert_eq!(accept_rr(&rr), vec![true, false, true, false, true, false]);
        // Differences only between adjacent accepted intervals: none here.
        let mut many = Vec::new();
        for i in 0..100 {
            many.push((i * 2, 800.0));
            many.push((i * 2 + 1, 5000.0));
        }
        assert!(hrv_rmssd(&many).is_empty());
    }

    #[test]
    fn too_few_diffs_give_no_window() {
        let rr: Vec<(i64, f64)> = (0..10).map(|i| (i * 800, 800.0)).collect();
        assert!(hrv_rmssd(&rr).is_empty());
    }

    #[test]
    fn resting_hr_takes_lowest_covered_span() {
        let mut s = Vec::new();
        // 08:00-10:00 at 70 bpm, one sample a minute; 02:00-02:40 at 50 bpm.
        for m in 0..120 {
            s.push((8 * 3_600_000 + m * 60_000, 70.0));
        }
        for m in 0..40 {
            s.push((2 * 3_600_000 + m * 60_000, 50.0));
        }
        assert_eq!(resting_heart_rate(&s), Some(50.0));
    }

    #[test]
    fn resting_hr_needs_coverage() {
        // Only 20 minutes of data.
        let s: Vec<(i64, f64)> = (0..20).map(|m| (m * 60_000, 55.0)).collect();
        assert_eq!(resting_heart_rate(&s), None);
        // 40 minutes but with a 10-minute hole.
        let mut g: Vec<(i64, f64)> = (0..15).map(|m| (m * 60_000, 55.0)).collect();
        g.extend((25..40).map(|m| (m * 60_000, 55.0)));
        assert_eq!(resting_heart_rate(&g), None);
        assert_eq!(resting_heart_rate(&[]), None);
    }

    #[test]
    fn resting_hr_is_time_weighted() {
        // 30 min at 60 bpm one sample/minute plus a burst of 100 samples at
        // 90 bpm within one second of minute 10: the burst counts as one
        // minute (mean of that minute ~89.7), not as 100 samples.
        let mut s: Vec<(i64, f64)> = (0..=30).map(|m| (m * 60_000, 60.0)).collect();
        s.extend((0..100).map(|k| (600_000 + k, 90.0)));
        let r = resting_heart_rate(&s).unwrap();
        let minute_10 = (60.0 + 100.0 * 90.0) / 101.0;
        assert!((r - (29.0 * 60.0 + minute_10) / 30.0).abs() < 1e-9, "{r}");
    }
}
