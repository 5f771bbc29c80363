//! Writing SDP: the session part and our audio m-line through ezk-sdp-types' printers, in the
//! order RFC 4566 §5 requires, with CRLF line ends.
//!
//! A rejected m-line is written by hand, echoing the offer's media type, protocol and formats
//! with port 0 (RFC 3264 §6), because ezk cannot print media types or formats it does not model.

use std::fmt::Write;
use std::net::IpAddr;

use ezk_sdp_types::{
    Connection, Direction as EzkDirection, Fmtp, IceOptions, Media, MediaDescription, MediaType,
    Origin, RtpMap, SessionDescription, TaggedAddress, Time, TransportProtocol, UnknownAttribute,
};
use g711::Law;
use rtp::PayloadType;

use crate::{Direction, MediaLine, Ptime};

/// The events we accept: DTMF 0-9, *, #, A-D (RFC 4733 §3.2).
const TELEPHONE_EVENTS: &str = "0-15";

/// Our `o=` line's variable part.
pub(crate) struct OriginLine {
    pub(crate) session_id: u64,
    pub(crate) version: u64,
}

/// Our audio m-line.
pub(crate) struct AudioLine {
    pub(crate) port: u16,
    pub(crate) codecs: Vec<(PayloadType, Law)>,
    pub(crate) telephone_event: Option<PayloadType>,
    pub(crate) ptime: Ptime,
    pub(crate) direction: Direction,
}

/// One m-line of an SDP we write.
pub(crate) enum Line<'a> {
    Audio(AudioLine),
    Rejected(&'a MediaLine),
}

pub(crate) fn render(origin: &OriginLine, address: IpAddr, lines: &[Line<'_>]) -> String {
    let session = SessionDescription {
        origin: Origin {
            username: "earshot".into(),
            session_id: origin.session_id.to_string().into(),
            session_version: origin.version.to_string().into(),
            address: TaggedAddress::from(address),
        },
        name: "earshot".into(),
        connection: Some(Connection {
            address: TaggedAddress::from(address),
            ttl: None,
            num: None,
        }),
        bandwidth: Vec::new(),
        time: Time { start: 0, stop: 0 },
        direction: EzkDirection::SendRecv,
        group: Vec::new(),
        extmap: Vec::new(),
        extmap_allow_mixed: false,
        ice_lite: false,
        ice_options: IceOptions::default(),
        ice_ufrag: None,
        ice_pwd: None,
        setup: None,
        fingerprint: Vec::new(),
        attributes: Vec::new(),
        media_descriptions: Vec::new(),
    };
    let mut out = session.to_string();
    for line in lines {
        match line {
            Line::Audio(audio) => {
                // Writing to a String cannot fail.
                let _ = write!(out, "{}", audio_description(audio));
            }
            Line::Rejected(media) => {
                let _ = write!(out, "m={} 0 {}", media.kind, media.protocol);
                for format in &media.formats {
                    let _ = write!(out, " {format}");
                }
                out.push_str("\r\n");
            }
        }
    }
    out
}

fn audio_description(audio: &AudioLine) -> MediaDescription {
    let mut desc = MediaDescription::rejected(MediaType::Audio);
    let mut fmts: Vec<u8> = audio.codecs.iter().map(|(pt, _)| pt.get()).collect();
    desc.rtpmap = audio
        .codecs
        .iter()
        .map(|(pt, law)| RtpMap {
            payload: pt.get(),
            encoding: law.name().into(),
            clock_rate: Law::RATE_HZ,
            params: None,
        })
        .collect();
    if let Some(pt) = audio.telephone_event {
        fmts.push(pt.get());
        desc.rtpmap.push(RtpMap {
            payload: pt.get(),
            encoding: "telephone-event".into(),
            clock_rate: 8000,
            params: None,
        });
        desc.fmtp.push(Fmtp {
            format: pt.get(),
            params: TELEPHONE_EVENTS.into(),
        });
    }
    desc.media = Media {
        media_type: MediaType::Audio,
        port: audio.port,
        ports_num: None,
        proto: TransportProtocol::RtpAvp,
        fmts,
    };
    desc.direction = match audio.direction {
        Direction::SendRecv => EzkDirection::SendRecv,
        Direction::SendOnly => EzkDirection::SendOnly,
        Direction::RecvOnly => EzkDirection::RecvOnly,
        Direction::Inactive => EzkDirection::Inactive,
    };
    desc.attributes.push(UnknownAttribute {
        name: "ptime".into(),
        value: Some(audio.ptime.to_string().into()),
    });
    desc
}
