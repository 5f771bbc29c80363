//! Extending 16-bit sequence numbers and 32-bit timestamps to 64 bits (RFC 3550 Appendix A.1).
//!
//! Each value is taken as the one nearest to the previous extended value: a step forward of less
//! than half the range is progress, anything else is a step back (reordering or a late
//! duplicate). The extended value therefore never jumps by more than half the range, and a
//! stream that crosses 65535 → 0 keeps counting up.

use crate::{RtpTime, SeqNo};

/// Extends [`SeqNo`] values to a 64-bit count that does not wrap.
#[derive(Debug, Clone, Default)]
pub struct SeqUnwrapper {
    last: Option<i64>,
}

impl SeqUnwrapper {
    /// A fresh unwrapper; the first value extends to itself.
    pub fn new() -> Self {
        Self::default()
    }

    /// The extended value of `seq`. The first call returns `seq` itself, plus 2^16 so that a
    /// step back from it stays positive.
    pub fn unwrap(&mut self, seq: SeqNo) -> i64 {
        let ext = match self.last {
            None => (1 << 16) + i64::from(seq.0),
            Some(last) => last + i64::from(seq.0.wrapping_sub(last as u16) as i16),
        };
        if self.last.is_none_or(|last| ext > last) {
            self.last = Some(ext);
        }
        ext
    }

    /// The highest extended value seen.
    pub fn highest(&self) -> Option<i64> {
        self.last
    }
}

/// Extends [`RtpTime`] values to a signed 64-bit count that does not wrap.
#[derive(Debug, Clone, Default)]
pub struct TimeUnwrapper {
    last: Option<i64>,
}

impl TimeUnwrapper {
    /// A fresh unwrapper; the first value extends to itself.
    pub fn new() -> Self {
        Self::default()
    }

    /// The extended value of `ts`, nearest to the highest value seen so far.
    pub fn unwrap(&mut self, ts: RtpTime) -> i64 {
        let ext = match self.last {
            None => (1 << 32) + i64::from(ts.0),
            Some(last) => last + i64::from(ts.0.wrapping_sub(last as u32) as i32),
        };
        if self.last.is_none_or(|last| ext > last) {
            self.last = Some(ext);
        }
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_keeps_counting_across_the_wrap() {
        let mut u = SeqUnwrapper::new();
        let first = u.unwrap(SeqNo(65534));
        assert_eq!(u.unwrap(SeqNo(65535)), first + 1);
        assert_eq!(u.unwrap(SeqNo(0)), first + 2);
        assert_eq!(u.unwrap(SeqNo(1)), first + 3);
        // A late packet from before the wrap is placed before, not 65536 ahead.
        assert_eq!(u.unwrap(SeqNo(65535)), first + 1);
        assert_eq!(u.highest(), Some(first + 3));
    }

    #[test]
    fn timestamps_keep_counting_across_the_wrap() {
        let mut u = TimeUnwrapper::new();
        let first = u.unwrap(RtpTime(u32::MAX - 79));
        assert_eq!(u.unwrap(RtpTime(80)), first + 160);
        assert_eq!(u.unwrap(RtpTime(u32::MAX - 79)), first);
    }
}
