//! Calls we place (UAC, RFC 3261 §13.2): the request, and the handle that follows it.
//!
//! The INVITE runs in the stack's background task; one task per call turns its progress into
//! events: provisional responses, then `Answered` (the stack ACKs the 2xx, §13.2.2.4) or
//! `Failed`. A 401/407 is answered once with the given credentials (digest, RFC 2617 as RFC
//! 3261 §22 uses it). When the ring timeout passes the INVITE is cancelled (§9.1); a 2xx that
//! crosses the CANCEL is ACKed and ended with BYE by the stack.

use crate::endpoint::Shared;
use crate::error::SipError;
use crate::in_dialog::{EndReason, ReInvite, Step, classify, sdp_of};
use crate::inbound::CallId;
use bytes::Bytes;
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::{InviteAsyncResult, InviteOption};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::platform::JoinHandle;
use rsipstack::sip::{Header, StatusCodeKind, Transport, Uri};
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Events per call buffered for a slow reader.
const EVENT_QUEUE: usize = 16;

/// Digest credentials for a challenged INVITE.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The digest username.
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A call to place.
#[derive(Debug, Clone)]
pub struct DialRequest {
    /// Whom to call, e.g. `sip:service@127.0.0.1:5080`; the request goes to this URI's host.
    pub to_uri: String,
    /// Who is calling, e.g. `sip:earshot@example.org`.
    pub from_uri: String,
    /// Our SDP offer; without one the 2xx carries the peer's offer and our answer is not sent
    /// (offerless outbound INVITE is not supported: see the crate docs).
    pub sdp_offer: Option<Bytes>,
    /// Extra headers for the INVITE.
    pub headers: Vec<(String, String)>,
    /// Credentials for a 401/407 challenge.
    pub credentials: Option<Credentials>,
    /// How long to wait for an answer before cancelling.
    pub ring_timeout: Duration,
}

/// Why an outbound call was not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialFailure {
    /// A final 3xx–6xx response (a 401/407 here means the credentials were refused or missing).
    Rejected {
        /// The status code.
        code: u16,
        /// The reason phrase.
        reason: String,
    },
    /// Nobody answered within the ring timeout; the INVITE was cancelled.
    RingTimeout,
    /// No final response at all (transaction timeout, RFC 3261 §17.1.1.2 Timer B).
    NoResponse,
    /// The stack could not send the INVITE.
    Stack {
        /// The stack's reason.
        reason: String,
    },
}

/// What happens to an outbound call.
#[derive(Debug)]
pub enum OutboundEvent {
    /// A provisional response other than 100 (180 Ringing, 183 Session Progress).
    Provisional {
        /// The status code.
        code: u16,
        /// Early media SDP, if the response had a body.
        sdp: Option<Bytes>,
    },
    /// A 2xx arrived and was ACKed.
    Answered {
        /// The peer's SDP answer.
        sdp: Option<Bytes>,
    },
    /// The call was not answered; `Terminated` follows.
    Failed(DialFailure),
    /// The peer wants to modify the session; answer it, the call stays up either way.
    ReInvite(ReInvite),
    /// The peer hung up; the stack has answered its BYE with 200.
    Bye,
    /// The call is over; always the last event.
    Terminated {
        /// Why.
        reason: EndReason,
    },
}

/// The handle of an outbound call. Dropping it while the call is alive hangs up.
pub struct OutboundCall {
    call_id: CallId,
    dialog: InviteDialog,
    events: mpsc::Receiver<OutboundEvent>,
    hung_up: Arc<AtomicBool>,
}

impl fmt::Debug for OutboundCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboundCall")
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

impl OutboundCall {
    /// The Call-ID.
    pub fn call_id(&self) -> &CallId {
        &self.call_id
    }

    /// The next event; `None` after [`OutboundEvent::Terminated`].
    pub async fn next_event(&mut self) -> Option<OutboundEvent> {
        self.events.recv().await
    }

    /// Ends the call: CANCEL before the answer (sent once a provisional response has arrived,
    /// RFC 3261 §9.1), BYE after. Does nothing if the call is already over.
    pub async fn hangup(&self) -> Result<(), SipError> {
        self.hung_up.store(true, Ordering::Relaxed);
        if matches!(self.dialog.state(), DialogState::Terminated(..)) {
            return Ok(());
        }
        self.dialog
            .hangup()
            .await
            .map_err(|err| SipError::stack("hang up", err))
    }
}

impl Drop for OutboundCall {
    fn drop(&mut self) {
        if matches!(self.dialog.state(), DialogState::Terminated(..)) {
            return;
        }
        self.hung_up.store(true, Ordering::Relaxed);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let dialog = self.dialog.clone();
            runtime.spawn(async move { dialog.hangup().await.ok() });
        }
    }
}

/// Sends the INVITE and starts following it.
pub(crate) fn place_call(
    shared: &Arc<Shared>,
    request: DialRequest,
) -> Result<OutboundCall, SipError> {
    let callee = parse_uri(&request.to_uri)?;
    let caller = parse_uri(&request.from_uri)?;
    let contact = match caller.user() {
        Some(user) => format!("sip:{user}@{}", shared.udp_addr),
        None => shared.contact(Transport::Udp),
    };
    let contact = parse_uri(&contact)?;
    let headers = request
        .headers
        .iter()
        .map(|(name, value)| extra_header(name, value))
        .collect::<Result<Vec<_>, _>>()?;
    let option = InviteOption {
        caller,
        callee,
        contact,
        content_type: request
            .sdp_offer
            .as_ref()
            .map(|_| "application/sdp".to_string()),
        offer: request.sdp_offer.map(|sdp| sdp.to_vec()),
        credential: request.credentials.map(|c| Credential {
            username: c.username,
            password: c.password,
            realm: None,
            auth_username: None,
        }),
        headers: (!headers.is_empty()).then_some(headers),
        ..Default::default()
    };
    let (states_tx, states) = shared.dialogs.new_dialog_state_channel();
    let (dialog, invite) = shared
        .dialogs
        .do_invite_async(option, states_tx)
        .map_err(|err| SipError::stack("send the INVITE", err))?;
    let call_id = CallId(dialog.id().call_id);
    let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
    let hung_up = Arc::new(AtomicBool::new(false));
    tokio::spawn(follow(Follow {
        dialog: dialog.clone(),
        invite,
        states,
        events: events_tx,
        ring_timeout: request.ring_timeout,
        hung_up: hung_up.clone(),
        dialogs: shared.dialogs.clone(),
    }));
    Ok(OutboundCall {
        call_id,
        dialog,
        events,
        hung_up,
    })
}

fn parse_uri(text: &str) -> Result<Uri, SipError> {
    Uri::try_from(text).map_err(|err| SipError::InvalidUri {
        uri: text.to_string(),
        reason: err.to_string(),
    })
}

fn extra_header(name: &str, value: &str) -> Result<Header, SipError> {
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
    if !token || value.contains(['\r', '\n']) {
        return Err(SipError::InvalidHeader {
            name: name.to_string(),
        });
    }
    Ok(Header::Other(name.to_string(), value.to_string()))
}

/// What the per-call task owns.
struct Follow {
    dialog: InviteDialog,
    invite: JoinHandle<InviteAsyncResult>,
    states: DialogStateReceiver,
    events: mpsc::Sender<OutboundEvent>,
    ring_timeout: Duration,
    hung_up: Arc<AtomicBool>,
    dialogs: Arc<DialogLayer>,
}

/// Follows one outbound call from INVITE to its end.
async fn follow(mut call: Follow) {
    let ring = tokio::time::sleep(call.ring_timeout);
    tokio::pin!(ring);
    let mut rang_out = false;
    let mut states_open = true;
    // States that arrive before the INVITE task has reported its outcome but belong after it
    // (a BYE racing the answer); replayed once answered.
    let mut after_answer = VecDeque::new();
    let outcome = loop {
        tokio::select! {
            joined = &mut call.invite => break joined,
            () = &mut ring, if !rang_out => {
                rang_out = true;
                let dialog = call.dialog.clone();
                tokio::spawn(async move { dialog.cancel().await.ok() });
            }
            state = call.states.recv(), if states_open => match state.map(classify) {
                Some(Step::Early { code, sdp }) => {
                    call.events.send(OutboundEvent::Provisional { code, sdp }).await.ok();
                }
                Some(step @ (Step::Modify(_) | Step::Ended(_))) => after_answer.push_back(step),
                Some(Step::Confirmed | Step::Nothing) => {}
                None => states_open = false,
            },
        }
    };

    let cancelled = matches!(call.dialog.state(), DialogState::Terminated(..));
    let failure = match outcome {
        Ok(Ok((_, Some(resp))))
            if resp.status_code.kind() == StatusCodeKind::Successful && !cancelled =>
        {
            call.events
                .send(OutboundEvent::Answered {
                    sdp: sdp_of(&resp.body),
                })
                .await
                .ok();
            None
        }
        _ if rang_out => Some(DialFailure::RingTimeout),
        Ok(Ok((_, Some(resp)))) => Some(DialFailure::Rejected {
            code: resp.status_code.code(),
            reason: resp
                .wire_reason
                .clone()
                .unwrap_or_else(|| resp.status_code.text().to_string()),
        }),
        Ok(Ok((_, None))) => Some(DialFailure::NoResponse),
        Ok(Err(err)) => Some(DialFailure::Stack {
            reason: err.to_string(),
        }),
        Err(err) => Some(DialFailure::Stack {
            reason: err.to_string(),
        }),
    };
    if let Some(failure) = failure {
        let reason = if call.hung_up.load(Ordering::Relaxed) && !rang_out {
            EndReason::LocalHangup
        } else {
            call.events.send(OutboundEvent::Failed(failure)).await.ok();
            EndReason::NotAnswered
        };
        call.events
            .send(OutboundEvent::Terminated { reason })
            .await
            .ok();
        return;
    }

    loop {
        let step = match after_answer.pop_front() {
            Some(step) => step,
            None => match call.states.recv().await {
                Some(state) => classify(state),
                None => Step::Ended(rsipstack::dialog::dialog::TerminatedReason::UacBye),
            },
        };
        match step {
            Step::Modify(reinvite) => {
                call.events
                    .send(OutboundEvent::ReInvite(reinvite))
                    .await
                    .ok();
            }
            Step::Ended(reason) => {
                let reason = EndReason::from_stack(&reason, false);
                if reason == EndReason::RemoteHangup {
                    call.events.send(OutboundEvent::Bye).await.ok();
                }
                call.events
                    .send(OutboundEvent::Terminated { reason })
                    .await
                    .ok();
                call.dialogs.remove_dialog(&call.dialog.id());
                return;
            }
            Step::Confirmed | Step::Early { .. } | Step::Nothing => {}
        }
    }
}
