//! Counters of what the endpoint received, answered and refused, readable while it runs.
//! Relaxed atomics only: they are bumped on the signalling path, never locked.

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
    /// New requests (retransmissions absorbed), by method: the index of [`METHODS`].
    pub requests: [u64; METHODS.len()],
    /// Final answers we gave, by method (the index of [`METHODS`]) and class (`[0]` is 1xx …
    /// `[5]` is 6xx): the endpoint's own answers out of dialog, and the answers and refusals
    /// of new INVITEs. In-dialog requests are answered by the stack and not counted here.
    pub answers: [[u64; 6]; METHODS.len()],
}

/// The request methods counted apart; every other one counts as `OTHER`.
pub const METHODS: [&str; 15] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "UPDATE",
    "INFO",
    "PRACK",
    "REGISTER",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "MESSAGE",
    "REFER",
    "OTHER",
];

/// The index of `method` in [`METHODS`].
pub(crate) fn method_index(method: &str) -> usize {
    METHODS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(method))
        .unwrap_or(METHODS.len() - 1)
}

/// The live counters behind [`EndpointStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) malformed: AtomicU64,
    pub(crate) rate_limited: AtomicU64,
    pub(crate) unknown_method: AtomicU64,
    pub(crate) requests: [AtomicU64; METHODS.len()],
    pub(crate) answers: [[AtomicU64; 6]; METHODS.len()],
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a new request.
    pub(crate) fn request(&self, method: &str) {
        Counters::bump(&self.requests[method_index(method)]);
    }

    /// Counts a final answer `code` to a `method` request.
    pub(crate) fn answer(&self, method: &str, code: u16) {
        if let Some(class) = (code / 100).checked_sub(1).filter(|c| *c < 6) {
            Counters::bump(&self.answers[method_index(method)][usize::from(class)]);
        }
    }

    pub(crate) fn snapshot(&self) -> EndpointStats {
        EndpointStats {
            malformed: self.malformed.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            unknown_method: self.unknown_method.load(Ordering::Relaxed),
            requests: std::array::from_fn(|i| self.requests[i].load(Ordering::Relaxed)),
            answers: std::array::from_fn(|i| {
                std::array::from_fn(|c| self.answers[i][c].load(Ordering::Relaxed))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_land_in_their_cells() {
        let c = Counters::default();
        c.request("INVITE");
        c.request("options");
        c.request("FOO");
        c.answer("INVITE", 200);
        c.answer("INVITE", 486);
        c.answer("OPTIONS", 503);
        c.answer("OPTIONS", 99);
        c.answer("OPTIONS", 700);
        let s = c.snapshot();
        assert_eq!(s.requests[method_index("INVITE")], 1);
        assert_eq!(s.requests[method_index("OPTIONS")], 1);
        assert_eq!(s.requests[METHODS.len() - 1], 1);
        assert_eq!(s.answers[0][1], 1);
        assert_eq!(s.answers[0][3], 1);
        assert_eq!(s.answers[method_index("OPTIONS")], [0, 0, 0, 0, 1, 0]);
    }
}
