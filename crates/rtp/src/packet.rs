//! Parsing a received RTP packet.

use crate::{HEADER_LEN, Header, PayloadType, RtpTime, SeqNo, Ssrc};

/// Why a datagram is not a usable RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Fewer bytes than the 12-byte fixed header.
    #[error("packet of {len} bytes is shorter than the 12-byte RTP header")]
    MessageTooShort {
        /// Bytes received.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {version}, expected 2")]
    BadVersion {
        /// The version field.
        version: u8,
    },
    /// The CSRC list runs past the end of the packet.
    #[error("{count} CSRC entries do not fit in a packet of {len} bytes")]
    CsrcOverrun {
        /// The CC field.
        count: u8,
        /// Bytes received.
        len: usize,
    },
    /// The header extension runs past the end of the packet.
    #[error("header extension of {words} words does not fit in a packet of {len} bytes")]
    ExtensionOverrun {
        /// The extension length field, in 32-bit words.
        words: u16,
        /// Bytes received.
        len: usize,
    },
    /// The padding count is zero or larger than what follows the header.
    #[error("padding of {padding} bytes is invalid for a payload area of {available} bytes")]
    BadPadding {
        /// The last byte of the packet.
        padding: u8,
        /// Bytes between the end of the header and the end of the packet.
        available: usize,
    },
    /// The payload type is an RTCP packet type (RFC 5761 §4): RTCP sent to the RTP port.
    #[error("payload type {pt} belongs to RTCP (RFC 5761)")]
    Rtcp {
        /// The second byte of the packet.
        pt: u8,
    },
}

/// Why a header could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The output buffer is shorter than the header.
    #[error("buffer of {len} bytes is too short, {needed} needed")]
    BufferTooShort {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        needed: usize,
    },
}

/// A parsed RTP packet borrowing its payload from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The header fields.
    pub header: Header,
    /// The payload, without CSRC list, extension or padding.
    pub payload: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Parses a datagram. Never panics, whatever the bytes.
    pub fn parse(buf: &'a [u8]) -> Result<Packet<'a>, ParseError> {
        let len = buf.len();
        if len < HEADER_LEN {
            return Err(ParseError::MessageTooShort { len });
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(ParseError::BadVersion { version });
        }
        let has_padding = buf[0] & 0x20 != 0;
        let has_extension = buf[0] & 0x10 != 0;
        let csrc_count = buf[0] & 0x0F;
        // RTCP SR/RR/SDES/BYE/APP (200..=204) and the feedback types land on 72..=79 here
        // once the marker bit is taken off (RFC 5761 §4).
        if (200..=211).contains(&buf[1]) {
            return Err(ParseError::Rtcp { pt: buf[1] });
        }
        let mut offset = HEADER_LEN + 4 * usize::from(csrc_count);
        if offset > len {
            return Err(ParseError::CsrcOverrun {
                count: csrc_count,
                len,
            });
        }
        if has_extension {
            let Some(ext) = buf.get(offset..offset + 4) else {
                return Err(ParseError::ExtensionOverrun { words: 0, len });
            };
            let words = u16::from_be_bytes([ext[2], ext[3]]);
            offset += 4 + 4 * usize::from(words);
            if offset > len {
                return Err(ParseError::ExtensionOverrun { words, len });
            }
        }
        let mut end = len;
        if has_padding {
            let padding = buf[len - 1];
            let available = len - offset;
            if padding == 0 || usize::from(padding) > available {
                return Err(ParseError::BadPadding { padding, available });
            }
            end -= usize::from(padding);
        }
        let header = Header {
            marker: buf[1] & 0x80 != 0,
            payload_type: PayloadType::new(buf[1] & 0x7F).unwrap_or(PayloadType::PCMU),
            seq: SeqNo(u16::from_be_bytes([buf[2], buf[3]])),
            timestamp: RtpTime(u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]])),
            ssrc: Ssrc(u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]])),
        };
        Ok(Packet {
            header,
            payload: &buf[offset..end],
        })
    }

    /// Writes `header` and `payload` into `buf` as one packet and returns its length.
    pub fn write(header: &Header, payload: &[u8], buf: &mut [u8]) -> Result<usize, WriteError> {
        let needed = HEADER_LEN + payload.len();
        if buf.len() < needed {
            return Err(WriteError::BufferTooShort {
                len: buf.len(),
                needed,
            });
        }
        header.write(buf)?;
        buf[HEADER_LEN..needed].copy_from_slice(payload);
        Ok(needed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(marker: bool) -> Header {
        Header {
            marker,
            payload_type: PayloadType::PCMA,
            seq: SeqNo(0xFFFF),
            timestamp: RtpTime(0xDEAD_BEEF),
            ssrc: Ssrc(0x0102_0304),
        }
    }

    #[test]
    fn writes_the_fixed_header_byte_for_byte() {
        let mut buf = [0u8; 14];
        let n = Packet::write(&header(true), &[0xD5, 0x55], &mut buf).expect("buffer is large");
        assert_eq!(n, 14);
        assert_eq!(
            buf,
            [
                0x80, 0x88, 0xFF, 0xFF, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 0xD5, 0x55
            ]
        );
        let p = Packet::parse(&buf).expect("valid");
        assert_eq!(p.header, header(true));
        assert_eq!(p.payload, &[0xD5, 0x55]);
    }

    #[test]
    fn skips_csrc_extension_and_padding() {
        let mut buf = vec![0xB2, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9];
        buf.extend_from_slice(&[0xAA; 8]); // two CSRCs
        buf.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, 1, 2, 3, 4]); // one-word extension
        buf.extend_from_slice(&[7, 7, 7]); // payload
        buf.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let p = Packet::parse(&buf).expect("valid");
        assert_eq!(p.payload, &[7, 7, 7]);
        assert_eq!(p.header.ssrc, Ssrc(9));
        assert_eq!(p.header.timestamp, RtpTime(160));
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(
            Packet::parse(&[0x80; 5]),
            Err(ParseError::MessageTooShort { len: 5 })
        );
        assert_eq!(
            Packet::parse(&[0x40; 12]),
            Err(ParseError::BadVersion { version: 1 })
        );
        let mut csrc = [0u8; 12];
        csrc[0] = 0x81;
        assert_eq!(
            Packet::parse(&csrc),
            Err(ParseError::CsrcOverrun { count: 1, len: 12 })
        );
        let mut pad = [0u8; 13];
        pad[0] = 0xA0;
        pad[12] = 2;
        assert_eq!(
            Packet::parse(&pad),
            Err(ParseError::BadPadding {
                padding: 2,
                available: 1
            })
        );
        let mut rtcp = [0u8; 12];
        rtcp[0] = 0x80;
        rtcp[1] = 200;
        assert_eq!(Packet::parse(&rtcp), Err(ParseError::Rtcp { pt: 200 }));
    }

    #[test]
    fn short_buffer_is_an_error() {
        let mut buf = [0u8; 11];
        assert_eq!(
            header(false).write(&mut buf),
            Err(WriteError::BufferTooShort {
                len: 11,
                needed: 12
            })
        );
    }
}
