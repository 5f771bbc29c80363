//! [`Pacing`]: how far each packet arrived from the steady grid the tap contract promises.
//!
//! Packet `n` of a tap is due at `start + n·ptime` (contract §3). The receiver does not know
//! `start`, so it measures each arrival's offset from the grid fixed by the first packet,
//! `offset(n) = arrival(n) − arrival(0) − n·ptime`, and reports each packet's lateness against
//! the earliest packet seen: `offset(n) − min offset`. A perfectly paced stream reads 0 ms
//! everywhere whatever the path's fixed delay. Offsets go into a histogram of 0.1 ms bins
//! over ±2 s, so memory stays constant over a stream of any length; p50 and p99 are exact to
//! one bin, the maximum is exact. Over hours, a drift between the sender's and the receiver's
//! clocks shows as a slowly growing lateness.

use std::time::Instant;

/// Histogram bin width in µs.
const BIN_US: i64 = 100;
/// Offsets are binned within ±`SPAN_US`; beyond, they land in the end bins.
const SPAN_US: i64 = 2_000_000;
const BINS: usize = (2 * SPAN_US / BIN_US) as usize + 1;

/// p50, p99 and max lateness, in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PacingStats {
    /// Median lateness.
    pub p50_ms: f64,
    /// 99th-percentile lateness.
    pub p99_ms: f64,
    /// Largest lateness.
    pub max_ms: f64,
}

/// Arrival offsets of one stream.
#[derive(Debug, Clone)]
pub struct Pacing {
    ptime_us: i64,
    first: Option<Instant>,
    bins: Vec<u32>,
    count: u64,
    min_us: i64,
    max_us: i64,
    /// The largest offset since the last [`Pacing::take_window_max`].
    window_max_us: Option<i64>,
}

impl Pacing {
    /// Pacing of packets `ptime_ms` apart.
    pub fn new(ptime_ms: u32) -> Pacing {
        Pacing {
            ptime_us: i64::from(ptime_ms) * 1000,
            first: None,
            bins: vec![0; BINS],
            count: 0,
            min_us: 0,
            max_us: 0,
            window_max_us: None,
        }
    }

    /// Packet number `index` (0 for the stream's first) arrived at `now`.
    pub fn handle_arrival(&mut self, now: Instant, index: i64) {
        let first = *self.first.get_or_insert(now);
        let since =
            i64::try_from(now.saturating_duration_since(first).as_micros()).unwrap_or(i64::MAX);
        let offset = since.saturating_sub(index.saturating_mul(self.ptime_us));
        if self.count == 0 {
            (self.min_us, self.max_us) = (offset, offset);
        }
        self.min_us = self.min_us.min(offset);
        self.max_us = self.max_us.max(offset);
        self.window_max_us = Some(self.window_max_us.map_or(offset, |m| m.max(offset)));
        let bin = ((offset.clamp(-SPAN_US, SPAN_US) + SPAN_US) / BIN_US) as usize;
        self.bins[bin] += 1;
        self.count += 1;
    }

    /// The lateness figures over the whole stream; zeros before any packet.
    pub fn stats(&self) -> PacingStats {
        if self.count == 0 {
            return PacingStats::default();
        }
        let ms = |us: i64| (us as f64 / 1000.0).max(0.0);
        let min_bin = ((self.min_us.clamp(-SPAN_US, SPAN_US) + SPAN_US) / BIN_US) as usize;
        let quantile = |q: f64| {
            let rank = ((self.count as f64 * q).ceil() as u64).max(1);
            let mut seen = 0u64;
            for (i, &n) in self.bins.iter().enumerate() {
                seen += u64::from(n);
                if seen >= rank {
                    return ms((i as i64 - min_bin as i64) * BIN_US);
                }
            }
            ms(self.max_us - self.min_us)
        };
        PacingStats {
            p50_ms: quantile(0.50),
            p99_ms: quantile(0.99),
            max_ms: ms(self.max_us - self.min_us),
        }
    }

    /// The largest lateness since the last call, in ms (for live figures).
    pub fn take_window_max(&mut self) -> Option<f64> {
        self.window_max_us
            .take()
            .map(|m| ((m - self.min_us) as f64 / 1000.0).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_steady_stream_reads_zero_and_late_packets_read_their_lateness() {
        let t0 = Instant::now();
        let mut p = Pacing::new(20);
        for n in 0..100u64 {
            p.handle_arrival(t0 + Duration::from_millis(20 * n), n as i64);
        }
        assert_eq!(p.stats(), PacingStats::default());
        // One packet 7 ms late, then one 3 ms late: max 7, p99 at 7 (the 2nd largest of 102
        // offsets is at rank 101 = ceil(0.99·102)), median 0.
        p.handle_arrival(t0 + Duration::from_millis(20 * 100 + 7), 100);
        p.handle_arrival(t0 + Duration::from_millis(20 * 101 + 3), 101);
        let s = p.stats();
        assert_eq!(s.p50_ms, 0.0);
        assert!((s.p99_ms - 3.0).abs() < 0.11, "{s:?}");
        assert!((s.max_ms - 7.0).abs() < 0.001, "{s:?}");
        assert_eq!(p.take_window_max().map(|m| (m * 10.0).round()), Some(70.0));
        assert_eq!(p.take_window_max(), None);
    }

    #[test]
    fn a_late_first_packet_does_not_make_the_rest_look_late() {
        let t0 = Instant::now();
        let mut p = Pacing::new(20);
        // The first packet is 5 ms late; every other one is on time.
        p.handle_arrival(t0 + Duration::from_millis(5), 0);
        for n in 1..50u64 {
            p.handle_arrival(t0 + Duration::from_millis(20 * n), n as i64);
        }
        let s = p.stats();
        assert_eq!(s.p50_ms, 0.0);
        assert!((s.max_ms - 5.0).abs() < 0.001, "{s:?}");
    }
}
