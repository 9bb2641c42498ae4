//! A fixed-size, log-linear histogram for latencies (or any `u64` sample).
//!
//! Values below [`SUB_BUCKETS`] get one exact bucket each. Above that, every
//! power-of-two range `[2^e, 2^(e+1))` is split into [`SUB_BUCKETS`] equal
//! sub-buckets, so a recorded value is known to within `1 / SUB_BUCKETS`
//! (about 3 %) of itself, over the whole `u64` range, in 1,920 counters
//! (15 KiB). That is the HdrHistogram idea without its configuration knobs.
//!
//! Recording is a couple of shifts and one increment, so every load worker
//! keeps its own histogram and the workers' histograms are [`merged`] at the
//! end: no locks, no atomics on the request path.
//!
//! Latencies are recorded in nanoseconds ([`Histogram::record_duration`]).
//!
//! [`merged`]: Histogram::merge

use std::time::Duration;

/// log2 of the number of sub-buckets per power of two.
pub const SUB_BUCKET_BITS: u32 = 5;
/// Sub-buckets per power of two; also the number of exact low buckets.
pub const SUB_BUCKETS: u64 = 1 << SUB_BUCKET_BITS;
/// Total number of counters.
pub const BUCKETS: usize = (SUB_BUCKETS + (64 - SUB_BUCKET_BITS as u64) * SUB_BUCKETS) as usize;

/// Index of the bucket holding `v`.
fn bucket_of(v: u64) -> usize {
    if v < SUB_BUCKETS {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BUCKET_BITS
    let shift = exp - SUB_BUCKET_BITS;
    let sub = (v >> shift) & (SUB_BUCKETS - 1); // drop the leading 1 bit
    (SUB_BUCKETS + u64::from(shift) * SUB_BUCKETS + sub) as usize
}

/// Inclusive `(low, high)` value range of bucket `idx`.
fn bucket_bounds(idx: usize) -> (u64, u64) {
    let idx = idx as u64;
    if idx < SUB_BUCKETS {
        return (idx, idx);
    }
    let shift = (idx - SUB_BUCKETS) / SUB_BUCKETS;
    let sub = (idx - SUB_BUCKETS) % SUB_BUCKETS;
    let low = (SUB_BUCKETS + sub) << shift;
    (low, low + ((1u64 << shift) - 1))
}

/// A log-linear histogram of `u64` values. See the module docs.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("min", &self.min())
            .field("max", &self.max())
            .field("p50", &self.percentile(50.0))
            .field("p99", &self.percentile(99.0))
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Record one value.
    pub fn record(&mut self, v: u64) {
        if let Some(c) = self.counts.get_mut(bucket_of(v)) {
            *c += 1;
        }
        self.count += 1;
        self.sum += u128::from(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Record a duration, in nanoseconds (saturating at `u64::MAX` ns, ~584 years).
    pub fn record_duration(&mut self, d: Duration) {
        self.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Add every sample of `other` into `self`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += *b;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Smallest recorded value (exact), 0 when empty.
    pub fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }

    /// Largest recorded value (exact), 0 when empty.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Arithmetic mean (exact), 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum as f64 / self.count as f64
        }
    }

    /// The value at percentile `p` (0–100), nearest-rank definition: the
    /// smallest recorded value such that at least `p` % of the samples are
    /// ≤ it. Reported as the upper edge of its bucket (so it never
    /// understates, and overstates by at most ~3 %), clamped to the exact
    /// observed `[min, max]`. Returns 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let p = if p.is_nan() {
            100.0
        } else {
            p.clamp(0.0, 100.0)
        };
        let rank = ((p / 100.0) * self.count as f64).ceil() as u64;
        let rank = rank.clamp(1, self.count);
        let mut seen = 0u64;
        for (idx, c) in self.counts.iter().enumerate() {
            seen += *c;
            if seen >= rank {
                let (_, high) = bucket_bounds(idx);
                return high.clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// [`percentile`](Self::percentile) of a histogram of nanoseconds, as a `Duration`.
    pub fn percentile_duration(&self, p: f64) -> Duration {
        Duration::from_nanos(self.percentile(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_cover_u64() {
        let mut expected_low = 0u64;
        for idx in 0..BUCKETS {
            let (low, high) = bucket_bounds(idx);
            assert_eq!(low, expected_low, "bucket {idx}");
            assert!(high >= low);
            assert_eq!(bucket_of(low), idx);
            assert_eq!(bucket_of(high), idx);
            if idx + 1 == BUCKETS {
                assert_eq!(high, u64::MAX);
            } else {
                expected_low = high + 1;
            }
        }
    }

    #[test]
    fn relative_error_is_bounded() {
        for v in [
            33u64,
            100,
            1_000,
            12_345,
            999_999,
            123_456_789,
            u64::MAX / 3,
        ] {
            let (low, high) = bucket_bounds(bucket_of(v));
            assert!(low <= v && v <= high);
            let width = (high - low + 1) as f64;
            assert!(
                width / v as f64 <= 1.0 / SUB_BUCKETS as f64 + 1e-12,
                "v={v}"
            );
        }
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 1..=20u64 {
            h.record(v);
        }
        assert_eq!(h.count(), 20);
        assert_eq!(h.percentile(50.0), 10);
        assert_eq!(h.percentile(95.0), 19);
        assert_eq!(h.percentile(100.0), 20);
        assert_eq!(h.percentile(0.0), 1);
        assert_eq!(h.min(), 1);
        assert_eq!(h.max(), 20);
        assert!((h.mean() - 10.5).abs() < 1e-9);
    }

    #[test]
    fn percentiles_of_uniform_range_within_bucket_error() {
        let mut h = Histogram::new();
        for v in 1..=100_000u64 {
            h.record(v * 1_000); // 1 µs .. 100 ms in ns
        }
        for (p, exact) in [
            (50.0, 50_000_000u64),
            (99.0, 99_000_000),
            (99.9, 99_900_000),
        ] {
            let got = h.percentile(p);
            assert!(got >= exact, "p{p}: {got} < {exact}");
            assert!(
                (got - exact) as f64 / exact as f64 <= 1.0 / SUB_BUCKETS as f64,
                "p{p}: {got} vs {exact}"
            );
        }
        assert_eq!(h.percentile(100.0), 100_000_000);
    }

    #[test]
    fn percentile_nearest_rank_with_outlier() {
        let mut h = Histogram::new();
        for _ in 0..99 {
            h.record(10);
        }
        h.record(1_000_000);
        assert_eq!(h.percentile(50.0), 10);
        assert_eq!(h.percentile(99.0), 10);
        assert_eq!(h.percentile(99.5), 1_000_000);
        assert_eq!(h.percentile(100.0), 1_000_000);
    }

    #[test]
    fn clamped_to_observed_range() {
        let mut h = Histogram::new();
        h.record(1_000_001);
        // The bucket's upper edge is above the only sample; clamp to max.
        assert_eq!(h.percentile(50.0), 1_000_001);
        assert_eq!(h.percentile(1.0), 1_000_001);
    }

    #[test]
    fn empty_histogram() {
        let h = Histogram::new();
        assert_eq!(h.count(), 0);
        assert_eq!(h.percentile(50.0), 0);
        assert_eq!(h.min(), 0);
        assert_eq!(h.max(), 0);
        assert_eq!(h.mean(), 0.0);
    }

    #[test]
    fn merge_equals_recording_everything_once() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        let mut all = Histogram::new();
        for v in 0..5_000u64 {
            let x = v * v + 7;
            if v % 3 == 0 {
                a.record(x);
            } else {
                b.record(x);
            }
            all.record(x);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        assert_eq!(a.min(), all.min());
        assert_eq!(a.max(), all.max());
        for p in [1.0, 50.0, 90.0, 99.0, 99.99] {
            assert_eq!(a.percentile(p), all.percentile(p));
        }
        // Merging into an empty histogram keeps min right.
        let mut e = Histogram::new();
        e.merge(&all);
        assert_eq!(e.min(), 7);
    }

    #[test]
    fn durations_in_nanoseconds() {
        let mut h = Histogram::new();
        h.record_duration(Duration::from_micros(250));
        assert_eq!(h.percentile_duration(50.0), Duration::from_micros(250));
        h.record_duration(Duration::MAX);
        assert_eq!(h.max(), u64::MAX);
    }
}
