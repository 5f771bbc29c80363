//! Joining an inbound call to an outbound one (B2BUA): the bridge flow, and SWML `connect`.
//!
//! [`dial_far`] calls the far end with our own offer while watching the caller (who may give
//! up while it rings); [`relay`] then carries media both ways in the call's one task
//! (`LegCore::handle_relay`: µ-law ↔ A-law where the two legs differ, telephone-events
//! re-stamped into the receiving leg's stream) until one side hangs up.

use std::net::UdpSocket;
use std::time::Duration;

use bytes::Bytes;
use media::{Leg, LegEvent, PortLease, Received, Source};
use sdp::{LocalMedia, NegotiatedMedia, SdpSession};
use sip::{
    DialFailure, DialRequest, InboundCall, InboundEvent, OutboundCall, OutboundEvent, Rejection,
};

use crate::call::{
    CallReport, answer_reinvite_offer, describe, leg_rng, reject, sdp_rejection, session_id,
};
use crate::node::Shared;
use crate::party::Signalling;

/// How long the far end may ring in the bridge flow.
const RING_TIMEOUT: Duration = Duration::from_secs(60);

/// What became of calling the far end.
pub(crate) enum DialOutcome {
    /// It answered: its signalling and its leg, relaying.
    Answered {
        /// The far call.
        call: OutboundCall,
        /// Its RTP leg, playing what is relayed to it.
        leg: Box<Leg>,
    },
    /// It did not answer; `code` is a status to pass on to a caller not yet answered.
    Failed {
        /// A 4xx–6xx status.
        code: u16,
        /// Why, for logs and `connect_failed_reason`.
        reason: String,
    },
    /// The caller hung up or cancelled meanwhile (the far call has been ended).
    CallerGone(String),
}

/// Calls `to` and waits for its answer, watching `caller` meanwhile.
/// The caller's media while the far end is dialled: its leg keeps being read (what the caller
/// says reaches its taps on time) and keeps sending, and its taps keep their pace.
pub(crate) struct CallerMedia<'a> {
    pub(crate) leg: &'a mut Leg,
    pub(crate) taps: &'a mut crate::taps::Taps,
}

impl CallerMedia<'_> {
    fn deadline(&self) -> tokio::time::Instant {
        let mut due = self.leg.next_deadline();
        if let Some(tap_due) = self.taps.deadline() {
            due = due.min(tokio::time::Instant::from_std(tap_due));
        }
        due
    }

    async fn receive(&mut self) {
        match self.leg.recv().await {
            Ok(Received::Rtp(inbound)) => {
                self.taps
                    .feed(inbound.at, tap::Stream::Speak, inbound.packet);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "RTP receive failed"),
        }
    }

    fn run_due(&mut self) {
        let now = Leg::now();
        let taps = &mut *self.taps;
        self.leg.send_due(now, |sent| {
            taps.feed(now, tap::Stream::Listen, sent.packet())
        });
        taps.drive(now);
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "the parts of one dial, as the flows hold them"
)]
pub(crate) async fn dial_far<C: Signalling>(
    shared: &Shared,
    caller: &mut C,
    mut caller_media: Option<CallerMedia<'_>>,
    to: &str,
    from: Option<&str>,
    ring_timeout: Duration,
    headers: Vec<(String, String)>,
) -> DialOutcome {
    let failed = |code, reason: String| DialOutcome::Failed { code, reason };
    let ip = shared.pool.config().ip;
    let bound = match shared.pool.bind() {
        Ok(bound) => bound,
        Err(error) => return failed(503, format!("no RTP port: {error}")),
    };
    let mut sdp = SdpSession::new(session_id(), LocalMedia::new(ip, bound.1.port()));
    let offer = match sdp.create_offer() {
        Ok(offer) => offer,
        Err(error) => return failed(500, error.to_string()),
    };
    let from = from.map_or_else(
        || format!("sip:earshot@{}", shared.endpoint.udp_addr()),
        str::to_string,
    );
    let request = DialRequest {
        to_uri: to.to_string(),
        from_uri: from,
        sdp_offer: Some(Bytes::from(offer)),
        headers,
        credentials: None,
        ring_timeout,
    };
    let mut call = match shared.endpoint.dial(request).await {
        Ok(call) => call,
        Err(error) => return failed(500, error.to_string()),
    };
    let mut shutdown = shared.shutdown();
    let far_future = tokio::time::Instant::now() + Duration::from_secs(3600);
    let media: NegotiatedMedia = loop {
        let media_due = caller_media
            .as_ref()
            .map_or(far_future, CallerMedia::deadline);
        tokio::select! {
            () = async {
                match caller_media.as_mut() {
                    Some(media) => media.receive().await,
                    None => std::future::pending().await,
                }
            } => {}
            () = tokio::time::sleep_until(media_due) => {}
            () = crate::node::stopped(&mut shutdown) => {
                let _ = call.hangup().await;
                return failed(503, "the node is shutting down".into());
            }
            event = call.next_event() => match event {
                Some(OutboundEvent::Answered { sdp: Some(answer) }) => match sdp.handle_answer(&answer) {
                    Ok(media) => break media,
                    Err(error) => {
                        let _ = call.hangup().await;
                        return failed(502, format!("unusable SDP answer: {error}"));
                    }
                },
                Some(OutboundEvent::Failed(failure)) => {
                    return match failure {
                        DialFailure::Rejected { code, reason } => {
                            // Pass on a refusal a caller understands.
                            let pass = if (400..700).contains(&code) { code } else { 502 };
                            failed(pass, format!("{code} {reason}"))
                        }
                        DialFailure::RingTimeout => failed(480, "no answer".into()),
                        DialFailure::NoResponse => failed(408, "no response".into()),
                        DialFailure::Stack { reason } => failed(500, reason),
                    };
                }
                Some(OutboundEvent::Provisional { .. }) => {}
                Some(OutboundEvent::ReInvite(reinvite)) => {
                    let _ = reinvite.reject(491).await;
                }
                Some(OutboundEvent::Answered { sdp: None }) => {
                    let _ = call.hangup().await;
                    return failed(502, "the answer carried no SDP".into());
                }
                Some(OutboundEvent::Bye) | None | Some(OutboundEvent::Terminated { .. }) => {
                    return failed(502, "the far end hung up before answering".into());
                }
            },
            event = caller.next_event() => match event {
                Some(InboundEvent::Cancelled) => {
                    let _ = call.hangup().await;
                    return DialOutcome::CallerGone("caller cancelled".into());
                }
                Some(InboundEvent::Bye) | None => {
                    let _ = call.hangup().await;
                    return DialOutcome::CallerGone("caller hung up".into());
                }
                Some(InboundEvent::Terminated { reason }) => {
                    let _ = call.hangup().await;
                    return DialOutcome::CallerGone(describe(&reason));
                }
                Some(InboundEvent::ReInvite(reinvite)) => {
                    let _ = reinvite.reject(491).await;
                }
                Some(InboundEvent::Acked { .. }) => {}
            },
        }
        if let Some(media) = caller_media.as_mut() {
            media.run_due();
        }
    };
    let mut rng = leg_rng();
    match Leg::from_bound(
        bound,
        ip,
        shared.config.leg,
        &media,
        Source::Relay,
        &mut rng,
    ) {
        Ok(leg) => DialOutcome::Answered {
            call,
            leg: Box::new(leg),
        },
        Err(error) => {
            let _ = call.hangup().await;
            failed(500, format!("RTP leg failed: {error}"))
        }
    }
}

/// The bridge flow: ring the caller, call `to`, answer the caller when it answers, relay.
#[allow(
    clippy::too_many_arguments,
    reason = "the parts of one offered call, taken apart once"
)]
pub(crate) async fn run(
    mut a_call: InboundCall,
    a_offer: &[u8],
    mut a_sdp: SdpSession,
    a_bound: (UdpSocket, PortLease),
    to: &str,
    shared: &Shared,
    report: &mut CallReport,
    control: &mut crate::registry::CallControl,
) -> String {
    let a_answer = match a_sdp.answer_offer(a_offer) {
        Ok(answer) => answer,
        Err(error) => return reject(&a_call, report, sdp_rejection(&error)).await,
    };
    if let Err(error) = a_call.ringing() {
        return format!("ringing failed: {error}");
    }
    let (mut b_call, mut b) = match dial_far(
        shared,
        &mut a_call,
        None,
        to,
        None,
        RING_TIMEOUT,
        Vec::new(),
    )
    .await
    {
        DialOutcome::Answered { call, leg } => (call, leg),
        DialOutcome::CallerGone(ended) => return ended,
        DialOutcome::Failed { code, reason } => {
            let mut rejection = Rejection::new(code);
            rejection.reason = Some(format!("far end: {reason}"));
            return reject(&a_call, report, rejection).await;
        }
    };
    if let Err(error) = a_call.answer(Bytes::from(a_answer.sdp)) {
        let _ = b_call.hangup().await;
        return format!("answer failed: {error}");
    }
    report.answered = true;
    tracing::info!(call_id = %a_call.call_id(), to = %crate::redact::uri(to), "call answered and bridged");
    let ip = shared.pool.config().ip;
    let mut rng = leg_rng();
    let mut a = match Leg::from_bound(
        a_bound,
        ip,
        shared.config.leg,
        &a_answer.media,
        Source::Relay,
        &mut rng,
    ) {
        Ok(leg) => leg,
        Err(error) => {
            let _ = a_call.hangup().await;
            let _ = b_call.hangup().await;
            return format!("RTP leg failed: {error}");
        }
    };
    report.rtp_local = Some(a.local_addr());
    report.media = Some(a_answer.media);
    let mut taps = crate::taps::Taps::default();
    let end = relay(
        &mut a_call,
        &mut b_call,
        &mut a,
        &mut b,
        &mut a_sdp,
        &mut taps,
        shared,
        report,
        control,
    )
    .await;
    taps.stop_all(crate::sink::Reason::CallEnded, Leg::now());
    report.stats = a.stats();
    shared.metrics.leg_ended(&b.stats());
    if matches!(end, RelayEnd::Far(_)) {
        let _ = a_call.hangup().await;
    }
    end.into_reason()
}

/// Why [`relay`] returned.
#[derive(Debug)]
pub(crate) enum RelayEnd {
    /// The caller hung up (the far call has been ended).
    Caller(String),
    /// The far end hung up; the caller is still up.
    Far(String),
    /// Both were ended: shutdown, or media stopped.
    Both(String),
}

impl RelayEnd {
    pub(crate) fn into_reason(self) -> String {
        match self {
            RelayEnd::Caller(r) | RelayEnd::Far(r) | RelayEnd::Both(r) => r,
        }
    }
}

/// What woke a bridged call's signalling branch.
enum Signal {
    Command(crate::registry::CallCommand),
    Caller(Option<InboundEvent>),
    Far(Option<OutboundEvent>),
    Stop,
}

#[allow(
    clippy::too_many_arguments,
    reason = "the parts of a bridged call, owned by its task"
)]
/// Relays media between the caller's leg `a` and the far leg `b` until one side hangs up.
/// When the far end hangs up first, the caller is left up: the caller decides what follows.
pub(crate) async fn relay<C: Signalling>(
    a_call: &mut C,
    b_call: &mut OutboundCall,
    a: &mut Leg,
    b: &mut Leg,
    a_sdp: &mut SdpSession,
    taps: &mut crate::taps::Taps,
    shared: &Shared,
    report: &mut CallReport,
    control: &mut crate::registry::CallControl,
) -> RelayEnd {
    let mut shutdown = shared.shutdown();
    a.core_mut().set_source(Source::Relay);
    // One timer for the call's legs and taps, moved only when the next deadline does.
    let timer = tokio::time::sleep_until(a.next_deadline());
    tokio::pin!(timer);
    // Almost every turn is for one packet or one frame due: the signalling sources (API
    // commands, both dialogs, the shutdown signal) are one branch, polled only when one of
    // them woke (the legs gate their sockets likewise).
    let stop = crate::node::stopped(&mut shutdown);
    tokio::pin!(stop);
    let mut signalling = media::Gate::new();
    loop {
        let mut deadline = a.next_deadline().min(b.next_deadline());
        if let Some(due) = taps.deadline() {
            deadline = deadline.min(tokio::time::Instant::from_std(due));
        }
        if taps.connecting() {
            // A WebSocket tap that is connecting is checked on every turn.
            deadline = deadline.min(tokio::time::Instant::now() + Duration::from_millis(10));
        }
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        tokio::select! {
            received = a.recv() => match received {
                Ok(Received::Rtp(inbound)) => {
                    taps.feed(inbound.at, tap::Stream::Speak, inbound.packet);
                    b.core_mut().handle_relay(inbound.at, &inbound);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "RTP receive failed"),
            },
            received = b.recv() => match received {
                Ok(Received::Rtp(inbound)) => a.core_mut().handle_relay(inbound.at, &inbound),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "RTP receive failed"),
            },
            () = &mut timer => {}
            signal = signalling.run(async {
                tokio::select! {
                    command = control.next() => Signal::Command(command),
                    event = a_call.next_event() => Signal::Caller(event),
                    event = b_call.next_event() => Signal::Far(event),
                    () = &mut stop => Signal::Stop,
                }
            }) => match signal {
                Signal::Command(command) => {
                    let step = control
                        .handle(command, taps, shared, "answered", Some(a.stats()))
                        .await;
                    if let crate::registry::Step::End(reason) = step {
                        let _ = a_call.hangup().await;
                        let _ = b_call.hangup().await;
                        return RelayEnd::Both(format!("ended by the API: {reason}"));
                    }
                }
                Signal::Caller(Some(InboundEvent::Bye) | None) => {
                    let _ = b_call.hangup().await;
                    return RelayEnd::Caller("caller hung up".to_string());
                }
                Signal::Caller(Some(InboundEvent::Terminated { reason })) => {
                    let _ = b_call.hangup().await;
                    return RelayEnd::Caller(describe(&reason));
                }
                Signal::Caller(Some(InboundEvent::ReInvite(reinvite))) => {
                    answer_reinvite_offer(reinvite, a_sdp, Some(&mut *a), report).await;
                }
                Signal::Caller(Some(_)) => {}
                Signal::Far(Some(OutboundEvent::Bye) | None) => {
                    return RelayEnd::Far("far end hung up".to_string());
                }
                Signal::Far(Some(OutboundEvent::Terminated { reason })) => {
                    return RelayEnd::Far(describe(&reason));
                }
                Signal::Far(Some(OutboundEvent::ReInvite(reinvite))) => {
                    let _ = reinvite.reject(488).await;
                }
                Signal::Far(Some(_)) => {}
                Signal::Stop => {
                    let _ = a_call.hangup().await;
                    let _ = b_call.hangup().await;
                    return RelayEnd::Both("node shut down".to_string());
                }
            },
        }
        let now = Leg::now();
        // After `connect`, what the caller hears is the far party: the taps' listen stream.
        a.send_due(now, |sent| {
            taps.feed(now, tap::Stream::Listen, sent.packet())
        });
        b.send_due(now, |_| {});
        for started in control.resolve(taps.poll_ws_events(now)) {
            tracing::info!(control_id = %started.control_id, ok = started.succeeded, "a tap's handshake ended during a bridge");
        }
        taps.drive(now);
        let mut inactive = false;
        for leg in [&mut *a, &mut *b] {
            while let Some(event) = leg.poll_event() {
                inactive |= matches!(event, LegEvent::Inactive { .. });
            }
        }
        if inactive {
            let _ = a_call.hangup().await;
            let _ = b_call.hangup().await;
            return RelayEnd::Both("no RTP".to_string());
        }
    }
}
