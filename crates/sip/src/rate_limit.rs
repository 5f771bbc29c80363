//! Per-source-IP token buckets, applied before a message reaches the SIP stack.
//!
//! The stack queues parsed messages on unbounded channels, so a flood from one peer must be cut
//! at the socket. Each source IP gets a bucket of `burst` tokens refilled at `per_second`; one
//! message (or one TCP connection attempt) costs one token. Time is an input, so the logic is
//! deterministic under test.
//!
//! The table is bounded: idle buckets (full again) are swept when it grows past
//! [`MAX_TRACKED_SOURCES`], and if it is still full a new source is refused rather than tracked.
//! A flood of spoofed sources therefore cannot grow memory without bound.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Most source addresses tracked at once.
pub(crate) const MAX_TRACKED_SOURCES: usize = 65_536;

/// The rate a single source IP may send at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained messages per second.
    pub per_second: u32,
    /// Messages that may arrive back to back after a quiet period.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 200,
            burst: 400,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

/// The per-IP bucket table.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `ip` at `now`; false when its bucket is empty.
    pub(crate) fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let rate = f64::from(self.limit.per_second);
        let burst = f64::from(self.limit.burst.max(1));
        // A poisoned lock only means another thread panicked mid-update of plain numbers; the
        // table is still usable.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !buckets.contains_key(&ip) && buckets.len() >= MAX_TRACKED_SOURCES {
            buckets.retain(|_, b| refill(b, now, rate, burst) < burst);
            if buckets.len() >= MAX_TRACKED_SOURCES {
                return false;
            }
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            refilled_at: now,
        });
        if refill(bucket, now, rate, burst) >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or_default()
    }
}

/// Brings `bucket` up to date at `now` and returns its tokens.
fn refill(bucket: &mut Bucket, now: Instant, rate: f64, burst: f64) -> f64 {
    let elapsed = now
        .saturating_duration_since(bucket.refilled_at)
        .as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
    bucket.refilled_at = now;
    bucket.tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn burst_then_refused_then_refilled() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 10,
            burst: 5,
        });
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.allow(ip(1), t0));
        }
        assert!(!limiter.allow(ip(1), t0));
        // 100 ms at 10/s refills one token.
        assert!(limiter.allow(ip(1), t0 + Duration::from_millis(100)));
        assert!(!limiter.allow(ip(1), t0 + Duration::from_millis(100)));
    }

    #[test]
    fn sources_are_independent() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 1,
        });
        let t0 = Instant::now();
        assert!(limiter.allow(ip(1), t0));
        assert!(!limiter.allow(ip(1), t0));
        assert!(limiter.allow(ip(2), t0));
    }

    #[test]
    fn sustained_rate_is_held() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 200,
            burst: 400,
        });
        let t0 = Instant::now();
        // 2000 attempts spread over one second: burst plus one second of refill get through.
        let allowed = (0..2000)
            .filter(|i| limiter.allow(ip(7), t0 + Duration::from_micros(i * 500)))
            .count();
        assert!((595..=605).contains(&allowed), "allowed {allowed}");
    }

    #[test]
    fn table_is_bounded() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 1,
            burst: 2,
        });
        let t0 = Instant::now();
        for n in 0..MAX_TRACKED_SOURCES as u32 {
            assert!(limiter.allow(ip(n), t0));
        }
        // Every bucket is half empty: nothing to sweep, the new source is refused.
        assert!(!limiter.allow(ip(u32::MAX), t0));
        assert_eq!(limiter.tracked(), MAX_TRACKED_SOURCES);
        // Two seconds later the buckets are full again and are swept.
        assert!(limiter.allow(ip(u32::MAX), t0 + Duration::from_secs(2)));
        assert_eq!(limiter.tracked(), 1);
    }
}
