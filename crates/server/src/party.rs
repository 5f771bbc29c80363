//! [`Party`]: the far end of a call running a document, whichever side placed it; and
//! [`Signalling`], what the bridge needs of the caller's side.
//!
//! An inbound call's document may answer, refuse or hang up; an outbound call's document runs
//! once the callee has answered, so it can only hang up. Both deliver the same events to the
//! script (an outbound call's provisional and answer events are behind it by then).

use bytes::Bytes;
use sip::{InboundCall, InboundEvent, OutboundCall, OutboundEvent, Rejection, SipError};

/// What the bridge needs of the call it relays from.
pub(crate) trait Signalling: Send {
    /// The next event; `None` once the call is over.
    fn next_event(&mut self) -> impl Future<Output = Option<InboundEvent>> + Send;
    /// Ends the call.
    fn hangup(&self) -> impl Future<Output = Result<(), SipError>> + Send;
}

impl Signalling for InboundCall {
    async fn next_event(&mut self) -> Option<InboundEvent> {
        InboundCall::next_event(self).await
    }

    async fn hangup(&self) -> Result<(), SipError> {
        InboundCall::hangup(self).await
    }
}

/// The call a document runs on.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per call, owned by its task and never moved on the media path"
)]
pub(crate) enum Party {
    /// Offered to us.
    Inbound(InboundCall),
    /// Placed by us (`dial`), answered.
    Outbound(OutboundCall),
}

const ANSWERED: SipError = SipError::WrongState {
    action: "answer or refuse",
    state: "an outbound call, already answered",
};

impl Party {
    /// Sends the 200 with `sdp` (inbound only).
    pub(crate) fn answer(&self, sdp: Bytes) -> Result<(), SipError> {
        match self {
            Party::Inbound(c) => c.answer(sdp),
            Party::Outbound(_) => Err(ANSWERED),
        }
    }

    /// Refuses the call (inbound only; an outbound call is hung up instead).
    pub(crate) async fn reject(&self, rejection: Rejection) -> Result<(), SipError> {
        match self {
            Party::Inbound(c) => c.reject(rejection),
            Party::Outbound(c) => c.hangup().await,
        }
    }

    /// The inbound call, if this is one.
    pub(crate) fn inbound_mut(&mut self) -> Option<&mut InboundCall> {
        match self {
            Party::Inbound(c) => Some(c),
            Party::Outbound(_) => None,
        }
    }
}

impl Signalling for Party {
    async fn next_event(&mut self) -> Option<InboundEvent> {
        match self {
            Party::Inbound(c) => c.next_event().await,
            Party::Outbound(c) => loop {
                match c.next_event().await? {
                    OutboundEvent::Bye => return Some(InboundEvent::Bye),
                    OutboundEvent::Terminated { reason } => {
                        return Some(InboundEvent::Terminated { reason });
                    }
                    OutboundEvent::ReInvite(reinvite) => {
                        return Some(InboundEvent::ReInvite(reinvite));
                    }
                    // Behind the call once it is answered: retransmitted 2xx, late 18x.
                    OutboundEvent::Provisional { .. }
                    | OutboundEvent::Answered { .. }
                    | OutboundEvent::Failed(_) => {}
                }
            },
        }
    }

    async fn hangup(&self) -> Result<(), SipError> {
        match self {
            Party::Inbound(c) => c.hangup().await,
            Party::Outbound(c) => c.hangup().await,
        }
    }
}
