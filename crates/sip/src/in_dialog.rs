//! Inside an established dialog, for both directions: session modification and the end.
//!
//! A re-INVITE, or an UPDATE carrying an offer (RFC 3311), is handed to the call as a
//! [`ReInvite`] that must be answered; the dialog stays up whatever the answer (RFC 3261
//! §14.2: a failed re-INVITE leaves the session as it was). An UPDATE without a body (a session
//! refresh) and in-dialog OPTIONS get 200 here. INFO, MESSAGE, NOTIFY and REFER are not served:
//! the stack answers them 501.

use bytes::Bytes;
use rsipstack::dialog::dialog::{DialogState, TerminatedReason, TransactionHandle};
use rsipstack::sip::{Header, Method, StatusCode};

use crate::error::SipError;

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The peer sent BYE.
    RemoteHangup,
    /// We sent BYE (or CANCEL) through `hangup()`.
    LocalHangup,
    /// The caller cancelled before we answered.
    Cancelled,
    /// We rejected the call.
    Rejected,
    /// Our outbound call did not get answered (see the `Failed` event for why).
    NotAnswered,
    /// We answered but the ACK never came (64·T1); the stack sent BYE.
    AckTimeout,
    /// Anything else the stack reported.
    Other {
        /// The stack's description.
        detail: String,
    },
}

impl EndReason {
    /// Maps the stack's reason; `we_are_uas` tells which side "Uac" and "Uas" name.
    pub(crate) fn from_stack(reason: &TerminatedReason, we_are_uas: bool) -> Self {
        match (reason, we_are_uas) {
            (TerminatedReason::UacBye, true) | (TerminatedReason::UasBye, false) => {
                EndReason::RemoteHangup
            }
            (TerminatedReason::UasBye, true) | (TerminatedReason::UacBye, false) => {
                EndReason::LocalHangup
            }
            (TerminatedReason::UacCancel, true) => EndReason::Cancelled,
            (TerminatedReason::UacCancel, false) => EndReason::LocalHangup,
            (TerminatedReason::UasDecline, true) => EndReason::Rejected,
            (TerminatedReason::Timeout, true) => EndReason::AckTimeout,
            (other, _) => EndReason::Other {
                detail: format!("{other:?}"),
            },
        }
    }
}

/// A request to modify the session (re-INVITE, or UPDATE with an offer). Answer it with
/// [`accept`](ReInvite::accept) or [`reject`](ReInvite::reject); dropping it unanswered
/// rejects it with `488 Not Acceptable Here`.
#[derive(Debug)]
pub struct ReInvite {
    /// The SDP offer, if the request carried one; when `None` the answer to
    /// [`accept`](ReInvite::accept) is our offer and the peer's answer comes in the next
    /// `Acked` event.
    pub sdp: Option<Bytes>,
    /// Whether this came as an UPDATE rather than a re-INVITE.
    pub is_update: bool,
    handle: Option<TransactionHandle>,
}

impl ReInvite {
    /// Answers 200 OK with `sdp`.
    pub async fn accept(mut self, sdp: Bytes) -> Result<(), SipError> {
        let Some(handle) = self.handle.take() else {
            return Err(SipError::WrongState {
                action: "accept",
                state: "already answered",
            });
        };
        handle
            .respond(
                StatusCode::OK,
                Some(vec![sdp_content_type()]),
                Some(sdp.to_vec()),
            )
            .await
            .map_err(|err| SipError::stack("answer the re-INVITE", err))
    }

    /// Refuses the modification with a 4xx–6xx `code` (488 is the usual one); the call stays up.
    pub async fn reject(mut self, code: u16) -> Result<(), SipError> {
        if !(400..=699).contains(&code) {
            return Err(SipError::InvalidStatus {
                code,
                purpose: "reject a re-INVITE",
            });
        }
        let Some(handle) = self.handle.take() else {
            return Err(SipError::WrongState {
                action: "reject",
                state: "already answered",
            });
        };
        handle
            .reply(StatusCode::from(code))
            .await
            .map_err(|err| SipError::stack("reject the re-INVITE", err))
    }
}

impl Drop for ReInvite {
    fn drop(&mut self) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        // Without a runtime the handle just drops and the stack answers 501 itself.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                handle.reply(StatusCode::NotAcceptableHere).await.ok();
            });
        }
    }
}

/// `Content-Type: application/sdp`.
pub(crate) fn sdp_content_type() -> Header {
    Header::ContentType("application/sdp".into())
}

/// A body as an SDP, `None` when empty.
pub(crate) fn sdp_of(body: &[u8]) -> Option<Bytes> {
    (!body.is_empty()).then(|| Bytes::copy_from_slice(body))
}

/// What a dialog state change means to the call.
pub(crate) enum Step {
    /// The dialog is (again) confirmed: an ACK may have arrived.
    Confirmed,
    /// The peer wants to modify the session.
    Modify(ReInvite),
    /// A provisional response (UAC side).
    Early { code: u16, sdp: Option<Bytes> },
    /// The dialog ended.
    Ended(TerminatedReason),
    /// Nothing the call needs to see.
    Nothing,
}

/// Classifies a state change, answering on the spot what needs no decision from the call.
pub(crate) fn classify(state: DialogState) -> Step {
    match state {
        DialogState::Confirmed(..) => Step::Confirmed,
        DialogState::Early(_, resp) => Step::Early {
            code: resp.status_code.code(),
            sdp: sdp_of(&resp.body),
        },
        DialogState::Updated(_, req, handle) => {
            let is_update = req.method == Method::Update;
            if is_update && req.body.is_empty() {
                answer_ok(handle);
                Step::Nothing
            } else {
                Step::Modify(ReInvite {
                    sdp: sdp_of(&req.body),
                    is_update,
                    handle: Some(handle),
                })
            }
        }
        DialogState::Options(_, _, handle) => {
            answer_ok(handle);
            Step::Nothing
        }
        DialogState::Terminated(_, reason) => Step::Ended(reason),
        // INFO, MESSAGE, NOTIFY, REFER, PUBLISH: dropping the handle makes the stack answer 501.
        _ => Step::Nothing,
    }
}

fn answer_ok(handle: TransactionHandle) {
    tokio::spawn(async move {
        handle.reply(StatusCode::OK).await.ok();
    });
}
