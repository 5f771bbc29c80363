//! Our offers and the answers to them (RFC 3264 §5 and §7): the pure functions behind
//! [`SdpSession::create_offer`](crate::SdpSession::create_offer) and
//! [`SdpSession::handle_answer`](crate::SdpSession::handle_answer).
//!
//! We offer one audio m-line: our codecs in preference order on their static payload types,
//! telephone-event on our configured payload type, our ptime and direction. An answer must
//! have that one m-line, not rejected, with at least one of our codecs; the first of ours in
//! the answer's order is used, with the answer's payload type number (§6.1 lets the answerer
//! renumber).

use std::net::SocketAddr;

use g711::Law;
use rtp::PayloadType;

use crate::render::AudioLine;
use crate::{Description, LocalMedia, MediaKind, NegotiatedMedia, SdpError};

/// What we put in an offer, kept to check the answer against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Offered {
    pub(crate) codecs: Vec<(PayloadType, Law)>,
    pub(crate) telephone_event: Option<PayloadType>,
}

pub(crate) fn plan(local: &LocalMedia) -> Result<(Offered, AudioLine), SdpError> {
    let codecs: Vec<(PayloadType, Law)> = local
        .distinct_codecs()
        .into_iter()
        .filter_map(|law| Some((PayloadType::new(law.payload_type())?, law)))
        .collect();
    if codecs.is_empty() {
        return Err(SdpError::NoLocalCodec);
    }
    let telephone_event = local.telephone_event.then_some(local.telephone_event_pt);
    if let Some(pt) = telephone_event
        && codecs.iter().any(|(codec_pt, _)| *codec_pt == pt)
    {
        return Err(SdpError::TelephoneEventCollision { pt });
    }
    let line = AudioLine {
        port: local.rtp_port,
        codecs: codecs.clone(),
        telephone_event,
        ptime: local.ptime,
        direction: local.direction,
    };
    Ok((
        Offered {
            codecs,
            telephone_event,
        },
        line,
    ))
}

pub(crate) fn handle_answer(
    offered: &Offered,
    answer: &Description,
    local: &LocalMedia,
) -> Result<NegotiatedMedia, SdpError> {
    let [line] = answer.media.as_slice() else {
        return Err(SdpError::MediaCountMismatch {
            offered: 1,
            answered: answer.media.len(),
        });
    };
    if line.kind != MediaKind::Audio || line.is_rejected() {
        return Err(SdpError::AudioRejected);
    }
    let (payload_type, codec) = line
        .g711_payloads()
        .find(|(_, law)| offered.codecs.iter().any(|(_, ours)| ours == law))
        .ok_or_else(|| SdpError::AnswerCodecNotOffered {
            answered: line.payloads.iter().map(|p| p.pt).collect(),
        })?;
    let remote_ip = line
        .connection
        .ok_or(SdpError::MissingConnection { media_index: 0 })?;
    let answered = line.effective_direction();
    Ok(NegotiatedMedia {
        remote_rtp: SocketAddr::new(remote_ip, line.port),
        codec,
        payload_type,
        telephone_event: line
            .telephone_event()
            .filter(|_| offered.telephone_event.is_some()),
        ptime: line.ptime.unwrap_or(local.ptime),
        direction: answered.reversed().intersect(local.direction),
        on_hold: !answered.receives(),
    })
}
