//! [`Latch`]: symmetric RTP, choosing which source a leg listens to and sends back to.
//!
//! The rule, in order, for an RTP packet from address `a` with SSRC `s`:
//! 1. latching disabled: every packet is accepted, and the leg sends to the SDP address;
//! 2. nothing latched yet: latch on to `(a, s)`; the leg sends to `a` from now on;
//! 3. `a` is the latched address: accepted; a new `s` is the peer restarting its stream;
//! 4. another address, the latched SSRC: dropped as foreign (a copy through another path, or
//!    someone replaying the stream); never a reason to move;
//! 5. another address, another SSRC: a candidate. Once [`RELATCH_PACKETS`] packets of the same
//!    candidate `(a, s)` arrive with no packet from the latched address in between, the leg
//!    re-latches to `(a, s)` (a media server or NAT binding that really changed). Until then
//!    its packets are dropped as foreign, so a single stray packet can neither redirect the
//!    leg's audio nor inject audio into the call.

use std::net::SocketAddr;

use rtp::Ssrc;

/// Packets a new source must send in a row before the leg moves to it.
pub const RELATCH_PACKETS: u32 = 3;

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

    /// Applies the rule of the module documentation to a packet.
    pub(crate) fn check(&mut self, addr: SocketAddr, ssrc: Ssrc) -> Verdict {
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
        let packets = match self.candidate {
            Some(c) if c.source.addr == addr && c.source.ssrc == ssrc => c.packets + 1,
            _ => 1,
        };
        if packets < RELATCH_PACKETS {
            self.candidate = Some(Candidate {
                source: Source { addr, ssrc },
                packets,
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

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn first_packet_latches_and_a_stray_one_does_not_move_it() {
        let mut l = Latch::new(true);
        assert_eq!(l.check(addr(1), Ssrc(1)), Verdict::Latched);
        assert_eq!(l.check(addr(2), Ssrc(9)), Verdict::Foreign);
        assert_eq!(l.check(addr(1), Ssrc(1)), Verdict::Accept);
        assert_eq!(l.address(), Some(addr(1)));
    }

    #[test]
    fn a_new_source_must_persist_without_the_old_one() {
        let mut l = Latch::new(true);
        l.check(addr(1), Ssrc(1));
        assert_eq!(l.check(addr(2), Ssrc(9)), Verdict::Foreign);
        assert_eq!(l.check(addr(2), Ssrc(9)), Verdict::Foreign);
        // The old source is still alive: the run starts over.
        assert_eq!(l.check(addr(1), Ssrc(1)), Verdict::Accept);
        assert_eq!(l.check(addr(2), Ssrc(9)), Verdict::Foreign);
        assert_eq!(l.check(addr(2), Ssrc(9)), Verdict::Foreign);
        assert_eq!(
            l.check(addr(2), Ssrc(9)),
            Verdict::Relatched { previous: addr(1) }
        );
        assert_eq!(l.address(), Some(addr(2)));
    }

    #[test]
    fn the_latched_ssrc_from_elsewhere_never_moves_it() {
        let mut l = Latch::new(true);
        l.check(addr(1), Ssrc(1));
        for _ in 0..10 {
            assert_eq!(l.check(addr(2), Ssrc(1)), Verdict::Foreign);
        }
        // The peer restarting its stream on the same address is fine.
        assert_eq!(l.check(addr(1), Ssrc(5)), Verdict::Accept);
    }

    #[test]
    fn disabled_accepts_everything_and_latches_nothing() {
        let mut l = Latch::new(false);
        assert_eq!(l.check(addr(1), Ssrc(1)), Verdict::Accept);
        assert_eq!(l.check(addr(2), Ssrc(2)), Verdict::Accept);
        assert_eq!(l.address(), None);
    }
}
