//! One incoming stream of a tap, placed on the node's timeline.
//!
//! The timeline counts 8 kHz samples of the node's clock from the tap's start. A packet that
//! arrives at timeline position `a` with extended timestamp `ts` is placed at `ts + offset`,
//! where the stream's `offset` is fixed by the first packet of its epoch so that its first
//! sample sits at `a`. Later packets keep that offset, so their place comes from their
//! timestamp alone, and jitter, reordering and silence suppression need no special handling.
//! A frame due at `D` carries `[D - ptime - window, D - window)`: a packet arriving on time is
//! therefore never late, whatever its own length, and one delayed by up to the window still
//! finds its place.
//!
//! An epoch ends, and the offset is taken afresh, when the SSRC changes, when a packet would be
//! placed further ahead of its arrival than the window (a forward timestamp jump, or a first
//! packet that was itself delayed), or when three
//! packets in a row arrive late by the same amount (a backward jump, or a sender clock running
//! slow). A burst after a network stall is late by a decreasing amount and is dropped as late
//! instead.
//!
//! Samples are kept as the code words received, tagged with their law, so a single-direction
//! tap in the caller's codec is byte-exact and mixing decodes each sample with its own law.

use g711::Law;
use rtp::{Packet, SeqUnwrapper, Ssrc, TimeUnwrapper};

use crate::LaneStats;

/// A stored sample: bit 9 set when present, bit 8 the law (1 = A-law), bits 0..8 the code word.
type Slot = u16;
const PRESENT: Slot = 1 << 9;
const ALAW: Slot = 1 << 8;

/// Packets in a row late by the same amount that make the lane re-anchor.
const LATE_RUN_RESYNC: u32 = 3;
/// How many recent sequence numbers the duplicate check remembers.
const DUP_WINDOW: i64 = 128;
/// The least early placement that counts as a jump (20 ms), so that a zero window does not
/// re-anchor on every packet that beats the first one.
const MIN_EARLY_LIMIT: i64 = 160;
/// Longest payload placed, in samples (the longest G.711 ptime the contract knows of).
const MAX_PACKET_SAMPLES: i64 = 960;

/// One stream's ring of samples on the timeline.
#[derive(Debug)]
pub(crate) struct Lane {
    ring: Box<[Slot]>,
    mask: i64,
    /// How far ahead of its arrival a packet may be placed before it counts as a jump, in
    /// samples.
    early_limit: i64,
    epoch: Option<Epoch>,
    lost_in_past_epochs: u64,
    pub(crate) stats: LaneStats,
}

#[derive(Debug)]
struct Epoch {
    ssrc: Ssrc,
    seq: SeqUnwrapper,
    ts: TimeUnwrapper,
    offset: i64,
    first_seq: i64,
    received: u64,
    /// Bit `k` set: extended sequence number `highest - k` was received.
    recent: u128,
    late_run: u32,
    last_late_by: i64,
}

impl Epoch {
    fn lost(&self) -> u64 {
        let highest = self.seq.highest().unwrap_or(self.first_seq);
        let expected = u64::try_from(highest - self.first_seq + 1).unwrap_or(0);
        expected.saturating_sub(self.received)
    }
}

/// Where a placed packet ended up; only the tests look inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placed {
    InTime,
    Late,
    Duplicate,
    Ignored,
}

impl Lane {
    /// A lane for frames of `frame_samples` and an alignment window of `window_samples`.
    pub(crate) fn new(frame_samples: usize, window_samples: usize) -> Lane {
        // Early by more than the window means the latency grew beyond what jitter explains.
        let early_limit = (window_samples as i64).max(MIN_EARLY_LIMIT);
        // The furthest a write can reach past the read position: a packet arrives at most a
        // window and a frame after it (two frames, for a turn that runs late), is placed at
        // most `early_limit` ahead of its arrival, and is at most MAX_PACKET_SAMPLES long.
        // Writes beyond the ring are cut, never wrapped onto unread samples.
        let needed =
            window_samples as i64 + 2 * frame_samples as i64 + early_limit + MAX_PACKET_SAMPLES;
        let capacity = (needed as usize).next_power_of_two();
        Lane {
            ring: vec![0; capacity].into_boxed_slice(),
            mask: capacity as i64 - 1,
            early_limit,
            epoch: None,
            lost_in_past_epochs: 0,
            stats: LaneStats::default(),
        }
    }

    fn capacity(&self) -> i64 {
        self.mask + 1
    }

    /// Places `packet`, which arrived at timeline position `arrival`, given that every position
    /// before `read_pos` has already been sent.
    pub(crate) fn place(&mut self, arrival: i64, read_pos: i64, packet: &Packet<'_>) -> Placed {
        self.stats.packets_in += 1;
        let Some(law) = Law::from_payload_type(packet.header.payload_type.get()) else {
            self.stats.ignored += 1;
            return Placed::Ignored;
        };
        let n = (packet.payload.len() as i64).min(MAX_PACKET_SAMPLES);
        if n == 0 {
            self.stats.ignored += 1;
            return Placed::Ignored;
        }

        if self
            .epoch
            .as_ref()
            .is_none_or(|e| e.ssrc != packet.header.ssrc)
        {
            self.start_epoch(packet.header.ssrc);
        }
        let Some(epoch) = self.epoch.as_mut() else {
            unreachable!("an epoch was started above");
        };

        let highest_before = epoch.seq.highest();
        let seq = epoch.seq.unwrap(packet.header.seq);
        match highest_before {
            None => {
                epoch.first_seq = seq;
                epoch.recent = 1;
            }
            Some(h) if seq > h => {
                let advanced = seq - h;
                epoch.recent = if advanced >= DUP_WINDOW {
                    0
                } else {
                    epoch.recent << advanced
                };
                epoch.recent |= 1;
            }
            Some(h) => {
                let back = h - seq;
                if back < DUP_WINDOW {
                    if epoch.recent & (1u128 << back) != 0 {
                        self.stats.duplicate += 1;
                        return Placed::Duplicate;
                    }
                    epoch.recent |= 1u128 << back;
                }
                epoch.first_seq = epoch.first_seq.min(seq);
            }
        }
        epoch.received += 1;

        let ts = epoch.ts.unwrap(packet.header.timestamp);
        // The offset that puts the packet's first sample at its arrival.
        let anchor = arrival - ts;
        if epoch.received == 1 {
            epoch.offset = anchor;
        }
        let mut pos = ts + epoch.offset;

        if pos - arrival > self.early_limit {
            // Placed far ahead of its arrival: the sender's timestamps jumped forward.
            epoch.offset = anchor;
            epoch.late_run = 0;
            self.stats.resyncs += 1;
            pos = ts + epoch.offset;
        } else if pos + n <= read_pos {
            let late_by = read_pos - (pos + n);
            let steady = epoch.late_run > 0 && (late_by - epoch.last_late_by).abs() <= n;
            epoch.late_run = if steady { epoch.late_run + 1 } else { 1 };
            epoch.last_late_by = late_by;
            if epoch.late_run < LATE_RUN_RESYNC {
                self.stats.late += 1;
                return Placed::Late;
            }
            // Late by the same amount again and again: the timeline moved, not the network.
            epoch.offset = anchor;
            epoch.late_run = 0;
            self.stats.resyncs += 1;
            pos = ts + epoch.offset;
        } else {
            epoch.late_run = 0;
        }

        let tag = PRESENT | if law == Law::Alaw { ALAW } else { 0 };
        let start = pos.max(read_pos);
        let end = (pos + n).min(read_pos + self.capacity());
        for p in start..end {
            let byte = packet.payload[(p - pos) as usize];
            self.ring[(p & self.mask) as usize] = tag | Slot::from(byte);
        }
        Placed::InTime
    }

    fn start_epoch(&mut self, ssrc: Ssrc) {
        if let Some(old) = self.epoch.take() {
            self.lost_in_past_epochs += old.lost();
            self.stats.resyncs += 1;
        }
        self.epoch = Some(Epoch {
            ssrc,
            seq: SeqUnwrapper::new(),
            ts: TimeUnwrapper::new(),
            offset: 0,
            first_seq: 0,
            received: 0,
            recent: 0,
            late_run: 0,
            last_late_by: 0,
        });
    }

    /// Takes the sample at timeline position `pos` out of the ring, leaving it empty.
    #[inline]
    pub(crate) fn take(&mut self, pos: i64) -> Option<(Law, u8)> {
        let slot = std::mem::take(&mut self.ring[(pos & self.mask) as usize]);
        if slot & PRESENT == 0 {
            None
        } else {
            let law = if slot & ALAW != 0 {
                Law::Alaw
            } else {
                Law::Ulaw
            };
            Some((law, slot as u8))
        }
    }

    /// The counters, with losses brought up to date.
    pub(crate) fn stats(&self) -> LaneStats {
        let mut s = self.stats;
        s.lost = self.lost_in_past_epochs + self.epoch.as_ref().map_or(0, Epoch::lost);
        s
    }
}
