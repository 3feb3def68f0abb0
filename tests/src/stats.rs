//! Percentiles of latency samples (nearest rank), and how the benchmarks'
//! tables print them. No I/O; shared by the `bench/` crates.

use std::time::Duration;

/// Summary of one set of samples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Arithmetic mean.
    pub mean: Duration,
}

impl Stats {
    /// Nearest-rank percentiles and the mean; all zero for no samples.
    pub fn of(samples: &[Duration]) -> Stats {
        let mut sorted = samples.to_vec();
        sorted.sort();
        let n = sorted.len();
        let Some(count) = u32::try_from(n).ok().filter(|&c| c > 0) else {
            return Stats::default();
        };
        let rank = |p: f64| {
            let index = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            sorted.get(index).copied().unwrap_or_default()
        };
        Stats {
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            mean: sorted.iter().sum::<Duration>() / count,
        }
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// `a / b` with two decimals, or a dash when `b` is zero.
pub fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "—".into()
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match (
        sorted.get(n / 2),
        n.checked_sub(1).and_then(|_| sorted.get((n - 1) / 2)),
    ) {
        (Some(&hi), Some(&lo)) => (hi + lo) / 2.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).rev().map(ms_).collect();
        let s = Stats::of(&samples);
        assert_eq!((s.p50, s.p90, s.p99), (ms_(50), ms_(90), ms_(99)), "{s:?}");
        assert_eq!(s.mean, Duration::from_micros(50_500));
        let one = Stats::of(&[ms_(7)]);
        assert_eq!((one.p50, one.p99, one.mean), (ms_(7), ms_(7), ms_(7)));
        assert_eq!(Stats::of(&[]), Stats::default());
    }

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(ratio(1.0, 4.0), "0.25");
        assert_eq!(ratio(1.0, 0.0), "—");
        assert_eq!(ms(Duration::from_micros(2_346)), "2.35");
    }
}
