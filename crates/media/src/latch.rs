//! `Latch`: symmetric RTP, choosing which source a leg listens to and sends back to.
//!
//! The rule, in order, for an RTP packet from address `a` with SSRC `s`:
//! 1. latching disabled: every packet is accepted, and the leg sends to the SDP address;
//! 2. nothing latched yet: latch on to `(a, s)`; the leg sends to `a` from now on;
//! 3. `a` is the latched address: accepted; a new `s` is the peer restarting its stream;
//! 4. another address, the latched SSRC: dropped as foreign (a copy through another path, or
//!    someone replaying the stream); never a reason to move;
//! 5. another address, another SSRC: a candidate. Once the same candidate `(a, s)` has sent
//!    [`RELATCH_PACKETS`] packets over at least [`RELATCH_SPAN`], with no packet from the
//!    latched address in between, the leg re-latches to `(a, s)` (a media server or NAT
//!    binding that really changed). Until then its packets are dropped as foreign, so neither
//!    a stray packet nor a burst can redirect the leg's audio or inject audio into the call:
//!    while the peer is live its packets (every ptime) keep restarting any candidate's run.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtp::Ssrc;

/// Packets a new source must send in a row before the leg moves to it.
pub const RELATCH_PACKETS: u32 = 3;
/// How long a new source's run must last, with the latched source silent, before the leg
/// moves to it: five 20 ms packet times, more than any jitter of a live peer.
pub const RELATCH_SPAN: Duration = Duration::from_millis(100);

/// What [`Latch::check`] decided about a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// From the accepted source.
    Accept,
    /// The first packet: the leg latched on to its source.
    Latched,
    /// The leg moved to a new source; `previous` is the old address.
    Relatched { previous: SocketAddr },
    /// Not from the accepted source: drop it.
    Foreign,
}

#[derive(Debug, Clone, Copy)]
struct Source {
    addr: SocketAddr,
    ssrc: Ssrc,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    source: Source,
    packets: u32,
    since: Instant,
}

/// The latching state of one leg.
#[derive(Debug)]
pub(crate) struct Latch {
    enabled: bool,
    current: Option<Source>,
    candidate: Option<Candidate>,
}

impl Latch {
    pub(crate) fn new(enabled: bool) -> Latch {
        Latch {
            enabled,
            current: None,
            candidate: None,
        }
    }

    /// Forgets the latched source (the SDP address changed).
    pub(crate) fn reset(&mut self) {
        self.current = None;
        self.candidate = None;
    }

    /// The latched address, if latching is on and a packet has arrived.
    pub(crate) fn address(&self) -> Option<SocketAddr> {
        self.current.map(|s| s.addr)
    }

    /// Applies the rule of the module documentation to a packet that arrived at `now`.
    pub(crate) fn check(&mut self, now: Instant, addr: SocketAddr, ssrc: Ssrc) -> Verdict {
        if !self.enabled {
            return Verdict::Accept;
        }
        let Some(current) = self.current.as_mut() else {
            self.current = Some(Source { addr, ssrc });
            return Verdict::Latched;
        };
        if addr == current.addr {
            current.ssrc = ssrc;
            self.candidate = None;
            return Verdict::Accept;
        }
        if ssrc == current.ssrc {
            return Verdict::Foreign;
        }
        let (packets, since) = match self.candidate {
            Some(c) if c.source.addr == addr && c.source.ssrc == ssrc => (c.packets + 1, c.since),
            _ => (1, now),
        };
        if packets < RELATCH_PACKETS || now.saturating_duration_since(since) < RELATCH_SPAN {
            self.candidate = Some(Candidate {
                source: Source { addr, ssrc },
                packets,
                since,
            });
            return Verdict::Foreign;
        }
        let previous = current.addr;
        *current = Source { addr, ssrc };
        self.candidate = None;
        Verdict::Relatched { previous }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *START.get_or_init(Instant::now) + Duration::from_millis(ms)
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn first_packet_latches_and_a_stray_one_does_not_move_it() {
        let mut l = Latch::new(true);
        assert_eq!(l.check(at(0), addr(1), Ssrc(1)), Verdict::Latched);
        assert_eq!(l.check(at(0), addr(2), Ssrc(9)), Verdict::Foreign);
        assert_eq!(l.check(at(0), addr(1), Ssrc(1)), Verdict::Accept);
        assert_eq!(l.address(), Some(addr(1)));
    }

    #[test]
    fn a_new_source_must_persist_without_the_old_one() {
        let mut l = Latch::new(true);
        l.check(at(0), addr(1), Ssrc(1));
        assert_eq!(l.check(at(20), addr(2), Ssrc(9)), Verdict::Foreign);
        assert_eq!(l.check(at(40), addr(2), Ssrc(9)), Verdict::Foreign);
        // The old source is still alive: the run starts over.
        assert_eq!(l.check(at(50), addr(1), Ssrc(1)), Verdict::Accept);
        for ms in [60, 80, 100, 120, 140] {
            assert_eq!(l.check(at(ms), addr(2), Ssrc(9)), Verdict::Foreign);
        }
        // Three packets and 100 ms since the run began: the leg moves.
        assert_eq!(
            l.check(at(160), addr(2), Ssrc(9)),
            Verdict::Relatched { previous: addr(1) }
        );
        assert_eq!(l.address(), Some(addr(2)));
    }

    #[test]
    fn a_burst_never_takes_over_a_live_peer() {
        let mut l = Latch::new(true);
        l.check(at(0), addr(1), Ssrc(1));
        // A stranger fires 50 packets between each two of the peer's, for a second.
        for tick in 1..=50u64 {
            for k in 0..50u64 {
                let ms = (tick - 1) * 20 + k * 19 / 50;
                assert_eq!(l.check(at(ms), addr(2), Ssrc(9)), Verdict::Foreign);
            }
            assert_eq!(l.check(at(tick * 20), addr(1), Ssrc(1)), Verdict::Accept);
        }
        assert_eq!(l.address(), Some(addr(1)));
    }

    #[test]
    fn the_latched_ssrc_from_elsewhere_never_moves_it() {
        let mut l = Latch::new(true);
        l.check(at(0), addr(1), Ssrc(1));
        for _ in 0..10 {
            assert_eq!(l.check(at(0), addr(2), Ssrc(1)), Verdict::Foreign);
        }
        // The peer restarting its stream on the same address is fine.
        assert_eq!(l.check(at(0), addr(1), Ssrc(5)), Verdict::Accept);
    }

    #[test]
    fn disabled_accepts_everything_and_latches_nothing() {
        let mut l = Latch::new(false);
        assert_eq!(l.check(at(0), addr(1), Ssrc(1)), Verdict::Accept);
        assert_eq!(l.check(at(0), addr(2), Ssrc(2)), Verdict::Accept);
        assert_eq!(l.address(), None);
    }
}
