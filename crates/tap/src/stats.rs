//! Counters of a tap.

/// Counters of one incoming stream of a tap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LaneStats {
    /// RTP packets handed to the tap for this stream, whatever became of them.
    pub packets_in: u64,
    /// Packets that arrived after the alignment window had passed their place.
    pub late: u64,
    /// Packets never received: gaps in the sequence numbers (RFC 3550 A.3).
    pub lost: u64,
    /// Packets received a second time.
    pub duplicate: u64,
    /// Datagrams that were not valid RTP.
    pub malformed: u64,
    /// Packets of a payload type that carries no G.711 audio (telephone-event, comfort noise).
    pub ignored: u64,
    /// Times the stream's timeline was re-anchored: a new SSRC or a timestamp jump.
    pub resyncs: u64,
}

/// Counters of a tap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapStats {
    /// Frames produced: one per ptime from start until stop.
    pub frames_produced: u64,
    /// What the party says.
    pub speak: LaneStats,
    /// What the party hears.
    pub listen: LaneStats,
}

impl TapStats {
    /// Packets in, over both streams.
    pub fn packets_in(&self) -> u64 {
        self.speak.packets_in + self.listen.packets_in
    }

    /// Late packets, over both streams.
    pub fn late(&self) -> u64 {
        self.speak.late + self.listen.late
    }

    /// Lost packets, over both streams.
    pub fn lost(&self) -> u64 {
        self.speak.lost + self.listen.lost
    }

    /// Duplicate packets, over both streams.
    pub fn duplicate(&self) -> u64 {
        self.speak.duplicate + self.listen.duplicate
    }
}
