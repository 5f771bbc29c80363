//! Property tests of [`rtp::Packet`]: write → parse round trips, packets with every optional
//! part, arbitrary bytes, and a cross-check against webrtc-rs' parser.

use proptest::prelude::*;
use rtp::{HEADER_LEN, Header, Packet, ParseError, PayloadType, RtpTime, SeqNo, Ssrc};
use webrtc_util::marshal::Unmarshal;

/// Whether a second byte (marker and payload type) is one RFC 5761 reserves for RTCP.
fn is_rtcp(marker: bool, pt: u8) -> bool {
    marker && (72..=83).contains(&pt)
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<bool>(),
        0u8..128,
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(marker, pt, seq, ts, ssrc)| Header {
            marker,
            payload_type: PayloadType::new(pt).expect("the strategy yields 7-bit values"),
            seq: SeqNo(seq),
            timestamp: RtpTime(ts),
            ssrc: Ssrc(ssrc),
        })
}

/// A header extension (RFC 3550 §5.3.1): a profile and a body of whole 32-bit words.
#[derive(Debug, Clone)]
enum Extension {
    /// Any profile but the RFC 8285 ones, with an opaque body.
    Opaque { profile: u16, body: Vec<u8> },
    /// RFC 8285 one-byte elements `(id 1..=14, 1..=16 bytes)`, zero-padded to a word.
    OneByte(Vec<(u8, Vec<u8>)>),
}

impl Extension {
    fn profile(&self) -> u16 {
        match self {
            Extension::Opaque { profile, .. } => *profile,
            Extension::OneByte(_) => 0xBEDE,
        }
    }

    fn body(&self) -> Vec<u8> {
        match self {
            Extension::Opaque { body, .. } => body.clone(),
            Extension::OneByte(elements) => {
                let mut body = Vec::new();
                for (id, data) in elements {
                    let len = u8::try_from(data.len() - 1).expect("elements hold 1..=16 bytes");
                    body.push((id << 4) | len);
                    body.extend_from_slice(data);
                }
                body.resize(body.len().div_ceil(4) * 4, 0);
                body
            }
        }
    }
}

fn extension() -> impl Strategy<Value = Extension> {
    let opaque = (
        any::<u16>().prop_filter("not an RFC 8285 profile", |p| *p != 0xBEDE && *p != 0x1000),
        (0usize..16).prop_flat_map(|words| proptest::collection::vec(any::<u8>(), words * 4)),
    )
        .prop_map(|(profile, body)| Extension::Opaque { profile, body });
    let element = (1u8..15, proptest::collection::vec(any::<u8>(), 1..=16));
    let one_byte = proptest::collection::vec(element, 0..6).prop_map(Extension::OneByte);
    prop_oneof![opaque, one_byte]
}

/// Everything a received RTP packet may carry.
#[derive(Debug, Clone)]
struct Spec {
    header: Header,
    csrcs: Vec<u32>,
    extension: Option<Extension>,
    payload: Vec<u8>,
    /// The padding count (the last byte) and the bytes before it.
    padding: Option<(u8, Vec<u8>)>,
}

impl Spec {
    fn bytes(&self) -> Vec<u8> {
        let h = &self.header;
        let cc = u8::try_from(self.csrcs.len()).expect("at most 15 CSRCs");
        let mut b = vec![
            0x80 | (u8::from(self.padding.is_some()) << 5)
                | (u8::from(self.extension.is_some()) << 4)
                | cc,
            (u8::from(h.marker) << 7) | h.payload_type.get(),
        ];
        b.extend_from_slice(&h.seq.0.to_be_bytes());
        b.extend_from_slice(&h.timestamp.0.to_be_bytes());
        b.extend_from_slice(&h.ssrc.0.to_be_bytes());
        for csrc in &self.csrcs {
            b.extend_from_slice(&csrc.to_be_bytes());
        }
        if let Some(ext) = &self.extension {
            let body = ext.body();
            let words = u16::try_from(body.len() / 4).expect("short extension");
            b.extend_from_slice(&ext.profile().to_be_bytes());
            b.extend_from_slice(&words.to_be_bytes());
            b.extend_from_slice(&body);
        }
        b.extend_from_slice(&self.payload);
        if let Some((count, filler)) = &self.padding {
            b.extend_from_slice(filler);
            b.push(*count);
        }
        b
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    let padding = (1u8..=255).prop_flat_map(|count| {
        (
            Just(count),
            proptest::collection::vec(any::<u8>(), usize::from(count) - 1),
        )
    });
    (
        header().prop_filter("RTCP types are not RTP", |h| {
            !is_rtcp(h.marker, h.payload_type.get())
        }),
        proptest::collection::vec(any::<u32>(), 0..=15),
        proptest::option::of(extension()),
        proptest::collection::vec(any::<u8>(), 0..1200),
        proptest::option::of(padding),
    )
        .prop_map(|(header, csrcs, extension, payload, padding)| Spec {
            header,
            csrcs,
            extension,
            payload,
            padding,
        })
}

proptest! {
    #[test]
    fn write_then_parse_gives_the_header_and_payload_back(
        h in header(),
        payload in proptest::collection::vec(any::<u8>(), 0..1500),
    ) {
        let mut buf = vec![0u8; HEADER_LEN + payload.len()];
        let len = Packet::write(&h, &payload, &mut buf).expect("buffer is exactly large enough");
        prop_assert_eq!(len, buf.len());
        let parsed = Packet::parse(&buf);
        if is_rtcp(h.marker, h.payload_type.get()) {
            // RFC 5761: a receiver on a muxed port cannot tell this from RTCP.
            prop_assert_eq!(parsed, Err(ParseError::Rtcp { pt: buf[1] }));
        } else {
            let p = parsed.expect("a written packet parses");
            prop_assert_eq!(p.header, h);
            prop_assert_eq!(p.payload, &payload[..]);
        }
    }

    #[test]
    fn write_into_a_short_buffer_fails_without_writing(
        h in header(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        short in 1usize..=76,
    ) {
        let needed = HEADER_LEN + payload.len();
        let len = needed.saturating_sub(short);
        let mut buf = vec![0xA5u8; len];
        prop_assert_eq!(
            Packet::write(&h, &payload, &mut buf),
            Err(rtp::WriteError::BufferTooShort { len, needed })
        );
        prop_assert!(buf.iter().all(|&b| b == 0xA5));
    }

    #[test]
    fn packets_with_csrcs_extensions_and_padding_parse_to_their_payload(s in spec()) {
        let bytes = s.bytes();
        let p = Packet::parse(&bytes).expect("a well-formed packet parses");
        prop_assert_eq!(p.header, s.header);
        prop_assert_eq!(p.payload, &s.payload[..]);
        rtp::fuzz::parse(&bytes);
    }

    #[test]
    fn webrtc_rs_reads_the_same_fields_and_payload(s in spec()) {
        let bytes = s.bytes();
        let ours = Packet::parse(&bytes).expect("a well-formed packet parses");
        let theirs = webrtc_rtp::packet::Packet::unmarshal(&mut &bytes[..])
            .expect("webrtc-rs parses a well-formed packet");
        let th = &theirs.header;
        prop_assert_eq!(th.version, 2);
        prop_assert_eq!(th.padding, s.padding.is_some());
        prop_assert_eq!(th.extension, s.extension.is_some());
        prop_assert_eq!(th.marker, ours.header.marker);
        prop_assert_eq!(th.payload_type, ours.header.payload_type.get());
        prop_assert_eq!(th.sequence_number, ours.header.seq.0);
        prop_assert_eq!(th.timestamp, ours.header.timestamp.0);
        prop_assert_eq!(th.ssrc, ours.header.ssrc.0);
        prop_assert_eq!(&th.csrc, &s.csrcs);
        prop_assert_eq!(&theirs.payload[..], ours.payload);
        match &s.extension {
            None => {}
            Some(ext @ Extension::Opaque { .. }) => {
                prop_assert_eq!(th.extension_profile, ext.profile());
                prop_assert_eq!(th.extensions.len(), 1);
                prop_assert_eq!(&th.extensions[0].payload[..], &ext.body()[..]);
            }
            Some(Extension::OneByte(elements)) => {
                prop_assert_eq!(th.extension_profile, 0xBEDE);
                let got: Vec<(u8, Vec<u8>)> =
                    th.extensions.iter().map(|e| (e.id, e.payload.to_vec())).collect();
                prop_assert_eq!(&got, elements);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let _ = Packet::parse(&bytes);
        rtp::fuzz::parse(&bytes);
    }

    /// Random bytes rarely get past the version check; damaged real packets reach every error.
    #[test]
    fn damaged_packets_never_panic(
        s in spec(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut bytes = s.bytes();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let cut = cut.index(bytes.len() + 1);
        rtp::fuzz::parse(&bytes[..cut]);
        rtp::fuzz::parse(&bytes);
    }
}

#[test]
fn truncating_a_packet_names_the_part_that_is_missing() {
    let s = Spec {
        header: Header {
            marker: false,
            payload_type: PayloadType::PCMU,
            seq: SeqNo(1),
            timestamp: RtpTime(2),
            ssrc: Ssrc(3),
        },
        csrcs: vec![7, 8],
        extension: Some(Extension::Opaque {
            profile: 0x0001,
            body: vec![0; 8],
        }),
        payload: vec![],
        padding: None,
    };
    let bytes = s.bytes();
    assert_eq!(bytes.len(), 12 + 8 + 4 + 8);
    assert_eq!(
        Packet::parse(&bytes[..11]),
        Err(ParseError::MessageTooShort { len: 11 })
    );
    assert_eq!(
        Packet::parse(&bytes[..19]),
        Err(ParseError::CsrcOverrun { count: 2, len: 19 })
    );
    assert_eq!(
        Packet::parse(&bytes[..23]),
        Err(ParseError::ExtensionOverrun { words: 0, len: 23 })
    );
    assert_eq!(
        Packet::parse(&bytes[..31]),
        Err(ParseError::ExtensionOverrun { words: 2, len: 31 })
    );
    assert_eq!(Packet::parse(&bytes).map(|p| p.payload.len()), Ok(0));
}
