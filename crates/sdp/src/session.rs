//! [`SdpSession`]: one call leg's side of SDP offer/answer, with the `o=` line's state.
//!
//! RFC 3264 §5 and §8: the session id stays for the dialog, and the version goes up by one in
//! every SDP we write after the first (re-offer, re-answer, hold). The session remembers our
//! outstanding offer, so that an answer is checked against what we offered.
//! No IO, no clock: the caller supplies the session id (say, from its RNG or the wall clock).

use crate::render::{self, Line, OriginLine};
use crate::{Description, LocalMedia, NegotiatedMedia, SdpError, answer, offer};

/// An answer we wrote, and the media it agrees on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The SDP body to send.
    pub sdp: String,
    /// The negotiated stream.
    pub media: NegotiatedMedia,
}

/// Offer/answer state for one call leg.
#[derive(Debug, Clone)]
pub struct SdpSession {
    local: LocalMedia,
    session_id: u64,
    /// The version of the next SDP we write.
    next_version: u64,
    pending_offer: Option<offer::Offered>,
    negotiated: Option<NegotiatedMedia>,
}

impl SdpSession {
    /// A session with the given `o=` session id; the first SDP carries version
    /// `session_id`, as is customary, and each later one the previous plus one.
    pub fn new(session_id: u64, local: LocalMedia) -> SdpSession {
        SdpSession {
            local,
            session_id,
            next_version: session_id,
            pending_offer: None,
            negotiated: None,
        }
    }

    /// Our capabilities and address.
    pub fn local(&self) -> &LocalMedia {
        &self.local
    }

    /// Changes our capabilities, address or direction (for instance to put the peer on hold);
    /// takes effect in the next offer or answer.
    pub fn set_local(&mut self, local: LocalMedia) {
        self.local = local;
    }

    /// The `o=` session id.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// The version the next SDP we write will carry.
    pub fn next_version(&self) -> u64 {
        self.next_version
    }

    /// The media of the last completed exchange.
    pub fn negotiated(&self) -> Option<&NegotiatedMedia> {
        self.negotiated.as_ref()
    }

    /// Whether an offer of ours awaits its answer.
    pub fn has_pending_offer(&self) -> bool {
        self.pending_offer.is_some()
    }

    /// Writes an offer (initial INVITE, re-INVITE, or the 200 OK to an INVITE without SDP)
    /// and remembers it until [`SdpSession::handle_answer`].
    pub fn create_offer(&mut self) -> Result<String, SdpError> {
        let (offered, line) = offer::plan(&self.local)?;
        let sdp = render::render(
            &self.take_origin(),
            self.local.address,
            &[Line::Audio(line)],
        );
        self.pending_offer = Some(offered);
        Ok(sdp)
    }

    /// Checks the peer's answer to our outstanding offer and returns the negotiated media.
    /// The offer stays outstanding if the answer does not parse or does not fit it.
    pub fn handle_answer(&mut self, answer: &[u8]) -> Result<NegotiatedMedia, SdpError> {
        let offered = self
            .pending_offer
            .as_ref()
            .ok_or(SdpError::NoOfferPending)?;
        let description = Description::parse(answer)?;
        let media = offer::handle_answer(offered, &description, &self.local)?;
        self.pending_offer = None;
        self.negotiated = Some(media.clone());
        Ok(media)
    }

    /// Answers the peer's offer. On error nothing changes and no version is used; an error
    /// with [`SdpError::is_not_acceptable`] is a 488 for the SIP layer.
    pub fn answer_offer(&mut self, offer: &[u8]) -> Result<Answer, SdpError> {
        let description = Description::parse(offer)?;
        self.answer_description(&description)
    }

    /// As [`SdpSession::answer_offer`], for an offer already parsed.
    pub fn answer_description(&mut self, offer: &Description) -> Result<Answer, SdpError> {
        let planned = answer::plan(offer, &self.local)?;
        let sdp = render::render(&self.take_origin(), self.local.address, &planned.lines);
        // A new offer from the peer supersedes ours (the SIP layer resolves glare with 491).
        self.pending_offer = None;
        self.negotiated = Some(planned.media.clone());
        Ok(Answer {
            sdp,
            media: planned.media,
        })
    }

    fn take_origin(&mut self) -> OriginLine {
        let origin = OriginLine {
            session_id: self.session_id,
            version: self.next_version,
        };
        self.next_version = self.next_version.wrapping_add(1);
        origin
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use g711::Law;
    use rtp::PayloadType;

    use super::*;
    use crate::{DEFAULT_TELEPHONE_EVENT_PT, Direction, Ptime, samples};

    const LOCAL_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 99));

    fn session() -> SdpSession {
        SdpSession::new(1_000, LocalMedia::new(LOCAL_IP, 30000))
    }

    fn origin_version(sdp: &str) -> String {
        Description::parse(sdp.as_bytes())
            .expect("our SDP parses")
            .origin
            .session_version
    }

    #[test]
    fn offer_text() {
        let offer = session()
            .create_offer()
            .expect("default capabilities offer");
        assert_eq!(
            offer,
            "v=0\r\n\
             o=earshot 1000 1000 IN IP4 192.0.2.99\r\n\
             s=earshot\r\n\
             c=IN IP4 192.0.2.99\r\n\
             t=0 0\r\n\
             m=audio 30000 RTP/AVP 0 8 101\r\n\
             a=sendrecv\r\n\
             a=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-15\r\n\
             a=ptime:20\r\n"
        );
    }

    #[test]
    fn offer_parses_with_ezk_too() {
        let offer = session()
            .create_offer()
            .expect("default capabilities offer");
        let parsed = ezk_sdp_types::SessionDescription::parse(&offer.into())
            .expect("ezk parses what we write");
        assert_eq!(parsed.media_descriptions[0].media.fmts, [0, 8, 101]);
    }

    #[test]
    fn version_increments_on_every_sdp_we_write() {
        let mut s = session();
        let first = s.create_offer().expect("offer");
        let answer = s
            .handle_answer(samples::SIPP_PCMU.as_bytes())
            .expect("SIPp answers PCMU");
        assert_eq!(answer.codec, Law::Ulaw);
        let reoffer = s.create_offer().expect("re-offer");
        let reanswer = s
            .answer_offer(samples::HOLD_SENDONLY.as_bytes())
            .expect("hold re-INVITE is acceptable");
        assert_eq!(origin_version(&first), "1000");
        assert_eq!(origin_version(&reoffer), "1001");
        assert_eq!(origin_version(&reanswer.sdp), "1002");
        assert_eq!(s.next_version(), 1003);
        assert_eq!(s.session_id(), 1000);
        assert!(s.negotiated().is_some_and(|m| m.on_hold));
    }

    #[test]
    fn failed_answer_uses_no_version() {
        let mut s = session();
        let err = s
            .answer_offer(samples::NO_COMMON_CODEC.as_bytes())
            .expect_err("nothing in common");
        assert!(err.is_not_acceptable());
        assert_eq!(s.next_version(), 1000);
        assert_eq!(s.negotiated(), None);
    }

    #[test]
    fn handles_answer_to_our_offer() {
        let mut s = session();
        s.create_offer().expect("offer");
        assert!(s.has_pending_offer());
        let media = s
            .handle_answer(samples::ASTERISK.as_bytes())
            .expect("Asterisk answers PCMA");
        assert_eq!(
            media,
            NegotiatedMedia {
                remote_rtp: "192.0.2.5:10000".parse().expect("literal socket address"),
                codec: Law::Alaw,
                payload_type: PayloadType::PCMA,
                telephone_event: Some(DEFAULT_TELEPHONE_EVENT_PT),
                ptime: Ptime::from_ms(30).expect("non-zero"),
                direction: Direction::SendRecv,
                on_hold: false,
            }
        );
        assert!(!s.has_pending_offer());
        assert_eq!(s.negotiated(), Some(&media));
    }

    #[test]
    fn answer_may_renumber_and_hold() {
        let mut s = session();
        s.create_offer().expect("offer");
        let answer = "v=0\r\no=- 5 5 IN IP4 192.0.2.8\r\ns=-\r\nc=IN IP4 192.0.2.8\r\nt=0 0\r\n\
                      m=audio 7000 RTP/AVP 97\r\na=rtpmap:97 PCMU/8000\r\na=recvonly\r\n";
        let media = s.handle_answer(answer.as_bytes()).expect("renumbered PCMU");
        assert_eq!(media.payload_type.get(), 97);
        assert_eq!(media.telephone_event, None);
        assert_eq!(media.direction, Direction::SendOnly);
        assert_eq!(media.ptime, Ptime::DEFAULT);
        assert!(!media.on_hold);
    }

    #[test]
    fn answer_must_fit_the_offer() {
        let head = "v=0\r\no=- 5 5 IN IP4 192.0.2.8\r\ns=-\r\nc=IN IP4 192.0.2.8\r\nt=0 0\r\n";
        let cases = [
            ("m=audio 0 RTP/AVP 0\r\n", SdpError::AudioRejected),
            ("m=video 7000 RTP/AVP 0\r\n", SdpError::AudioRejected),
            (
                "",
                SdpError::MediaCountMismatch {
                    offered: 1,
                    answered: 0,
                },
            ),
            (
                "m=audio 7000 RTP/AVP 0\r\nm=audio 7002 RTP/AVP 0\r\n",
                SdpError::MediaCountMismatch {
                    offered: 1,
                    answered: 2,
                },
            ),
            (
                "m=audio 7000 RTP/AVP 18\r\n",
                SdpError::AnswerCodecNotOffered {
                    answered: vec![PayloadType::new(18).expect("7-bit")],
                },
            ),
        ];
        for (media, expected) in cases {
            let mut s = session();
            s.create_offer().expect("offer");
            let answer = format!("{head}{media}");
            assert_eq!(
                s.handle_answer(answer.as_bytes()),
                Err(expected),
                "{media:?}"
            );
            assert!(
                s.has_pending_offer(),
                "a bad answer leaves the offer pending"
            );
        }
    }

    #[test]
    fn codec_we_did_not_offer_is_refused() {
        let mut local = LocalMedia::new(LOCAL_IP, 30000);
        local.codecs = vec![Law::Alaw];
        let mut s = SdpSession::new(1, local);
        let offer = s.create_offer().expect("offer");
        assert!(offer.contains("m=audio 30000 RTP/AVP 8 101\r\n"));
        assert!(matches!(
            s.handle_answer(samples::SIPP_PCMU.as_bytes()),
            Err(SdpError::AnswerCodecNotOffered { .. })
        ));
    }

    #[test]
    fn answer_without_offer() {
        assert_eq!(
            session().handle_answer(samples::SIPP_PCMU.as_bytes()),
            Err(SdpError::NoOfferPending)
        );
    }

    #[test]
    fn offer_needs_a_codec_and_a_free_event_payload_type() {
        let mut local = LocalMedia::new(LOCAL_IP, 30000);
        local.codecs.clear();
        assert_eq!(
            SdpSession::new(1, local.clone()).create_offer(),
            Err(SdpError::NoLocalCodec)
        );
        local.codecs = vec![Law::Alaw, Law::Alaw];
        local.telephone_event_pt = PayloadType::PCMA;
        assert_eq!(
            SdpSession::new(1, local.clone()).create_offer(),
            Err(SdpError::TelephoneEventCollision {
                pt: PayloadType::PCMA
            })
        );
        local.telephone_event = false;
        let offer = SdpSession::new(1, local)
            .create_offer()
            .expect("PCMA-only offer");
        assert!(offer.contains("m=audio 30000 RTP/AVP 8\r\n"), "{offer}");
    }

    #[test]
    fn hold_offer_from_our_side() {
        let mut s = session();
        let mut local = s.local().clone();
        local.direction = Direction::SendOnly;
        s.set_local(local);
        let offer = s.create_offer().expect("hold offer");
        assert!(offer.contains("a=sendonly\r\n"));
        let answer = "v=0\r\no=- 5 5 IN IP4 192.0.2.8\r\ns=-\r\nc=IN IP4 192.0.2.8\r\nt=0 0\r\n\
                      m=audio 7000 RTP/AVP 0\r\na=recvonly\r\n";
        let media = s.handle_answer(answer.as_bytes()).expect("held");
        assert_eq!(media.direction, Direction::SendOnly);
    }
}
