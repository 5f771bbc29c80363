//! [`LocalMedia`]: what earshot can do and where it listens, the input to every offer and
//! answer it writes.

use std::net::IpAddr;

use g711::Law;
use rtp::PayloadType;

use crate::{Direction, Ptime};

/// Which side's codec order decides when both sides support several codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CodecPolicy {
    /// The first codec in the offer's order that we support (RFC 3264 §6.1: the offerer lists
    /// its formats in order of preference, and honouring it avoids transcoding at the offerer).
    #[default]
    OffererOrder,
    /// The first codec in our preference order that the offer lists.
    LocalOrder,
}

/// Our audio capabilities and transport address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// The codecs we support, in our order of preference; duplicates are ignored.
    pub codecs: Vec<Law>,
    /// Whether we accept RFC 4733 telephone-event (DTMF).
    pub telephone_event: bool,
    /// The payload type we offer telephone-event with; answers reuse the offerer's.
    pub telephone_event_pt: PayloadType,
    /// The address written in `c=` and `o=`.
    pub address: IpAddr,
    /// Our RTP port.
    pub rtp_port: u16,
    /// The ptime we ask for when the offer names none, and the one we offer.
    pub ptime: Ptime,
    /// The direction we want; `SendOnly` or `Inactive` put the peer on hold.
    pub direction: Direction,
    /// How a codec is chosen when answering.
    pub codec_policy: CodecPolicy,
}

/// The usual dynamic payload type for telephone-event.
pub const DEFAULT_TELEPHONE_EVENT_PT: PayloadType = match PayloadType::new(101) {
    Some(pt) => pt,
    None => panic!("101 fits in 7 bits"),
};

impl LocalMedia {
    /// PCMU then PCMA, telephone-event on PT 101, 20 ms, sendrecv, offerer's codec order.
    pub fn new(address: IpAddr, rtp_port: u16) -> LocalMedia {
        LocalMedia {
            codecs: vec![Law::Ulaw, Law::Alaw],
            telephone_event: true,
            telephone_event_pt: DEFAULT_TELEPHONE_EVENT_PT,
            address,
            rtp_port,
            ptime: Ptime::DEFAULT,
            direction: Direction::SendRecv,
            codec_policy: CodecPolicy::OffererOrder,
        }
    }

    /// Whether `law` is among our codecs.
    pub fn supports(&self, law: Law) -> bool {
        self.codecs.contains(&law)
    }

    /// Our codecs without duplicates, in preference order.
    pub(crate) fn distinct_codecs(&self) -> Vec<Law> {
        let mut distinct = Vec::with_capacity(2);
        for &law in &self.codecs {
            if !distinct.contains(&law) {
                distinct.push(law);
            }
        }
        distinct
    }
}
