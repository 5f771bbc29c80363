//! Latency and pacing distributions: a histogram of fixed 10 µs buckets up to 2 s (larger
//! values are counted and keep the exact maximum), so percentiles cost no sorting and no
//! memory per sample.

use serde::Serialize;

/// Bucket width.
const BUCKET_NS: i64 = 10_000;
/// Buckets: 0 to 2 s.
const BUCKETS: usize = 200_000;

/// A distribution of non-negative durations in nanoseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    over: u64,
    count: u64,
    max_ns: i64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            over: 0,
            count: 0,
            max_ns: 0,
        }
    }
}

/// p50, p99 and the maximum of a distribution, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Summary {
    /// Samples.
    pub count: u64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Maximum, ms.
    pub max_ms: f64,
}

impl Histogram {
    /// Counts one sample; negative values count as 0.
    pub fn record(&mut self, ns: i64) {
        let ns = ns.max(0);
        self.count += 1;
        self.max_ns = self.max_ns.max(ns);
        match usize::try_from(ns / BUCKET_NS) {
            Ok(i) if i < BUCKETS => self.counts[i] += 1,
            _ => self.over += 1,
        }
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.over += other.over;
        self.count += other.count;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// How many samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at or below which a share `q` (0..=1) of the samples lie: the upper edge of
    /// its bucket, never more than the maximum. `None` without samples.
    pub fn quantile_ns(&self, q: f64) -> Option<i64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(((i as i64 + 1) * BUCKET_NS).min(self.max_ns));
            }
        }
        Some(self.max_ns)
    }

    /// p50, p99 and max in ms.
    pub fn summary(&self) -> Summary {
        let ms = |ns: Option<i64>| ns.map_or(0.0, |v| v as f64 / 1e6);
        Summary {
            count: self.count,
            p50_ms: ms(self.quantile_ns(0.5)),
            p99_ms: ms(self.quantile_ns(0.99)),
            max_ms: ms(Some(self.max_ns).filter(|_| self.count > 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_bucket_upper_edges_capped_by_the_maximum() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.record(ms * 1_000_000);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile_ns(0.5), Some(50_010_000));
        assert_eq!(h.quantile_ns(0.99), Some(99_010_000));
        assert_eq!(h.quantile_ns(1.0), Some(100_000_000));
        let s = h.summary();
        assert!((s.p50_ms - 50.01).abs() < 1e-9);
        assert!((s.max_ms - 100.0).abs() < 1e-9);
    }

    #[test]
    fn values_past_the_range_keep_the_exact_maximum() {
        let mut h = Histogram::default();
        h.record(5_000_000_000);
        h.record(-3);
        assert_eq!(h.quantile_ns(0.5), Some(10_000));
        assert_eq!(h.quantile_ns(1.0), Some(5_000_000_000));
        assert!((h.summary().max_ms - 5000.0).abs() < 1e-9);
    }

    #[test]
    fn merging_adds_counts_and_an_empty_histogram_has_no_quantile() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        assert_eq!(a.quantile_ns(0.5), None);
        assert_eq!(a.summary(), Summary::default());
        a.record(1_000);
        b.record(30_000_000);
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.quantile_ns(1.0), Some(30_000_000));
    }
}
