//! [`Law`]: which of the two G.711 companding laws a stream uses.

use crate::{alaw_to_ulaw, decode_alaw, decode_ulaw, encode_alaw, encode_ulaw, ulaw_to_alaw};

/// A G.711 companding law, as carried by RTP payload type 0 (PCMU) or 8 (PCMA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// µ-law, "PCMU", RTP static payload type 0.
    Ulaw,
    /// A-law, "PCMA", RTP static payload type 8.
    Alaw,
}

impl Law {
    /// The sample rate of every G.711 stream.
    pub const RATE_HZ: u32 = 8000;

    /// The code word of digital silence: `0xFF` (µ-law) or `0xD5` (A-law).
    pub const fn silence(self) -> u8 {
        match self {
            Law::Ulaw => 0xFF,
            Law::Alaw => 0xD5,
        }
    }

    /// The static RTP payload type (RFC 3551 §6).
    pub const fn payload_type(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// The law of a static RTP payload type, if it is a G.711 one.
    pub const fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            0 => Some(Law::Ulaw),
            8 => Some(Law::Alaw),
            _ => None,
        }
    }

    /// The SDP / SWML name: `PCMU` or `PCMA`.
    pub const fn name(self) -> &'static str {
        match self {
            Law::Ulaw => "PCMU",
            Law::Alaw => "PCMA",
        }
    }

    /// Parses `PCMU` / `PCMA`, case-insensitively.
    pub fn from_name(name: &str) -> Option<Law> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Law::Ulaw)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Law::Alaw)
        } else {
            None
        }
    }

    /// Decodes one code word of this law to linear PCM.
    #[inline]
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Law::Ulaw => decode_ulaw(code),
            Law::Alaw => decode_alaw(code),
        }
    }

    /// Encodes one linear PCM sample in this law.
    #[inline]
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::Ulaw => encode_ulaw(sample),
            Law::Alaw => encode_alaw(sample),
        }
    }

    /// Converts one code word of law `from` to this law (identity when the laws match).
    #[inline]
    pub fn transcode_from(self, from: Law, code: u8) -> u8 {
        match (from, self) {
            (Law::Ulaw, Law::Alaw) => ulaw_to_alaw(code),
            (Law::Alaw, Law::Ulaw) => alaw_to_ulaw(code),
            _ => code,
        }
    }

    /// Converts a buffer of code words of law `from` to this law, in place.
    pub fn transcode_in_place(self, from: Law, codes: &mut [u8]) {
        if from != self {
            for c in codes {
                *c = self.transcode_from(from, *c);
            }
        }
    }
}

impl core::fmt::Display for Law {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_decodes_to_the_smallest_magnitude() {
        assert_eq!(Law::Ulaw.decode(Law::Ulaw.silence()), 0);
        assert_eq!(Law::Alaw.decode(Law::Alaw.silence()), 8);
        assert_eq!(Law::Ulaw.encode(0), 0xFF);
        assert_eq!(Law::Alaw.encode(0), 0xD5);
    }

    #[test]
    fn names_and_payload_types_round_trip() {
        for law in [Law::Ulaw, Law::Alaw] {
            assert_eq!(Law::from_name(law.name()), Some(law));
            assert_eq!(Law::from_name(&law.name().to_ascii_lowercase()), Some(law));
            assert_eq!(Law::from_payload_type(law.payload_type()), Some(law));
        }
        assert_eq!(Law::from_name("G722"), None);
        assert_eq!(Law::from_payload_type(9), None);
    }
}
