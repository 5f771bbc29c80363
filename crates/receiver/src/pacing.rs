//! [`Pacing`]: how far each packet arrived from the steady grid the tap contract promises.
//!
//! Packet `n` of a tap is due at `start + n·ptime` (contract §3). The receiver does not know
//! `start`, so it measures each arrival's offset from the grid fixed by the first packet,
//! `offset(n) = arrival(n) − arrival(0) − n·ptime`, takes the median offset as where the
//! grid really is, and reports each packet's deviation from it, `|offset(n) − median|`. The
//! median is robust at both ends: a late first packet, or the few last packets a tap sends at
//! once when it stops (its alignment window, `docs/tap-protocol.md`), show as deviations of
//! their own without shifting the grid for every other packet. A perfectly paced stream reads
//! 0 ms everywhere whatever the path's fixed delay. Offsets go into a histogram of 0.1 ms bins
//! over ±2 s, so memory stays constant over a stream of any length; p50 and p99 are exact to
//! one bin, and so is the maximum. Over hours, a drift between the sender's and the
//! receiver's clocks shows as a slowly growing deviation.

use std::time::Instant;

/// Histogram bin width in µs.
const BIN_US: i64 = 100;
/// Offsets are binned within ±`SPAN_US`; beyond, they land in the end bins.
const SPAN_US: i64 = 2_000_000;
const BINS: usize = (2 * SPAN_US / BIN_US) as usize + 1;

/// p50, p99 and max deviation from the grid, in ms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PacingStats {
    /// Median deviation.
    pub p50_ms: f64,
    /// 99th-percentile deviation.
    pub p99_ms: f64,
    /// Largest deviation.
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
    /// The smallest and largest offsets since the last [`Pacing::take_window_max`].
    window_us: Option<(i64, i64)>,
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
            window_us: None,
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
        self.window_us = Some(self.window_us.map_or((offset, offset), |(lo, hi)| {
            (lo.min(offset), hi.max(offset))
        }));
        self.bins[Self::bin(offset)] += 1;
        self.count += 1;
    }

    fn bin(offset_us: i64) -> usize {
        ((offset_us.clamp(-SPAN_US, SPAN_US) + SPAN_US) / BIN_US) as usize
    }

    /// The bin of the median offset.
    fn median_bin(&self) -> usize {
        let rank = self.count.div_ceil(2).max(1);
        let mut seen = 0u64;
        for (i, &n) in self.bins.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return i;
            }
        }
        BINS / 2
    }

    /// The median offset, µs.
    fn median_us(&self) -> i64 {
        self.median_bin() as i64 * BIN_US - SPAN_US
    }

    /// The deviation figures over the whole stream; zeros before any packet.
    pub fn stats(&self) -> PacingStats {
        if self.count == 0 {
            return PacingStats::default();
        }
        let median = self.median_bin();
        // Deviations in bins: fold the histogram around the median.
        let mut deviations = vec![0u64; BINS];
        for (i, &n) in self.bins.iter().enumerate() {
            deviations[i.abs_diff(median)] += u64::from(n);
        }
        let quantile = |q: f64| {
            let rank = ((self.count as f64 * q).ceil() as u64).max(1);
            let mut seen = 0u64;
            for (d, &n) in deviations.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return d as f64 * BIN_US as f64 / 1000.0;
                }
            }
            0.0
        };
        let median_us = self.median_us();
        let max_us = (self.max_us - median_us).max(median_us - self.min_us);
        PacingStats {
            p50_ms: quantile(0.50),
            p99_ms: quantile(0.99),
            max_ms: max_us.max(0) as f64 / 1000.0,
        }
    }

    /// The largest deviation since the last call, in ms (for live figures).
    pub fn take_window_max(&mut self) -> Option<f64> {
        let (lo, hi) = self.window_us.take()?;
        let median = self.median_us();
        Some((hi - median).max(median - lo).max(0) as f64 / 1000.0)
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

    #[test]
    fn a_final_burst_reads_as_its_own_deviation_only() {
        let t0 = Instant::now();
        let mut p = Pacing::new(20);
        for n in 0..100u64 {
            p.handle_arrival(t0 + Duration::from_millis(20 * n), n as i64);
        }
        // The last two packets leave at once with the one before them, 20 and 40 ms early.
        let last = t0 + Duration::from_millis(20 * 99);
        p.handle_arrival(last, 100);
        p.handle_arrival(last, 101);
        let s = p.stats();
        assert_eq!((s.p50_ms, s.p99_ms), (0.0, 20.0), "{s:?}");
        assert!((s.max_ms - 40.0).abs() < 0.001, "{s:?}");
    }
}
