//! Answering an offer (RFC 3264 §6): the pure function behind
//! [`SdpSession::answer_offer`](crate::SdpSession::answer_offer).
//!
//! Policy, in order:
//! - The stream: the first m-line that is usable audio (`audio`, `RTP/AVP`, non-zero port) and
//!   shares a codec with us. Every other m-line is rejected in place with port 0 (§6), so the
//!   answer has exactly as many m-lines as the offer.
//! - The codec: per [`CodecPolicy`], by default the first in the offer's order that we support
//!   (§6.1). The answer lists that one codec only, with the offer's payload type number, so the
//!   peer cannot switch codecs mid-call.
//! - telephone-event: answered with the offer's payload type when offered at 8000 Hz and we
//!   support it.
//! - ptime: the offer's `a=ptime` if present, else ours capped by the offer's `a=maxptime`.
//! - Direction: the offer's, reversed (sendonly → recvonly, recvonly → sendonly, inactive →
//!   inactive), narrowed by ours; `c=0.0.0.0` counts as the offerer not receiving.

use std::net::SocketAddr;

use g711::Law;
use rtp::PayloadType;

use crate::render::{AudioLine, Line};
use crate::{CodecPolicy, Description, LocalMedia, MediaLine, NegotiatedMedia, SdpError};

/// The m-lines of the answer and the media it agrees on.
pub(crate) struct Planned<'a> {
    pub(crate) lines: Vec<Line<'a>>,
    pub(crate) media: NegotiatedMedia,
}

pub(crate) fn plan<'a>(
    offer: &'a Description,
    local: &LocalMedia,
) -> Result<Planned<'a>, SdpError> {
    let mut chosen = None;
    let mut first_usable = None;
    for (index, line) in offer.media.iter().enumerate() {
        if !line.is_usable_audio() {
            continue;
        }
        first_usable.get_or_insert(line);
        if let Some(codec) = choose_codec(line, local) {
            chosen = Some((index, line, codec));
            break;
        }
    }
    let Some((index, line, (payload_type, codec))) = chosen else {
        return Err(match first_usable {
            Some(line) => SdpError::NoCommonCodec {
                offered: line.payloads.iter().map(|p| p.pt).collect(),
            },
            None => SdpError::NoAudioStream,
        });
    };
    let remote_ip = line
        .connection
        .ok_or(SdpError::MissingConnection { media_index: index })?;

    let telephone_event = line.telephone_event().filter(|_| local.telephone_event);
    let ptime = line.ptime.unwrap_or_else(|| {
        line.maxptime
            .map_or(local.ptime, |max| local.ptime.min(max))
    });
    let offered = line.effective_direction();
    let direction = offered.reversed().intersect(local.direction);

    let lines = offer
        .media
        .iter()
        .enumerate()
        .map(|(i, m)| {
            if i == index {
                Line::Audio(AudioLine {
                    port: local.rtp_port,
                    codecs: vec![(payload_type, codec)],
                    telephone_event,
                    ptime,
                    direction,
                })
            } else {
                Line::Rejected(m)
            }
        })
        .collect();
    Ok(Planned {
        lines,
        media: NegotiatedMedia {
            remote_rtp: SocketAddr::new(remote_ip, line.port),
            codec,
            payload_type,
            telephone_event,
            ptime,
            direction,
            on_hold: !offered.receives(),
        },
    })
}

fn choose_codec(line: &MediaLine, local: &LocalMedia) -> Option<(PayloadType, Law)> {
    let mut common = line.g711_payloads().filter(|(_, law)| local.supports(*law));
    match local.codec_policy {
        CodecPolicy::OffererOrder => common.next(),
        CodecPolicy::LocalOrder => common.min_by_key(|(_, law)| {
            local
                .codecs
                .iter()
                .position(|l| l == law)
                .unwrap_or(usize::MAX)
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::*;
    use crate::{Answer, Direction, Ptime, SdpSession, samples};

    const LOCAL_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));

    fn pt(n: u8) -> PayloadType {
        PayloadType::new(n).expect("test payload types fit in 7 bits")
    }

    fn answer_with(local: LocalMedia, offer: &str) -> Result<Answer, SdpError> {
        SdpSession::new(42, local).answer_offer(offer.as_bytes())
    }

    fn answer(offer: &str) -> Answer {
        answer_with(LocalMedia::new(LOCAL_IP, 30000), offer).expect("offer is acceptable")
    }

    fn reparse(answer: &Answer) -> Description {
        Description::parse(answer.sdp.as_bytes()).expect("our answer parses")
    }

    #[test]
    fn answers_sipp_offer_exactly() {
        let a = answer(samples::SIPP_PCMU);
        assert_eq!(
            a.sdp,
            "v=0\r\n\
             o=earshot 42 42 IN IP4 192.0.2.99\r\n\
             s=earshot\r\n\
             c=IN IP4 192.0.2.99\r\n\
             t=0 0\r\n\
             m=audio 30000 RTP/AVP 0\r\n\
             a=sendrecv\r\n\
             a=rtpmap:0 PCMU/8000\r\n\
             a=ptime:20\r\n"
        );
        assert_eq!(
            a.media,
            NegotiatedMedia {
                remote_rtp: "127.0.0.1:6000".parse().expect("literal socket address"),
                codec: Law::Ulaw,
                payload_type: PayloadType::PCMU,
                telephone_event: None,
                ptime: Ptime::DEFAULT,
                direction: Direction::SendRecv,
                on_hold: false,
            }
        );
    }

    #[test]
    fn answers_pcma_only_offer_with_pcma() {
        let a = answer(samples::SIPP_PCMA);
        assert_eq!(a.media.codec, Law::Alaw);
        assert_eq!(a.media.payload_type, PayloadType::PCMA);
        assert!(a.sdp.contains("m=audio 30000 RTP/AVP 8\r\n"));
    }

    #[test]
    fn first_codec_in_offer_order_wins_by_default() {
        // Asterisk offers G722, PCMA, PCMU: we prefer PCMU, but the offerer's order decides.
        let a = answer(samples::ASTERISK);
        assert_eq!(a.media.codec, Law::Alaw);
        assert_eq!(a.media.telephone_event, Some(pt(101)));
        assert!(
            a.sdp.contains("m=audio 30000 RTP/AVP 8 101\r\n"),
            "{}",
            a.sdp
        );
        assert!(a.sdp.contains("a=fmtp:101 0-15\r\n"));
    }

    #[test]
    fn local_order_policy_picks_our_favourite() {
        let mut local = LocalMedia::new(LOCAL_IP, 30000);
        local.codec_policy = CodecPolicy::LocalOrder;
        let a = answer_with(local, samples::ASTERISK).expect("offer is acceptable");
        assert_eq!(a.media.codec, Law::Ulaw);
        assert_eq!(a.media.payload_type, PayloadType::PCMU);
    }

    #[test]
    fn honours_offered_ptime() {
        let a = answer(samples::ASTERISK);
        assert_eq!(a.media.ptime, Ptime::from_ms(30).expect("non-zero"));
        assert!(a.sdp.contains("a=ptime:30\r\n"));
    }

    #[test]
    fn maxptime_caps_our_ptime_when_none_offered() {
        let mut local = LocalMedia::new(LOCAL_IP, 30000);
        local.ptime = Ptime::from_ms(40).expect("non-zero");
        let offer = format!("{}a=maxptime:30\r\n", samples::SIPP_PCMU);
        let a = answer_with(local, &offer).expect("offer is acceptable");
        assert_eq!(a.media.ptime.as_ms(), 30);
    }

    #[test]
    fn linphone_offer_keeps_offerer_payload_types_and_rejects_video() {
        let a = answer(samples::LINPHONE);
        assert_eq!(a.media.codec, Law::Ulaw);
        assert_eq!(a.media.telephone_event, Some(pt(100)));
        assert_eq!(
            a.media.remote_rtp,
            "192.0.2.20:7078".parse().expect("literal socket address")
        );
        let parsed = reparse(&a);
        assert_eq!(parsed.media.len(), 2);
        assert_eq!(parsed.media[0].formats, ["0", "100"]);
        assert_eq!(parsed.media[0].telephone_event(), Some(pt(100)));
        assert!(a.sdp.ends_with("m=video 0 RTP/AVP 96\r\n"), "{}", a.sdp);
    }

    #[test]
    fn no_telephone_event_when_we_do_not_support_it() {
        let mut local = LocalMedia::new(LOCAL_IP, 30000);
        local.telephone_event = false;
        let a = answer_with(local, samples::ASTERISK).expect("offer is acceptable");
        assert_eq!(a.media.telephone_event, None);
        assert!(!a.sdp.contains("telephone-event"));
    }

    #[test]
    fn t38_line_is_rejected_in_place() {
        let a = answer(samples::AUDIO_AND_T38);
        assert!(
            a.sdp
                .contains("t=0 0\r\nm=image 0 udptl t38\r\nm=audio 30000 RTP/AVP 8 101\r\n"),
            "{}",
            a.sdp
        );
        assert_eq!(a.media.remote_rtp.port(), 5000);
    }

    #[test]
    fn ipv6_offer() {
        let a = answer(samples::IPV6);
        let ip: Ipv6Addr = "2001:db8::1".parse().expect("literal IPv6 address");
        assert_eq!(a.media.remote_rtp.ip(), IpAddr::V6(ip));
        assert_eq!(a.media.codec, Law::Alaw);
        let local: Ipv6Addr = "2001:db8::99".parse().expect("literal IPv6 address");
        let a = answer_with(LocalMedia::new(IpAddr::V6(local), 30000), samples::IPV6)
            .expect("offer is acceptable");
        assert!(a.sdp.contains("c=IN IP6 2001:db8::99\r\n"), "{}", a.sdp);
    }

    #[test]
    fn direction_is_reversed() {
        let cases = [
            ("a=sendrecv", Direction::SendRecv, false),
            ("a=sendonly", Direction::RecvOnly, true),
            ("a=recvonly", Direction::SendOnly, false),
            ("a=inactive", Direction::Inactive, true),
        ];
        for (attribute, ours, on_hold) in cases {
            let a = answer(&format!("{}{attribute}\r\n", samples::SIPP_PCMU));
            assert_eq!(a.media.direction, ours, "{attribute}");
            assert_eq!(a.media.on_hold, on_hold, "{attribute}");
            assert_eq!(reparse(&a).media[0].direction, ours, "{attribute}");
        }
    }

    #[test]
    fn hold_offers() {
        let a = answer(samples::HOLD_SENDONLY);
        assert!(a.media.on_hold);
        assert!(a.sdp.contains("a=recvonly\r\n"));
        let a = answer(samples::HOLD_ZERO_ADDRESS);
        assert!(a.media.on_hold);
        assert_eq!(a.media.direction, Direction::RecvOnly);
        assert!(a.media.remote_rtp.ip().is_unspecified());
    }

    #[test]
    fn our_own_hold_narrows_the_answer() {
        let mut local = LocalMedia::new(LOCAL_IP, 30000);
        local.direction = Direction::SendOnly;
        let a = answer_with(local, samples::SIPP_PCMU).expect("offer is acceptable");
        assert_eq!(a.media.direction, Direction::SendOnly);
        assert!(!a.media.on_hold);
    }

    #[test]
    fn no_common_codec_is_not_acceptable() {
        let err = answer_with(LocalMedia::new(LOCAL_IP, 30000), samples::NO_COMMON_CODEC)
            .expect_err("nothing in common");
        assert_eq!(
            err,
            SdpError::NoCommonCodec {
                offered: vec![pt(18), pt(9), pt(96)]
            }
        );
        assert!(err.is_not_acceptable());

        let mut pcma_only = LocalMedia::new(LOCAL_IP, 30000);
        pcma_only.codecs = vec![Law::Alaw];
        let err = answer_with(pcma_only, samples::SIPP_PCMU).expect_err("PCMU only offered");
        assert!(err.is_not_acceptable());
    }

    #[test]
    fn later_audio_line_with_a_common_codec_is_used() {
        let offer = format!("{}m=audio 6010 RTP/AVP 8\r\n", samples::NO_COMMON_CODEC);
        let a = answer(&offer);
        assert_eq!(a.media.remote_rtp.port(), 6010);
        assert!(
            a.sdp
                .contains("m=audio 0 RTP/AVP 18 9 96\r\nm=audio 30000 RTP/AVP 8\r\n")
        );
    }

    #[test]
    fn streams_we_cannot_use_are_not_acceptable() {
        let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n";
        for media in [
            "",
            "m=audio 0 RTP/AVP 0\r\n",
            "m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x\r\n",
            "m=video 5000 RTP/AVP 0\r\n",
            "m=image 5000 udptl t38\r\n",
        ] {
            let err = answer_with(LocalMedia::new(LOCAL_IP, 30000), &format!("{head}{media}"))
                .expect_err("no usable audio");
            assert_eq!(err, SdpError::NoAudioStream, "{media:?}");
            assert!(err.is_not_acceptable());
        }
    }

    #[test]
    fn stream_without_connection_address() {
        let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
        let err = answer_with(LocalMedia::new(LOCAL_IP, 30000), offer).expect_err("no c=");
        assert_eq!(err, SdpError::MissingConnection { media_index: 0 });
    }

    #[test]
    fn dynamic_payload_type_for_g711() {
        let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                     m=audio 5000 RTP/AVP 96\r\na=rtpmap:96 pcma/8000/1\r\n";
        let a = answer(offer);
        assert_eq!(a.media.codec, Law::Alaw);
        assert_eq!(a.media.payload_type, pt(96));
        assert!(a.sdp.contains("a=rtpmap:96 PCMA/8000\r\n"));
    }

    #[test]
    fn garbage_is_a_parse_error_not_a_488() {
        let err = answer_with(LocalMedia::new(LOCAL_IP, 30000), "garbage").expect_err("garbage");
        assert!(!err.is_not_acceptable());
    }
}
