//! [`SequenceTracker`]: loss and lateness of the peer's stream from its sequence numbers
//! (RFC 3550 A.3), per SSRC; a new SSRC starts a new count and keeps the old losses.

use rtp::{SeqNo, SeqUnwrapper, Ssrc};

/// Counts the peer's lost and late packets.
#[derive(Debug, Default)]
pub(crate) struct SequenceTracker {
    current: Option<Run>,
    lost_before: u64,
    late: u64,
}

#[derive(Debug)]
struct Run {
    ssrc: Ssrc,
    seq: SeqUnwrapper,
    first: i64,
    received: u64,
}

impl Run {
    fn lost(&self) -> u64 {
        let highest = self.seq.highest().unwrap_or(self.first);
        let expected = u64::try_from(highest - self.first + 1).unwrap_or(0);
        expected.saturating_sub(self.received)
    }
}

impl SequenceTracker {
    /// Records one accepted packet.
    pub(crate) fn record(&mut self, ssrc: Ssrc, seq: SeqNo) {
        if self.current.as_ref().is_none_or(|r| r.ssrc != ssrc) {
            if let Some(old) = self.current.take() {
                self.lost_before += old.lost();
            }
            self.current = Some(Run {
                ssrc,
                seq: SeqUnwrapper::new(),
                first: 0,
                received: 0,
            });
        }
        let Some(run) = self.current.as_mut() else {
            unreachable!("a run was started above");
        };
        let highest = run.seq.highest();
        let ext = run.seq.unwrap(seq);
        match highest {
            None => run.first = ext,
            Some(h) if ext < h => {
                self.late += 1;
                run.first = run.first.min(ext);
            }
            Some(_) => {}
        }
        run.received += 1;
    }

    /// Packets missing so far.
    pub(crate) fn lost(&self) -> u64 {
        self.lost_before + self.current.as_ref().map_or(0, Run::lost)
    }

    /// Packets that arrived after a later one.
    pub(crate) fn late(&self) -> u64 {
        self.late
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_lost_until_filled_and_reordering_is_late() {
        let mut t = SequenceTracker::default();
        for s in [65534u16, 65535, 1, 3] {
            t.record(Ssrc(1), SeqNo(s));
        }
        assert_eq!((t.lost(), t.late()), (2, 0)); // 0 and 2
        t.record(Ssrc(1), SeqNo(0));
        assert_eq!((t.lost(), t.late()), (1, 1));
        // A new SSRC keeps the old losses and starts afresh.
        t.record(Ssrc(2), SeqNo(100));
        t.record(Ssrc(2), SeqNo(102));
        assert_eq!((t.lost(), t.late()), (2, 1));
    }
}
