//! Counters of what the endpoint refused, readable while it runs.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the endpoint's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Messages that were not valid SIP (or lacked mandatory headers): answered 400 or dropped.
    pub malformed: u64,
    /// Messages and TCP connection attempts refused by the per-source rate limit.
    pub rate_limited: u64,
    /// Requests with a method the stack does not know, answered 501.
    pub unknown_method: u64,
}

/// The live counters behind [`EndpointStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) malformed: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) unknown_method: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> EndpointStats {
        EndpointStats {
            malformed: self.malformed.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            unknown_method: self.unknown_method.load(Ordering::Relaxed),
        }
    }
}
