//! [`LegStats`]: the counters of one leg.

use std::time::Instant;

/// Counters of one leg since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// RTP packets accepted from the peer (audio, telephone-event or other payload types).
    pub packets_in: u64,
    /// Bytes of those packets, headers included.
    pub bytes_in: u64,
    /// RTP packets handed to the socket: audio frames and relayed telephone-events.
    pub packets_out: u64,
    /// Bytes of those packets, headers included.
    pub bytes_out: u64,
    /// Datagrams that are not RTP.
    pub malformed: u64,
    /// RTCP packets that arrived on the RTP port (RFC 5761), ignored.
    pub rtcp_ignored: u64,
    /// RTP packets from a source other than the latched one, dropped.
    pub foreign: u64,
    /// Packets never received: gaps in the peer's sequence numbers (RFC 3550 A.3).
    pub lost: u64,
    /// Packets that arrived after a later one of the same stream (reordered or late).
    pub late: u64,
    /// Times the leg latched on to a new source after the first.
    pub relatches: u64,
    /// RFC 4733 telephone-event packets received from the peer.
    pub events_in: u64,
    /// Telephone-event packets relayed to the peer.
    pub events_out: u64,
    /// Telephone-event packets not relayed: the peer did not negotiate telephone-event, the
    /// leg does not send, or the queue was full.
    pub events_dropped: u64,
    /// Audio frames skipped because the shell fell behind by more than the burst limit.
    pub frames_skipped: u64,
    /// Packets the socket refused (buffer full or an OS error); never retried.
    pub send_failed: u64,
    /// ICMP errors reported on receive (port unreachable after a send), ignored.
    pub icmp_errors: u64,
    /// When the last packet was accepted from the peer.
    pub last_packet_at: Option<Instant>,
}
