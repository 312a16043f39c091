//! Order statistics of pop latencies for the benchmark: count, median, 90th percentile and
//! worst, in milliseconds.
//!
//! Percentiles use the nearest-rank method: the p-th percentile of n sorted samples is the
//! sample at rank ceil(p/100 * n), so it is always a measured value. The median of an even
//! count is the mean of the two middle samples.

use std::fmt;

/// The figures the benchmark prints.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Median, in ms.
    pub median_ms: f64,
    /// 90th percentile (nearest rank), in ms.
    pub p90_ms: i64,
    /// Largest sample, in ms.
    pub worst_ms: i64,
    /// Smallest sample, in ms.
    pub best_ms: i64,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none.
    pub fn from_samples(samples: &[i64]) -> Option<Summary> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let count = sorted.len();
        let best_ms = *sorted.first()?;
        let worst_ms = *sorted.last()?;
        let middle = count / 2;
        let median_ms = if count % 2 == 1 {
            sorted[middle] as f64
        } else {
            (sorted[middle - 1] as f64 + sorted[middle] as f64) / 2.0
        };
        Some(Summary {
            count,
            median_ms,
            p90_ms: nearest_rank(&sorted, 90),
            worst_ms,
            best_ms,
        })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "count {}, median {:.1} ms, p90 {} ms, worst {} ms, best {} ms",
            self.count, self.median_ms, self.p90_ms, self.worst_ms, self.best_ms
        )
    }
}

/// The `percent`-th percentile of non-empty `sorted` by nearest rank.
fn nearest_rank(sorted: &[i64], percent: usize) -> i64 {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Summary::from_samples(&[]), None);
    }

    #[test]
    fn one_sample_is_every_figure() {
        let summary = Summary::from_samples(&[12]);
        assert_eq!(
            summary,
            Some(Summary {
                count: 1,
                median_ms: 12.0,
                p90_ms: 12,
                worst_ms: 12,
                best_ms: 12
            })
        );
    }

    #[test]
    fn twenty_samples() {
        // 1..=20 in a shuffled order: median 10.5, p90 = rank 18 = 18.
        let samples = [
            7, 3, 20, 1, 14, 9, 2, 18, 11, 5, 16, 4, 13, 8, 19, 6, 12, 15, 10, 17,
        ];
        let summary = Summary::from_samples(&samples);
        assert_eq!(
            summary.map(|s| (s.median_ms, s.p90_ms, s.worst_ms)),
            Some((10.5, 18, 20))
        );
    }

    #[test]
    fn p90_of_ten_is_the_ninth() {
        let samples: Vec<i64> = (1..=10).collect();
        assert_eq!(Summary::from_samples(&samples).map(|s| s.p90_ms), Some(9));
    }
}
