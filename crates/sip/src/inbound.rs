//! Calls offered to us (UAS, RFC 3261 §13.3): the offer, and the handle that answers it.
//!
//! Each offered INVITE gets `100 Trying` at once (§8.2.6.1) before the call is handed out, so
//! the transaction is in Proceeding whatever the call layer does next. The call then goes
//! ringing → answered (→ `Acked`) or rejected, or the caller cancels (§9.2: 487 to the INVITE,
//! 200 to the CANCEL, both sent by the stack). Events come from one task per call that follows
//! the dialog's states; it removes the dialog from the stack when the call ends.

use crate::endpoint::{Shared, reply};
use crate::error::SipError;
use crate::in_dialog::{EndReason, ReInvite, Step, classify, sdp_content_type, sdp_of};
use bytes::Bytes;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{Header, Request, StatusCode, Transport};
use rsipstack::transaction::transaction::{Transaction, TransactionEvent, TransactionEventSender};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Events per call buffered for a slow reader.
const EVENT_QUEUE: usize = 16;

/// A SIP Call-ID (RFC 3261 §8.1.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(pub String);

impl CallId {
    /// The Call-ID text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The transport a call's signalling runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalTransport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
}

/// A call offered to us: what the INVITE said, and the handle to answer it.
#[derive(Debug)]
pub struct IncomingCall {
    /// The Call-ID.
    pub call_id: CallId,
    /// The From URI.
    pub from: String,
    /// The From display name, if any.
    pub from_display_name: Option<String>,
    /// The To URI.
    pub to: String,
    /// The user part of the Request-URI: the number or name dialled.
    pub request_user: Option<String>,
    /// The headers of interest (see `EndpointConfig::headers_of_interest`), in arrival order.
    pub headers: Vec<(String, String)>,
    /// The SDP offer, if the INVITE had a body. When `None`, the SDP given to
    /// [`InboundCall::answer`] is our offer and the answer arrives in [`InboundEvent::Acked`].
    pub sdp_offer: Option<Bytes>,
    /// Where the INVITE came from.
    pub source: SocketAddr,
    /// The transport it came on.
    pub transport: SignalTransport,
    /// The handle that answers, rejects and follows the call.
    pub call: InboundCall,
}

/// What happens to an inbound call after it was offered.
#[derive(Debug)]
pub enum InboundEvent {
    /// The ACK to our 200 arrived (after the answer, and after each re-INVITE we accepted).
    /// `sdp` is the peer's answer when our 200 carried the offer.
    Acked {
        /// The ACK's SDP body, if any.
        sdp: Option<Bytes>,
    },
    /// The peer wants to modify the session; answer it, the call stays up either way.
    ReInvite(ReInvite),
    /// The peer hung up; the stack has answered its BYE with 200.
    Bye,
    /// The caller cancelled before we answered; the stack sent 487 and 200.
    Cancelled,
    /// The call is over; always the last event.
    Terminated {
        /// Why.
        reason: EndReason,
    },
}

/// How to refuse an inbound call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// A final status code, 300–699.
    pub code: u16,
    /// Text for a `Reason: SIP ;cause=<code> ;text="…"` header (RFC 3326), if wanted.
    pub reason: Option<String>,
    /// A `Retry-After` (RFC 3261 §20.33), typically with 503.
    pub retry_after: Option<Duration>,
}

impl Rejection {
    /// A rejection with just a code.
    pub fn new(code: u16) -> Self {
        Rejection {
            code,
            reason: None,
            retry_after: None,
        }
    }

    /// `486 Busy Here`.
    pub fn busy() -> Self {
        Rejection::new(486)
    }

    /// `488 Not Acceptable Here`: no common codec.
    pub fn not_acceptable() -> Self {
        Rejection::new(488)
    }

    /// `500 Server Internal Error` with a Reason text.
    pub fn server_error(reason: impl Into<String>) -> Self {
        Rejection {
            reason: Some(reason.into()),
            ..Rejection::new(500)
        }
    }

    /// `503 Service Unavailable` with `Retry-After`.
    pub fn unavailable(retry_after: Duration) -> Self {
        Rejection {
            retry_after: Some(retry_after),
            ..Rejection::new(503)
        }
    }
}

/// The handle of an inbound call. Dropping it unanswered rejects the call with 480; dropping
/// it while the call is up sends BYE.
pub struct InboundCall {
    call_id: CallId,
    dialog: InviteDialog,
    invite: Request,
    transaction: TransactionEventSender,
    shared: Arc<Shared>,
    events: mpsc::Receiver<InboundEvent>,
}

impl fmt::Debug for InboundCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundCall")
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

impl InboundCall {
    /// The Call-ID.
    pub fn call_id(&self) -> &CallId {
        &self.call_id
    }

    /// The next event; `None` after [`InboundEvent::Terminated`].
    pub async fn next_event(&mut self) -> Option<InboundEvent> {
        self.events.recv().await
    }

    /// Sends `180 Ringing`.
    pub fn ringing(&self) -> Result<(), SipError> {
        self.require_unanswered("ring")?;
        self.dialog
            .ringing(None, None)
            .map_err(|err| SipError::stack("send 180", err))
    }

    /// Sends `200 OK` with `sdp`: the answer to the offer, or our offer when the INVITE had
    /// none (the answer then comes in [`InboundEvent::Acked`]).
    pub fn answer(&self, sdp: Bytes) -> Result<(), SipError> {
        self.require_unanswered("answer")?;
        self.dialog
            .accept(Some(vec![sdp_content_type()]), Some(sdp.to_vec()))
            .map_err(|err| SipError::stack("send 200", err))?;
        self.shared.counters.answer("INVITE", 200);
        Ok(())
    }

    /// Refuses the call with a final response.
    pub fn reject(&self, rejection: Rejection) -> Result<(), SipError> {
        if !(300..=699).contains(&rejection.code) {
            return Err(SipError::InvalidStatus {
                code: rejection.code,
                purpose: "reject a call",
            });
        }
        self.require_unanswered("reject")?;
        let status = StatusCode::from(rejection.code);
        let mut response = self
            .shared
            .stack
            .make_response(&self.invite, status.clone(), None);
        let local_tag = self.dialog.id().local_tag;
        if let Ok(to) = response.to_header_mut() {
            to.mut_tag(local_tag.into()).ok();
        }
        if let Some(text) = &rejection.reason {
            let text = text.replace(['"', '\\', '\r', '\n'], " ");
            response.headers.push(Header::Reason(
                format!("SIP ;cause={} ;text=\"{text}\"", rejection.code).into(),
            ));
        }
        if let Some(after) = rejection.retry_after {
            response
                .headers
                .push(Header::RetryAfter(after.as_secs().to_string().into()));
        }
        // The stack's own reject() cannot carry extra headers, so our response goes to the
        // transaction first; reject() then only moves the dialog to Terminated (its own
        // response is refused by the transaction, which is already Completed).
        self.transaction
            .send(TransactionEvent::Respond(response))
            .map_err(|err| SipError::stack("send the rejection", err))?;
        self.shared.counters.answer("INVITE", rejection.code);
        self.dialog
            .reject(Some(status), None)
            .map_err(|err| SipError::stack("end the rejected dialog", err))
    }

    /// Ends the call: BYE once answered, `480 Temporarily Unavailable` before. Does nothing
    /// if the call is already over.
    pub async fn hangup(&self) -> Result<(), SipError> {
        match self.dialog.state() {
            DialogState::Terminated(..) => Ok(()),
            DialogState::Calling(_) | DialogState::Trying(_) | DialogState::Early(..) => {
                self.reject(Rejection::new(480))
            }
            _ => self
                .dialog
                .bye()
                .await
                .map_err(|err| SipError::stack("send BYE", err)),
        }
    }

    fn require_unanswered(&self, action: &'static str) -> Result<(), SipError> {
        match self.dialog.state() {
            DialogState::Calling(_) | DialogState::Trying(_) | DialogState::Early(..) => Ok(()),
            DialogState::Terminated(..) => Err(SipError::WrongState {
                action,
                state: "over",
            }),
            _ => Err(SipError::WrongState {
                action,
                state: "already answered",
            }),
        }
    }
}

impl Drop for InboundCall {
    fn drop(&mut self) {
        match self.dialog.state() {
            DialogState::Terminated(..) => {}
            DialogState::Calling(_) | DialogState::Trying(_) | DialogState::Early(..) => {
                self.reject(Rejection::new(480)).ok();
            }
            _ => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let dialog = self.dialog.clone();
                    runtime.spawn(async move { dialog.bye().await.ok() });
                }
            }
        }
    }
}

/// Turns a new INVITE transaction into an [`IncomingCall`], or refuses it.
pub(crate) fn offer_call(
    shared: &Arc<Shared>,
    calls: &mpsc::Sender<IncomingCall>,
    tx: Transaction,
) {
    let Ok(permit) = calls.clone().try_reserve_owned() else {
        tracing::warn!("incoming call queue full or closed, refusing an INVITE");
        reply(
            shared,
            tx,
            StatusCode::ServiceUnavailable,
            vec![Header::RetryAfter("5".into())],
        );
        return;
    };
    let transport = match tx.connection.as_ref().map(|c| c.transport()) {
        Some(Transport::Tcp) => SignalTransport::Tcp,
        _ => SignalTransport::Udp,
    };
    let contact = shared.contact(match transport {
        SignalTransport::Tcp => Transport::Tcp,
        SignalTransport::Udp => Transport::Udp,
    });
    let contact = rsipstack::sip::Uri::try_from(contact.as_str()).ok();
    let (states_tx, states) = shared.dialogs.new_dialog_state_channel();
    let dialog = match shared
        .dialogs
        .get_or_create_server_invite(&tx, states_tx, None, contact)
    {
        Ok(dialog) => dialog,
        Err(err) => {
            tracing::debug!(%err, "cannot make a dialog of an INVITE");
            reply(shared, tx, StatusCode::BadRequest, vec![]);
            return;
        }
    };
    let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
    let call_id = CallId(
        tx.original
            .call_id_header()
            .map(|c| c.value().to_string())
            .unwrap_or_default(),
    );
    let handle = InboundCall {
        call_id,
        dialog: dialog.clone(),
        invite: tx.original.clone(),
        transaction: tx.tu_sender.clone(),
        shared: shared.clone(),
        events,
    };
    let call = describe(shared, &tx, transport, handle);
    tokio::spawn(follow(
        dialog.clone(),
        states,
        events_tx,
        shared.dialogs.clone(),
    ));
    tokio::spawn(async move {
        let mut tx = tx;
        let mut dialog = dialog;
        // 100 first, so that whatever the call layer does next finds the transaction in
        // Proceeding; the dialog then skips its own 100.
        tx.send_trying().await.ok();
        permit.send(call);
        if let Err(err) = dialog.handle(&mut tx).await {
            tracing::debug!(%err, "INVITE transaction ended with an error");
        }
    });
}

/// The offer as the call layer sees it.
fn describe(
    shared: &Shared,
    tx: &Transaction,
    transport: SignalTransport,
    call: InboundCall,
) -> IncomingCall {
    let req = &tx.original;
    let from = req.from_header().ok().and_then(|f| f.typed().ok());
    let to = req
        .to_header()
        .ok()
        .and_then(|t| t.typed().ok())
        .map(|t| t.uri.to_string())
        .unwrap_or_default();
    let wanted = |name: &str| {
        name.len() > 2 && name[..2].eq_ignore_ascii_case("x-")
            || shared
                .headers_of_interest
                .iter()
                .any(|w| w.eq_ignore_ascii_case(name))
    };
    let headers = req
        .headers
        .iter()
        .filter(|h| wanted(h.name()))
        .map(|h| (h.name().to_string(), h.value().trim().to_string()))
        .collect();
    let source = tx
        .connection
        .as_ref()
        .and_then(|c| c.get_remote_addr())
        .and_then(|a| a.get_socketaddr().ok())
        .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    IncomingCall {
        call_id: call.call_id.clone(),
        from: from.as_ref().map(|f| f.uri.to_string()).unwrap_or_default(),
        from_display_name: from.and_then(|f| f.display_name),
        to,
        request_user: req.uri.user().map(str::to_string),
        headers,
        sdp_offer: sdp_of(&req.body),
        source,
        transport,
        call,
    }
}

/// Follows one inbound dialog and reports what the call layer needs.
async fn follow(
    dialog: InviteDialog,
    mut states: DialogStateReceiver,
    events: mpsc::Sender<InboundEvent>,
    dialogs: Arc<DialogLayer>,
) {
    let mut last_acked_cseq = None;
    while let Some(state) = states.recv().await {
        let event = match classify(state) {
            Step::Confirmed => {
                let Some(ack) = dialog.last_remote_ack() else {
                    continue;
                };
                let cseq = ack.cseq_header().ok().and_then(|c| c.seq().ok());
                if cseq == last_acked_cseq {
                    continue;
                }
                last_acked_cseq = cseq;
                InboundEvent::Acked {
                    sdp: sdp_of(&ack.body),
                }
            }
            Step::Modify(reinvite) => InboundEvent::ReInvite(reinvite),
            Step::Ended(reason) => {
                let reason = EndReason::from_stack(&reason, true);
                match reason {
                    EndReason::RemoteHangup => events.send(InboundEvent::Bye).await.ok(),
                    EndReason::Cancelled => events.send(InboundEvent::Cancelled).await.ok(),
                    _ => None,
                };
                events.send(InboundEvent::Terminated { reason }).await.ok();
                dialogs.remove_dialog(&dialog.id());
                return;
            }
            Step::Early { .. } | Step::Nothing => continue,
        };
        // A reader that went away still lets the dialog run to its end and be removed.
        events.send(event).await.ok();
    }
}
