//! [`NegotiatedMedia`]: the outcome of one offer/answer exchange, what the call layer needs to
//! run RTP.

use std::net::SocketAddr;

use g711::Law;
use rtp::PayloadType;

use crate::{Direction, Ptime};

/// The audio stream both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Where to send RTP. The IP may be unspecified (`0.0.0.0`) when the peer put us on hold
    /// the RFC 2543 way; then [`NegotiatedMedia::direction`] does not send.
    pub remote_rtp: SocketAddr,
    /// The codec, for both directions.
    pub codec: Law,
    /// The payload type number the peer uses for `codec` in its SDP: the one to send with and
    /// to expect.
    pub payload_type: PayloadType,
    /// The peer's telephone-event payload type, if both sides support RFC 4733.
    pub telephone_event: Option<PayloadType>,
    /// Packetization: the peer's `a=ptime`, else ours.
    pub ptime: Ptime,
    /// Our direction: whether we send and whether we receive.
    pub direction: Direction,
    /// Whether the peer does not want our media (sendonly, inactive or `c=0.0.0.0`): it put
    /// the call on hold.
    pub on_hold: bool,
}
