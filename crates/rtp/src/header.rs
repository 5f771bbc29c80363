//! The fixed RTP header and its field newtypes.

use crate::WriteError;

/// Length of the fixed header earshot writes: no CSRC list, no extension.
pub const HEADER_LEN: usize = 12;

/// Synchronisation source identifier (RFC 3550 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ssrc(pub u32);

/// 16-bit RTP sequence number; arithmetic wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeqNo(pub u16);

impl SeqNo {
    /// The sequence number `n` packets later, wrapping.
    #[inline]
    pub fn wrapping_add(self, n: u16) -> SeqNo {
        SeqNo(self.0.wrapping_add(n))
    }
}

/// 32-bit RTP timestamp in units of the payload's clock; arithmetic wraps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RtpTime(pub u32);

impl RtpTime {
    /// The timestamp `ticks` clock ticks later, wrapping.
    #[inline]
    pub fn wrapping_add(self, ticks: u32) -> RtpTime {
        RtpTime(self.0.wrapping_add(ticks))
    }
}

/// 7-bit payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadType(u8);

impl PayloadType {
    /// PCMU (RFC 3551).
    pub const PCMU: PayloadType = PayloadType(0);
    /// PCMA (RFC 3551).
    pub const PCMA: PayloadType = PayloadType(8);

    /// A payload type, if `pt` fits in 7 bits.
    pub const fn new(pt: u8) -> Option<PayloadType> {
        if pt < 128 {
            Some(PayloadType(pt))
        } else {
            None
        }
    }

    /// The 7-bit value.
    pub const fn get(self) -> u8 {
        self.0
    }
}

/// The fields of an RTP header that earshot reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The marker bit (`M`).
    pub marker: bool,
    /// The payload type (`PT`).
    pub payload_type: PayloadType,
    /// The sequence number.
    pub seq: SeqNo,
    /// The timestamp.
    pub timestamp: RtpTime,
    /// The synchronisation source.
    pub ssrc: Ssrc,
}

impl Header {
    /// Writes the 12-byte fixed header (version 2, no padding, no extension, no CSRC) at the
    /// start of `buf` and returns [`HEADER_LEN`].
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        let Some(out) = buf.get_mut(..HEADER_LEN) else {
            return Err(WriteError::BufferTooShort {
                len: buf.len(),
                needed: HEADER_LEN,
            });
        };
        out[0] = 0x80;
        out[1] = (u8::from(self.marker) << 7) | self.payload_type.0;
        out[2..4].copy_from_slice(&self.seq.0.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.0.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.0.to_be_bytes());
        Ok(HEADER_LEN)
    }
}
