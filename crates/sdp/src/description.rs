//! [`Description`]: a received SDP body (RFC 4566, RFC 8866), reduced to what audio
//! offer/answer needs.
//!
//! The line walker is ours; the field grammars (`o=`, `c=`, `t=`, `a=rtpmap`, `a=fmtp`) are
//! ezk-sdp-types'. Walking the lines ourselves lets errors name their line, lets us ignore the
//! attributes we do not use (RFC 4566 §5.13: unknown attributes are ignored, and a strict
//! parser of, say, `a=candidate` must not cost a call) and keeps media types ezk does not model
//! (`m=image` for T.38, `m=message`) so that the answer can reject them in place.
//!
//! Invariants of a parsed [`Description`]:
//! - `media` is in m-line order, each line has at least one format;
//! - on RTP profiles every format is a payload type below 128, in `payloads` in m-line order;
//! - `direction` and `connection` of a [`MediaLine`] already fall back to session level.

use std::fmt;
use std::net::IpAddr;

use bytes::Bytes;
use ezk_sdp_types::{Connection, Fmtp, Origin as EzkOrigin, RtpMap, TaggedAddress, Time};
use g711::Law;
use rtp::PayloadType;

use crate::{Direction, Ptime, SdpError};

/// A parsed SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// The `o=` line.
    pub origin: Origin,
    /// The session-level `c=` address, if any.
    pub connection: Option<IpAddr>,
    /// The session-level direction attribute (sendrecv when absent).
    pub direction: Direction,
    /// The m-lines, in order.
    pub media: Vec<MediaLine>,
}

/// The `o=` line's identifying fields, kept as text (RFC 4566 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `<username>`, `-` when the writer has none.
    pub username: String,
    /// `<sess-id>`.
    pub session_id: String,
    /// `<sess-version>`: a new version means a changed description.
    pub session_version: String,
}

/// The media type of an m-line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `audio`
    Audio,
    /// `video`
    Video,
    /// `image`, as used by T.38 fax
    Image,
    /// Any other token (`text`, `application`, `message`, …).
    Other(String),
}

impl MediaKind {
    fn parse(token: &str) -> MediaKind {
        match token {
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            "image" => MediaKind::Image,
            other => MediaKind::Other(other.to_owned()),
        }
    }

    /// The token as written on the m-line.
    pub fn as_str(&self) -> &str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Image => "image",
            MediaKind::Other(token) => token,
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One m-line with its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaLine {
    /// The media type.
    pub kind: MediaKind,
    /// The transport port; 0 means the stream is rejected or disabled (RFC 3264 §5.1).
    pub port: u16,
    /// The transport protocol token, e.g. `RTP/AVP`.
    pub protocol: String,
    /// The format tokens, as written.
    pub formats: Vec<String>,
    /// On RTP profiles, each format as a payload type with its rtpmap and fmtp.
    pub payloads: Vec<PayloadFormat>,
    /// The connection address: the media-level `c=`, else the session-level one.
    pub connection: Option<IpAddr>,
    /// The direction: the media-level attribute, else the session-level one.
    pub direction: Direction,
    /// `a=ptime`, if present.
    pub ptime: Option<Ptime>,
    /// `a=maxptime`, if present.
    pub maxptime: Option<Ptime>,
}

impl MediaLine {
    /// Whether the port is 0.
    pub fn is_rejected(&self) -> bool {
        self.port == 0
    }

    /// Whether this is a plain RTP audio stream that earshot can use: `audio`, `RTP/AVP`,
    /// non-zero port. (No SRTP, no AVPF.)
    pub fn is_usable_audio(&self) -> bool {
        self.kind == MediaKind::Audio
            && self.protocol.eq_ignore_ascii_case("RTP/AVP")
            && !self.is_rejected()
    }

    /// The direction with RFC 2543 hold folded in: a `c=` of `0.0.0.0` (or `::`) means the
    /// writer does not want to receive, whatever the attribute says (RFC 3264 §8.4).
    pub fn effective_direction(&self) -> Direction {
        match self.connection {
            Some(addr) if addr.is_unspecified() => {
                Direction::from_flags(self.direction.sends(), false)
            }
            _ => self.direction,
        }
    }

    /// The G.711 payloads of this line, in m-line order.
    pub fn g711_payloads(&self) -> impl Iterator<Item = (PayloadType, Law)> + '_ {
        self.payloads.iter().filter_map(|p| Some((p.pt, p.law()?)))
    }

    /// The first telephone-event payload type at 8000 Hz (RFC 4733 §7), if any.
    pub fn telephone_event(&self) -> Option<PayloadType> {
        self.payloads
            .iter()
            .find(|p| p.is_telephone_event())
            .map(|p| p.pt)
    }
}

/// One RTP payload type of an m-line, with what `a=rtpmap` and `a=fmtp` say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadFormat {
    /// The payload type number.
    pub pt: PayloadType,
    /// The `a=rtpmap` encoding name, if the line has one.
    pub encoding: Option<String>,
    /// The `a=rtpmap` clock rate.
    pub clock_rate_hz: Option<u32>,
    /// The `a=rtpmap` encoding parameters (channels, for audio).
    pub channels: Option<String>,
    /// The `a=fmtp` parameters.
    pub fmtp: Option<String>,
}

impl PayloadFormat {
    /// The G.711 law this payload carries: by rtpmap if present (any payload type number),
    /// else by static payload type 0 or 8 (RFC 3551 §6).
    pub fn law(&self) -> Option<Law> {
        match (&self.encoding, self.clock_rate_hz) {
            (Some(name), Some(Law::RATE_HZ)) if self.is_mono() => Law::from_name(name),
            (Some(_), _) => None,
            (None, _) => Law::from_payload_type(self.pt.get()),
        }
    }

    /// Whether this is `telephone-event/8000` (RFC 4733).
    pub fn is_telephone_event(&self) -> bool {
        matches!(
            (&self.encoding, self.clock_rate_hz),
            (Some(name), Some(8000)) if name.eq_ignore_ascii_case("telephone-event")
        )
    }

    fn is_mono(&self) -> bool {
        matches!(self.channels.as_deref(), None | Some("1"))
    }
}

/// Upper bound on m-lines, so that a hostile body cannot make us build a huge answer.
const MAX_MEDIA_LINES: usize = 64;

impl Description {
    /// Parses an SDP body. Never panics; malformed input is an [`SdpError`] naming the line.
    pub fn parse(input: &[u8]) -> Result<Description, SdpError> {
        let text = std::str::from_utf8(input).map_err(|e| SdpError::NotUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        // ezk's field parsers slice their output out of one shared buffer: every `&str` we
        // hand them must point into `src`.
        let src = Bytes::copy_from_slice(text.as_bytes());
        let text = std::str::from_utf8(&src).map_err(|e| SdpError::NotUtf8 {
            valid_up_to: e.valid_up_to(),
        })?;
        let mut walker = Walker::default();
        for (index, raw) in text.split('\n').enumerate() {
            let line = raw.trim_end();
            if !line.is_empty() {
                walker.line(&src, index + 1, line)?;
            }
        }
        walker.finish()
    }
}

/// An m-line while its attributes are still being read.
struct PendingMedia {
    line: usize,
    kind: MediaKind,
    port: u16,
    protocol: String,
    formats: Vec<String>,
    connection: Option<IpAddr>,
    direction: Option<Direction>,
    rtpmaps: Vec<RtpMap>,
    fmtps: Vec<Fmtp>,
    ptime: Option<Ptime>,
    maxptime: Option<Ptime>,
}

#[derive(Default)]
struct Walker {
    seen_version: bool,
    origin: Option<Origin>,
    seen_name: bool,
    seen_time: bool,
    connection: Option<IpAddr>,
    direction: Option<Direction>,
    media: Vec<PendingMedia>,
}

impl Walker {
    fn line(&mut self, src: &Bytes, line: usize, text: &str) -> Result<(), SdpError> {
        let (kind, value) = match text.as_bytes() {
            [k, b'=', ..] if k.is_ascii_lowercase() => (*k, text.get(2..).unwrap_or_default()),
            _ => return Err(SdpError::MalformedLine { line }),
        };
        if !self.seen_version {
            if kind == b'v' && value.trim() == "0" {
                self.seen_version = true;
                return Ok(());
            }
            return Err(SdpError::MissingVersion { line });
        }
        match kind {
            b'o' if self.origin.is_none() => self.origin = Some(origin(src, line, value)?),
            b's' => self.seen_name = true,
            b't' => {
                Time::parse(value).map_err(|_| SdpError::InvalidField { line, field: "t=" })?;
                self.seen_time = true;
            }
            b'c' => {
                let addr = connection(src, line, value)?;
                match self.media.last_mut() {
                    Some(media) => media.connection = Some(addr),
                    None => self.connection = Some(addr),
                }
            }
            b'm' => {
                if self.media.len() == MAX_MEDIA_LINES {
                    return Err(SdpError::InvalidField {
                        line,
                        field: "m= (too many)",
                    });
                }
                self.media.push(media(line, value)?);
            }
            b'a' => self.attribute(src, line, value)?,
            // v= again, i=, u=, e=, p=, b=, z=, k=, r= and unknown types: nothing for audio.
            _ => {}
        }
        Ok(())
    }

    fn attribute(&mut self, src: &Bytes, line: usize, value: &str) -> Result<(), SdpError> {
        let (name, value) = match value.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (value, None),
        };
        if let Some(direction) = Direction::from_attribute(name).filter(|_| value.is_none()) {
            match self.media.last_mut() {
                Some(media) => media.direction = Some(direction),
                None => self.direction = Some(direction),
            }
            return Ok(());
        }
        // The rest are media-level attributes; at session level they mean nothing to us.
        let (Some(media), Some(value)) = (self.media.last_mut(), value) else {
            return Ok(());
        };
        match name {
            "rtpmap" => match RtpMap::parse(src, value) {
                Ok((_, rtpmap)) => media.rtpmaps.push(rtpmap),
                Err(_) => {
                    return Err(SdpError::InvalidField {
                        line,
                        field: "a=rtpmap",
                    });
                }
            },
            "fmtp" => match Fmtp::parse(src, value) {
                Ok((_, fmtp)) => media.fmtps.push(fmtp),
                Err(_) => {
                    return Err(SdpError::InvalidField {
                        line,
                        field: "a=fmtp",
                    });
                }
            },
            "ptime" => {
                let ptime = Ptime::parse(value);
                media.ptime = Some(ptime.ok_or(SdpError::InvalidField {
                    line,
                    field: "a=ptime",
                })?);
            }
            "maxptime" => {
                let maxptime = Ptime::parse(value);
                media.maxptime = Some(maxptime.ok_or(SdpError::InvalidField {
                    line,
                    field: "a=maxptime",
                })?);
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<Description, SdpError> {
        if !self.seen_version {
            return Err(SdpError::MissingVersion { line: 0 });
        }
        let origin = self.origin.ok_or(SdpError::MissingField { field: "o=" })?;
        if !self.seen_name {
            return Err(SdpError::MissingField { field: "s=" });
        }
        if !self.seen_time {
            return Err(SdpError::MissingField { field: "t=" });
        }
        let session_direction = self.direction.unwrap_or_default();
        let session_connection = self.connection;
        let media = self
            .media
            .into_iter()
            .map(|m| m.finish(session_connection, session_direction))
            .collect::<Result<_, _>>()?;
        Ok(Description {
            origin,
            connection: session_connection,
            direction: session_direction,
            media,
        })
    }
}

impl PendingMedia {
    fn finish(
        self,
        session_connection: Option<IpAddr>,
        session_direction: Direction,
    ) -> Result<MediaLine, SdpError> {
        let payloads = if self.protocol.contains("RTP/") {
            self.formats
                .iter()
                .map(|fmt| self.payload(fmt))
                .collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(MediaLine {
            kind: self.kind,
            port: self.port,
            protocol: self.protocol,
            formats: self.formats,
            payloads,
            connection: self.connection.or(session_connection),
            direction: self.direction.unwrap_or(session_direction),
            ptime: self.ptime,
            maxptime: self.maxptime,
        })
    }

    fn payload(&self, fmt: &str) -> Result<PayloadFormat, SdpError> {
        let pt =
            fmt.parse::<u8>()
                .ok()
                .and_then(PayloadType::new)
                .ok_or(SdpError::InvalidField {
                    line: self.line,
                    field: "m= payload type",
                })?;
        let rtpmap = self.rtpmaps.iter().find(|r| r.payload == pt.get());
        let fmtp = self.fmtps.iter().find(|f| f.format == pt.get());
        Ok(PayloadFormat {
            pt,
            encoding: rtpmap.map(|r| r.encoding.trim().to_owned()),
            clock_rate_hz: rtpmap.map(|r| r.clock_rate),
            channels: rtpmap.and_then(|r| r.params.as_ref().map(|p| p.trim().to_owned())),
            fmtp: fmtp.map(|f| f.params.trim().to_owned()),
        })
    }
}

fn origin(src: &Bytes, line: usize, value: &str) -> Result<Origin, SdpError> {
    let invalid = SdpError::InvalidField { line, field: "o=" };
    match EzkOrigin::parse(src, value) {
        Ok((rest, o)) if rest.trim().is_empty() && !o.session_id.is_empty() => Ok(Origin {
            username: o.username.to_string(),
            session_id: o.session_id.to_string(),
            session_version: o.session_version.to_string(),
        }),
        _ => Err(invalid),
    }
}

fn connection(src: &Bytes, line: usize, value: &str) -> Result<IpAddr, SdpError> {
    match Connection::parse(src, value) {
        Ok((rest, c)) if rest.trim().is_empty() => match c.address {
            TaggedAddress::IP4(ip) => Ok(IpAddr::V4(ip)),
            TaggedAddress::IP6(ip) => Ok(IpAddr::V6(ip)),
            TaggedAddress::IP4FQDN(host) | TaggedAddress::IP6FQDN(host) if !host.is_empty() => {
                Err(SdpError::UnresolvedConnectionAddress { line })
            }
            _ => Err(SdpError::InvalidField { line, field: "c=" }),
        },
        _ => Err(SdpError::InvalidField { line, field: "c=" }),
    }
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...` (RFC 4566 §5.14). Our own
/// grammar, because ezk's knows only four media types and numeric formats.
fn media(line: usize, value: &str) -> Result<PendingMedia, SdpError> {
    let invalid = SdpError::InvalidField { line, field: "m=" };
    let mut tokens = value.split_ascii_whitespace();
    let (Some(kind), Some(port), Some(protocol)) = (tokens.next(), tokens.next(), tokens.next())
    else {
        return Err(invalid);
    };
    let port = port.split_once('/').map_or(port, |(port, _count)| port);
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid);
    }
    let port = port.parse::<u16>().map_err(|_| invalid.clone())?;
    let formats: Vec<String> = tokens.map(str::to_owned).collect();
    if formats.is_empty() {
        return Err(invalid);
    }
    Ok(PendingMedia {
        line,
        kind: MediaKind::parse(kind),
        port,
        protocol: protocol.to_owned(),
        formats,
        connection: None,
        direction: None,
        rtpmaps: Vec::new(),
        fmtps: Vec::new(),
        ptime: None,
        maxptime: None,
    })
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;
    use crate::samples;

    fn parse(text: &str) -> Description {
        Description::parse(text.as_bytes()).expect("sample SDP parses")
    }

    fn pt(n: u8) -> PayloadType {
        PayloadType::new(n).expect("test payload types fit in 7 bits")
    }

    #[test]
    fn sipp_offer() {
        let d = parse(samples::SIPP_PCMU);
        assert_eq!(d.origin.username, "user1");
        assert_eq!(d.origin.session_id, "53655765");
        assert_eq!(d.origin.session_version, "2353687637");
        assert_eq!(d.connection, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let [audio] = d.media.as_slice() else {
            panic!("one m-line expected: {:?}", d.media);
        };
        assert!(audio.is_usable_audio());
        assert_eq!(audio.port, 6000);
        assert_eq!(audio.direction, Direction::SendRecv);
        assert_eq!(audio.connection, d.connection);
        assert_eq!(
            audio.g711_payloads().collect::<Vec<_>>(),
            [(pt(0), Law::Ulaw)]
        );
        assert_eq!(audio.ptime, None);
    }

    #[test]
    fn static_payload_type_without_rtpmap() {
        let d = parse(samples::SIPP_PCMA);
        let audio = &d.media[0];
        assert_eq!(audio.port, 6002);
        assert_eq!(audio.payloads[0].encoding, None);
        assert_eq!(
            audio.g711_payloads().collect::<Vec<_>>(),
            [(pt(8), Law::Alaw)]
        );
    }

    #[test]
    fn linphone_offer_with_many_codecs() {
        let d = parse(samples::LINPHONE);
        assert_eq!(d.media.len(), 2);
        let audio = &d.media[0];
        assert_eq!(audio.formats.len(), 10);
        assert_eq!(
            audio.g711_payloads().collect::<Vec<_>>(),
            [(pt(0), Law::Ulaw), (pt(8), Law::Alaw)]
        );
        // 101 is telephone-event/48000 (for opus); only the 8000 Hz one pairs with G.711.
        assert_eq!(audio.telephone_event(), Some(pt(100)));
        assert_eq!(audio.payloads[0].encoding.as_deref(), Some("opus"));
        assert_eq!(audio.payloads[0].channels.as_deref(), Some("2"));
        assert_eq!(audio.payloads[0].fmtp.as_deref(), Some("useinbandfec=1"));
        assert_eq!(d.media[1].kind, MediaKind::Video);
        assert_eq!(d.media[1].port, 9078);
    }

    #[test]
    fn asterisk_offer_with_ptime() {
        let d = parse(samples::ASTERISK);
        let audio = &d.media[0];
        assert_eq!(audio.ptime, Ptime::from_ms(30));
        assert_eq!(audio.maxptime, Ptime::from_ms(150));
        assert_eq!(audio.telephone_event(), Some(pt(101)));
        assert_eq!(audio.payloads[3].fmtp.as_deref(), Some("0-16"));
        assert_eq!(
            audio.g711_payloads().collect::<Vec<_>>(),
            [(pt(8), Law::Alaw), (pt(0), Law::Ulaw)]
        );
    }

    #[test]
    fn unknown_codecs_are_kept_but_not_g711() {
        let d = parse(samples::NO_COMMON_CODEC);
        let audio = &d.media[0];
        assert_eq!(audio.payloads.len(), 3);
        assert_eq!(audio.g711_payloads().count(), 0);
        assert_eq!(audio.payloads[1].encoding.as_deref(), Some("G722"));
    }

    #[test]
    fn ipv6_connection() {
        let d = parse(samples::IPV6);
        let ip: Ipv6Addr = "2001:db8::1".parse().expect("literal IPv6 address");
        assert_eq!(d.media[0].connection, Some(IpAddr::V6(ip)));
    }

    #[test]
    fn media_level_overrides_session_level() {
        let d = parse(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             a=sendonly\r\n\
             m=audio 5000 RTP/AVP 0\r\nc=IN IP6 2001:db8::2\r\na=recvonly\r\n\
             m=audio 5002 RTP/AVP 0\r\n",
        );
        let ip: Ipv6Addr = "2001:db8::2".parse().expect("literal IPv6 address");
        assert_eq!(d.direction, Direction::SendOnly);
        assert_eq!(d.media[0].connection, Some(IpAddr::V6(ip)));
        assert_eq!(d.media[0].direction, Direction::RecvOnly);
        assert_eq!(
            d.media[1].connection,
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert_eq!(d.media[1].direction, Direction::SendOnly);
    }

    #[test]
    fn hold_forms() {
        let d = parse(samples::HOLD_SENDONLY);
        assert_eq!(d.media[0].effective_direction(), Direction::SendOnly);
        let d = parse(samples::HOLD_ZERO_ADDRESS);
        assert_eq!(d.media[0].direction, Direction::SendRecv);
        assert_eq!(d.media[0].effective_direction(), Direction::SendOnly);
    }

    #[test]
    fn rejected_stream_and_unknown_media_type() {
        let d = parse(samples::AUDIO_AND_T38);
        assert_eq!(d.media[0].kind, MediaKind::Image);
        assert_eq!(d.media[0].protocol, "udptl");
        assert_eq!(d.media[0].formats, ["t38"]);
        assert!(d.media[0].payloads.is_empty());
        let d = parse(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             m=audio 0 RTP/AVP 0\r\n",
        );
        assert!(d.media[0].is_rejected());
        assert!(!d.media[0].is_usable_audio());
    }

    #[test]
    fn ignores_attributes_it_does_not_use_even_if_odd() {
        let d = parse(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nb=AS:wat\r\nt=0 0\r\n\
             m=audio 5000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n\
             a=candidate:garbage\r\na=crypto:nonsense\r\na=sendrecv \r\n",
        );
        assert_eq!(d.media[0].direction, Direction::SendRecv);
    }

    fn error(text: &str) -> SdpError {
        Description::parse(text.as_bytes()).expect_err("malformed SDP must not parse")
    }

    const HEAD: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n";

    #[test]
    fn garbage_is_an_error_naming_the_problem() {
        assert_eq!(error(""), SdpError::MissingVersion { line: 0 });
        assert_eq!(error("hello world"), SdpError::MalformedLine { line: 1 });
        assert_eq!(error("x=1\r\n"), SdpError::MissingVersion { line: 1 });
        assert_eq!(
            Description::parse(b"v=0\r\n\xff\xfe"),
            Err(SdpError::NotUtf8 { valid_up_to: 5 })
        );
        assert_eq!(
            error("v=0\r\ns=-\r\nt=0 0\r\n"),
            SdpError::MissingField { field: "o=" }
        );
        assert_eq!(
            error("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\nt=0 0\r\n"),
            SdpError::MissingField { field: "s=" }
        );
        assert_eq!(
            error("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"),
            SdpError::MissingField { field: "t=" }
        );
        assert_eq!(
            error("v=0\r\no=nonsense\r\n"),
            SdpError::InvalidField {
                line: 2,
                field: "o="
            }
        );
    }

    #[test]
    fn malformed_fields_name_their_line() {
        let cases = [
            (
                "c=IN IP4 300.1.1.1x\r\n",
                SdpError::UnresolvedConnectionAddress { line: 5 },
            ),
            (
                "c=IN IP4 example.com\r\n",
                SdpError::UnresolvedConnectionAddress { line: 5 },
            ),
            (
                "c=IN IP9 192.0.2.1\r\n",
                SdpError::InvalidField {
                    line: 5,
                    field: "c=",
                },
            ),
            (
                "c=IN IP4 \r\n",
                SdpError::InvalidField {
                    line: 5,
                    field: "c=",
                },
            ),
            (
                "m=audio\r\n",
                SdpError::InvalidField {
                    line: 5,
                    field: "m=",
                },
            ),
            (
                "m=audio 70000 RTP/AVP 0\r\n",
                SdpError::InvalidField {
                    line: 5,
                    field: "m=",
                },
            ),
            (
                "m=audio -1 RTP/AVP 0\r\n",
                SdpError::InvalidField {
                    line: 5,
                    field: "m=",
                },
            ),
            (
                "m=audio 5000 RTP/AVP\r\n",
                SdpError::InvalidField {
                    line: 5,
                    field: "m=",
                },
            ),
            (
                "m=audio 5000 RTP/AVP 128\r\n",
                SdpError::InvalidField {
                    line: 5,
                    field: "m= payload type",
                },
            ),
            (
                "m=audio 5000 RTP/AVP PCMU\r\n",
                SdpError::InvalidField {
                    line: 5,
                    field: "m= payload type",
                },
            ),
            (
                "m=audio 5000 RTP/AVP 0\r\na=rtpmap:zero PCMU/8000\r\n",
                SdpError::InvalidField {
                    line: 6,
                    field: "a=rtpmap",
                },
            ),
            (
                "m=audio 5000 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n",
                SdpError::InvalidField {
                    line: 6,
                    field: "a=rtpmap",
                },
            ),
            (
                "m=audio 5000 RTP/AVP 0\r\na=ptime:0\r\n",
                SdpError::InvalidField {
                    line: 6,
                    field: "a=ptime",
                },
            ),
            (
                "m=audio 5000 RTP/AVP 0\r\n=\r\n",
                SdpError::MalformedLine { line: 6 },
            ),
        ];
        for (tail, expected) in cases {
            assert_eq!(error(&format!("{HEAD}{tail}")), expected, "{tail:?}");
        }
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            SdpError::InvalidField {
                line: 6,
                field: "a=rtpmap"
            }
            .to_string(),
            "line 6: invalid a=rtpmap"
        );
    }

    #[test]
    fn media_line_count_is_bounded() {
        let many = "m=video 0 RTP/AVP 96\r\n".repeat(MAX_MEDIA_LINES + 1);
        assert!(matches!(
            error(&format!("{HEAD}{many}")),
            SdpError::InvalidField {
                field: "m= (too many)",
                ..
            }
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = Description::parse(text.as_bytes());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Description::parse(&bytes);
        }

        #[test]
        fn sdp_shaped_lines_never_panic(
            lines in proptest::collection::vec(
                "[vosctmab]=[ -~]{0,40}|a=(rtpmap|fmtp|ptime|maxptime):[ -~]{0,30}|c=IN IP[46] [0-9a-f.:]{0,20}|m=audio [0-9]{1,6} RTP/AVP( [0-9]{1,3}){0,4}",
                0..16,
            )
        ) {
            let text = format!("v=0\r\n{}", lines.join("\r\n"));
            let _ = Description::parse(text.as_bytes());
        }
    }
}
