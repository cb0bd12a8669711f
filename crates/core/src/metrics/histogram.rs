//! A latency histogram of atomic counters: fixed buckets, no lock.
//!
//! prometheus-client's own histogram takes a lock on every observation; this
//! one costs two relaxed atomic adds (the bucket and the sum). Buckets count
//! only their own range; the cumulative counts Prometheus wants are summed
//! when scraped, and the count is the sum of all buckets.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the buckets, in microseconds (the last bucket is +Inf).
pub const BOUNDS_USEC: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// One histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    /// `buckets[i]` counts observations in `(BOUNDS[i-1], BOUNDS[i]]`; the
    /// last one those above every bound.
    buckets: [AtomicU64; BOUNDS_USEC.len() + 1],
    sum_usec: AtomicU64,
}

/// A histogram as Prometheus exposes it.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSnapshot {
    /// Sum of observations, seconds.
    pub sum_seconds: f64,
    /// Observations.
    pub count: u64,
    /// `(upper bound in seconds, cumulative count)`, +Inf last.
    pub buckets: Vec<(f64, u64)>,
}

impl Histogram {
    /// Records one observation of `usec` microseconds.
    pub fn observe(&self, usec: u64) {
        self.observe_many(usec, 1);
    }

    /// Records `count` observations of `usec` microseconds each.
    pub fn observe_many(&self, usec: u64, count: u64) {
        let i = BOUNDS_USEC.partition_point(|&b| b < usec);
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(count, Ordering::Relaxed);
        }
        self.sum_usec
            .fetch_add(usec.saturating_mul(count), Ordering::Relaxed);
    }

    /// Cumulative buckets, count and sum.
    #[must_use]
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0u64;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let bound = BOUNDS_USEC
                .get(i)
                .map_or(f64::INFINITY, |&us| us as f64 / 1e6);
            buckets.push((bound, cumulative));
        }
        HistogramSnapshot {
            sum_seconds: self.sum_usec.load(Ordering::Relaxed) as f64 / 1e6,
            count: cumulative,
            buckets,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_inclusive() {
        let h = Histogram::default();
        h.observe(0);
        h.observe(100);
        h.observe(101);
        h.observe(20_000_000);
        h.observe_many(0, 0);
        let s = h.snapshot();
        assert_eq!(s.count, 4);
        assert_eq!(s.buckets[0], (0.0001, 2));
        assert_eq!(s.buckets[1], (0.00025, 3));
        assert_eq!(s.buckets.last().unwrap().1, 4);
        assert!(s.buckets.last().unwrap().0.is_infinite());
        assert_eq!(s.buckets[s.buckets.len() - 2].1, 3);
        assert!((s.sum_seconds - 20.000201).abs() < 1e-9);
    }
}
