//! Bodies for fuzz targets, so that a target outside the workspace is one line and the checks
//! live beside the code they check.
//!
//! Each function takes arbitrary bytes and panics only when an invariant of the parser is broken;
//! a malformed input is an ordinary, silent outcome.

use crate::{HEADER_LEN, Packet, ParseError};

/// Parses `data` as an RTP packet and checks what the parser promises.
///
/// On success: the payload lies inside `data`, after the header (and any CSRC list and
/// extension) and before any padding; the header fields are the bytes on the wire; and writing
/// the header and payload back out, then parsing that, gives the same header and payload. On
/// failure: the error agrees with the bytes (for instance, [`ParseError::MessageTooShort`]
/// exactly when `data` is shorter than the fixed header).
///
/// # Panics
///
/// Only when one of those invariants does not hold, which is a bug in this crate.
pub fn parse(data: &[u8]) {
    let packet = match Packet::parse(data) {
        Ok(packet) => packet,
        Err(err) => {
            check_error(data, err);
            return;
        }
    };
    assert!(
        data.len() >= HEADER_LEN,
        "parsed a packet shorter than the fixed header"
    );
    assert_eq!(data[0] >> 6, 2, "parsed a packet that is not version 2");

    // The payload is a sub-slice of the datagram, between the header and the padding.
    let start = (packet.payload.as_ptr() as usize).wrapping_sub(data.as_ptr() as usize);
    let end = start + packet.payload.len();
    let csrc_end = HEADER_LEN + 4 * usize::from(data[0] & 0x0F);
    assert!(
        start >= csrc_end,
        "payload starts at {start}, inside the header"
    );
    assert!(
        end <= data.len(),
        "payload ends at {end}, past the datagram"
    );
    if data[0] & 0x10 == 0 {
        assert_eq!(start, csrc_end, "payload does not follow the header");
    }
    if data[0] & 0x20 == 0 {
        assert_eq!(
            end,
            data.len(),
            "payload does not run to the end of an unpadded packet"
        );
    } else {
        let padding = data[data.len() - 1];
        assert_eq!(end + usize::from(padding), data.len(), "padding miscounted");
    }

    let h = packet.header;
    assert_eq!(h.marker, data[1] & 0x80 != 0, "marker bit");
    assert_eq!(h.payload_type.get(), data[1] & 0x7F, "payload type");
    assert_eq!(h.seq.0.to_be_bytes(), [data[2], data[3]], "sequence number");
    assert_eq!(
        h.timestamp.0.to_be_bytes(),
        [data[4], data[5], data[6], data[7]],
        "timestamp"
    );
    assert_eq!(
        h.ssrc.0.to_be_bytes(),
        [data[8], data[9], data[10], data[11]],
        "ssrc"
    );

    // Write and parse again: what earshot sends must read back as what it received.
    let mut buf = [0u8; 65_536 + HEADER_LEN];
    let len = Packet::write(&h, packet.payload, &mut buf)
        .expect("a buffer larger than any datagram holds any payload");
    assert_eq!(len, HEADER_LEN + packet.payload.len(), "written length");
    let again = Packet::parse(&buf[..len]).expect("a written packet parses");
    assert_eq!(again, packet, "written packet parses to something else");
}

fn check_error(data: &[u8], err: ParseError) {
    let len = data.len();
    match err {
        ParseError::MessageTooShort { len: l } => {
            assert_eq!(l, len, "MessageTooShort length");
            assert!(len < HEADER_LEN, "MessageTooShort for {len} bytes");
        }
        ParseError::BadVersion { version } => {
            assert!(len >= HEADER_LEN, "BadVersion checked before the length");
            assert_eq!(version, data[0] >> 6, "BadVersion version");
            assert_ne!(version, 2, "version 2 rejected");
        }
        ParseError::Rtcp { pt } => assert_eq!(pt, data[1], "Rtcp type"),
        ParseError::CsrcOverrun { count, len: l } => {
            assert_eq!((count, l), (data[0] & 0x0F, len), "CsrcOverrun fields");
            assert!(HEADER_LEN + 4 * usize::from(count) > len, "CSRC list fits");
        }
        ParseError::ExtensionOverrun { len: l, .. } => {
            assert_eq!(l, len, "ExtensionOverrun length");
            assert!(data[0] & 0x10 != 0, "ExtensionOverrun without the X bit");
        }
        ParseError::BadPadding { padding, available } => {
            assert!(data[0] & 0x20 != 0, "BadPadding without the P bit");
            assert_eq!(padding, data[len - 1], "BadPadding count");
            assert!(
                padding == 0 || usize::from(padding) > available,
                "padding fits"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_and_invalid_input_without_panicking() {
        parse(&[]);
        parse(&[0x80; 11]);
        parse(&[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0xFF]);
        parse(&[0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 2]);
        parse(&[0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0]);
        parse(&[0x9F, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        parse(&[
            0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xBE, 0xDE, 0xFF, 0xFF,
        ]);
        parse(&[0x80, 200, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        parse(&[0x40; 12]);
    }
}
