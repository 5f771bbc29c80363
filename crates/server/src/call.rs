//! One inbound call: its task, from the offer to the last packet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use media::{Leg, LegEvent, LegStats, Source};
use rand::{RngCore, SeedableRng};
use sdp::{LocalMedia, NegotiatedMedia, SdpSession};
use sip::{EndReason, InboundCall, InboundEvent, IncomingCall, Rejection, SignalTransport};
use tokio::sync::watch;

use crate::node::Shared;

/// What an inbound call runs.
#[derive(Debug, Clone, PartialEq)]
pub enum CallFlow {
    /// Answer and play the caller's own audio back to it until it hangs up.
    Echo,
    /// Call this SIP URI and bridge the two calls (B2BUA): the caller rings until the far end
    /// answers, then media is relayed both ways, transcoded where the codecs differ, with
    /// telephone-events relayed; either side hanging up ends both.
    Bridge(String),
    /// Run the SWML document routed by the called user.
    Swml(std::sync::Arc<crate::Routes>),
}

/// What became of a call, published when its task ends.
#[derive(Debug, Clone)]
pub struct CallReport {
    /// The SIP Call-ID.
    pub call_id: String,
    /// The transport its signalling used.
    pub transport: SignalTransport,
    /// The SIP status the call was refused with, if it was.
    pub rejected: Option<u16>,
    /// Whether the call was answered.
    pub answered: bool,
    /// How many re-INVITEs were answered during the call.
    pub reinvites: u32,
    /// The media the call ended with.
    pub media: Option<NegotiatedMedia>,
    /// The local RTP address of the leg, if it had one.
    pub rtp_local: Option<SocketAddr>,
    /// The leg's counters at the end.
    pub stats: LegStats,
    /// How it ended.
    pub ended: String,
}

impl CallReport {
    fn new(incoming: &IncomingCall) -> CallReport {
        CallReport {
            call_id: incoming.call_id.to_string(),
            transport: incoming.transport,
            rejected: None,
            answered: false,
            reinvites: 0,
            media: None,
            rtp_local: None,
            stats: LegStats::default(),
            ended: String::new(),
        }
    }
}

/// Runs an inbound call to its end and publishes its report.
pub(crate) async fn run_inbound(incoming: IncomingCall, shared: Arc<Shared>) {
    let mut report = CallReport::new(&incoming);
    let outcome = drive(incoming, &shared, &mut report).await;
    report.ended = outcome;
    shared.metrics.leg_ended(&report.stats);
    tracing::info!(
        call_id = %report.call_id,
        answered = report.answered,
        rejected = ?report.rejected,
        packets_in = report.stats.packets_in,
        packets_out = report.stats.packets_out,
        ended = %report.ended,
        "call ended"
    );
    shared.publish(report);
}

pub(crate) async fn reject(
    call: &InboundCall,
    report: &mut CallReport,
    rejection: Rejection,
) -> String {
    report.rejected = Some(rejection.code);
    let code = rejection.code;
    if let Err(error) = call.reject(rejection) {
        tracing::warn!(%error, "could not send the rejection");
    }
    format!("rejected with {code}")
}

async fn drive(incoming: IncomingCall, shared: &Shared, report: &mut CallReport) -> String {
    let IncomingCall {
        mut call,
        sdp_offer,
        call_id,
        from,
        to,
        source,
        request_user,
        headers,
        ..
    } = incoming;
    tracing::info!(%call_id, from = %crate::redact::uri(&from), to = %crate::redact::uri(&to), %source, "call offered");
    let _slot = shared.admit(false);
    if shared.over_capacity() {
        tracing::warn!(%call_id, max_calls = ?shared.config.max_calls, "call limit reached");
    }
    if shared.draining() || shared.over_capacity() {
        return reject(
            &call,
            report,
            Rejection::unavailable(Duration::from_secs(5)),
        )
        .await;
    }
    let bound = match shared.pool.bind() {
        Ok(bound) => bound,
        Err(error) => {
            tracing::warn!(%error, "no RTP port for the call");
            return reject(
                &call,
                report,
                Rejection::unavailable(Duration::from_secs(5)),
            )
            .await;
        }
    };
    let ip = shared.pool.config().ip;
    let mut sdp = SdpSession::new(session_id(), LocalMedia::new(ip, bound.1.port()));
    let mut control = shared.registry.register(crate::registry::CallSummary::new(
        call_id.as_str(),
        "inbound",
        &from,
        &to,
    ));

    if !shared.config.ring.is_zero()
        && let Some(ended) = ring(&mut call, shared.config.ring, shared.shutdown()).await
    {
        return ended;
    }

    if let CallFlow::Swml(routes) = &shared.config.flow {
        let Some(route) = routes.route(request_user.as_deref()) else {
            let mut rejection = Rejection::new(404);
            rejection.reason = Some(format!(
                "no SWML document for {:?}",
                request_user.unwrap_or_default()
            ));
            return reject(&call, report, rejection).await;
        };
        let info = crate::script::CallInfo {
            call_id: call_id.to_string(),
            direction: "inbound",
            from,
            to,
            headers,
        };
        let document =
            match crate::script::resolve(shared, route, &crate::script::call_scope(&info)).await {
                Ok(document) => document,
                Err(error) => {
                    tracing::warn!(%call_id, %error, "the call's SWML document did not load");
                    return reject(&call, report, Rejection::server_error(error)).await;
                }
            };
        return crate::script::run(
            call,
            sdp_offer,
            sdp,
            bound,
            document,
            info,
            shared,
            report,
            &mut control,
        )
        .await;
    }
    if let CallFlow::Bridge(to) = &shared.config.flow {
        let Some(offer) = &sdp_offer else {
            let mut rejection = Rejection::new(488);
            rejection.reason = Some("bridging needs an SDP offer in the INVITE".into());
            return reject(&call, report, rejection).await;
        };
        return crate::bridge::run(call, offer, sdp, bound, to, shared, report, &mut control).await;
    }

    // With an offer we answer in the 200; without one we offer there and the answer comes in
    // the ACK (RFC 3261 §13.2.1).
    let media = match &sdp_offer {
        Some(offer) => match sdp.answer_offer(offer) {
            Ok(answer) => {
                if let Err(error) = call.answer(Bytes::from(answer.sdp)) {
                    return format!("answer failed: {error}");
                }
                Some(answer.media)
            }
            Err(error) => {
                tracing::info!(%call_id, %error, "unusable SDP offer");
                return reject(&call, report, sdp_rejection(&error)).await;
            }
        },
        None => {
            let offer = match sdp.create_offer() {
                Ok(offer) => offer,
                Err(error) => return format!("could not make an offer: {error}"),
            };
            if let Err(error) = call.answer(Bytes::from(offer)) {
                return format!("answer failed: {error}");
            }
            None
        }
    };
    report.answered = true;
    tracing::info!(%call_id, "call answered");

    let media = match media {
        Some(media) => media,
        None => match await_answer_in_ack(&mut call, &mut sdp, shared.config.ack_timeout).await {
            Ok(media) => media,
            Err(ended) => return ended,
        },
    };
    let source = Source::Echo;
    let mut rng = leg_rng();
    let mut leg = match Leg::from_bound(bound, ip, shared.config.leg, &media, source, &mut rng) {
        Ok(leg) => leg,
        Err(error) => {
            let _ = call.hangup().await;
            return format!("RTP leg failed: {error}");
        }
    };
    report.rtp_local = Some(leg.local_addr());
    report.media = Some(media);
    let mut taps = crate::taps::Taps::default();
    let ended = run_media(
        &mut call,
        &mut leg,
        &mut sdp,
        shared,
        report,
        &mut taps,
        &mut control,
    )
    .await;
    // Taps belong to the call: they finish with it, their `finished` delivered by tasks of
    // their own.
    taps.stop_all(crate::sink::Reason::CallEnded, Leg::now());
    report.stats = leg.stats();
    ended
}

/// Sends 180 and waits `ring`; returns how the call ended if the caller gave up meanwhile or
/// the node began to shut down (the call is then refused).
async fn ring(
    call: &mut InboundCall,
    ring: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Option<String> {
    if let Err(error) = call.ringing() {
        return Some(format!("ringing failed: {error}"));
    }
    let until = tokio::time::Instant::now() + ring;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(until) => return None,
            event = call.next_event() => match event {
                None => return Some("signalling ended".into()),
                Some(InboundEvent::Cancelled) => return Some("caller cancelled".into()),
                Some(InboundEvent::Terminated { reason }) => return Some(describe(&reason)),
                Some(_) => {}
            },
            () = crate::node::stopped(&mut shutdown) => {
                let _ = call.hangup().await;
                return Some("node shut down".into());
            }
        }
    }
}

pub(crate) async fn await_answer_in_ack(
    call: &mut InboundCall,
    sdp: &mut SdpSession,
    timeout: Duration,
) -> Result<NegotiatedMedia, String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let event = match tokio::time::timeout_at(deadline, call.next_event()).await {
            Ok(Some(event)) => event,
            Ok(None) => return Err("signalling ended".into()),
            Err(_) => {
                let _ = call.hangup().await;
                return Err("no ACK with an SDP answer".into());
            }
        };
        match event {
            InboundEvent::Acked { sdp: Some(answer) } => match sdp.handle_answer(&answer) {
                Ok(media) => return Ok(media),
                Err(error) => {
                    let _ = call.hangup().await;
                    return Err(format!("unusable SDP answer in the ACK: {error}"));
                }
            },
            InboundEvent::Acked { sdp: None } => {
                let _ = call.hangup().await;
                return Err("the ACK carried no SDP answer".into());
            }
            InboundEvent::Bye => return Err("caller hung up".into()),
            InboundEvent::Cancelled => return Err("caller cancelled".into()),
            InboundEvent::Terminated { reason } => return Err(describe(&reason)),
            InboundEvent::ReInvite(reinvite) => {
                let _ = reinvite.reject(491).await;
            }
        }
    }
}

/// How an unusable SDP offer is refused: 488 when nothing in it can be accepted, 400 when it
/// is malformed; the Reason says which.
pub(crate) fn sdp_rejection(error: &sdp::SdpError) -> Rejection {
    let mut rejection = Rejection::new(if error.is_not_acceptable() { 488 } else { 400 });
    rejection.reason = Some(error.to_string());
    rejection
}

/// Answers a re-INVITE that carries an offer, moving `leg` (when the call has one) to the new
/// media; one without an offer, or with an unusable one, gets 488.
pub(crate) async fn answer_reinvite_offer(
    reinvite: sip::ReInvite,
    sdp: &mut SdpSession,
    leg: Option<&mut Leg>,
    report: &mut CallReport,
) {
    match reinvite.sdp.as_deref().map(|offer| sdp.answer_offer(offer)) {
        Some(Ok(answer)) => {
            if let Some(leg) = leg {
                leg.core_mut().handle_media(Leg::now(), &answer.media);
            }
            report.reinvites += 1;
            report.media = Some(answer.media);
            let _ = reinvite.accept(Bytes::from(answer.sdp)).await;
        }
        _ => {
            let _ = reinvite.reject(488).await;
        }
    }
}

pub(crate) fn describe(reason: &EndReason) -> String {
    format!("{reason:?}")
}

/// The media loop: the leg's socket, its send deadline, the call's taps, its signalling,
/// the API's commands and shutdown.
async fn run_media(
    call: &mut InboundCall,
    leg: &mut Leg,
    sdp: &mut SdpSession,
    shared: &Shared,
    report: &mut CallReport,
    taps: &mut crate::taps::Taps,
    control: &mut crate::registry::CallControl,
) -> String {
    let mut shutdown: watch::Receiver<bool> = shared.shutdown();
    loop {
        let mut deadline = leg.next_deadline();
        if let Some(due) = taps.deadline() {
            deadline = deadline.min(tokio::time::Instant::from_std(due));
        }
        if taps.connecting() {
            // A WebSocket tap that is connecting is checked on every turn.
            deadline = deadline.min(tokio::time::Instant::now() + Duration::from_millis(10));
        }
        tokio::select! {
            received = leg.recv() => match received {
                Ok(media::Received::Rtp(inbound)) => {
                    taps.feed(inbound.at, tap::Stream::Speak, inbound.packet);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "RTP receive failed"),
            },
            command = control.next() => {
                let step = control
                    .handle(command, taps, shared, "answered", Some(leg.stats()))
                    .await;
                if let crate::registry::Step::End(reason) = step {
                    let _ = call.hangup().await;
                    return format!("ended by the API: {reason}");
                }
            }
            () = tokio::time::sleep_until(deadline) => {}
            event = call.next_event() => match event {
                None => return "signalling ended".into(),
                Some(InboundEvent::Bye) => return "caller hung up".into(),
                Some(InboundEvent::Cancelled) => return "caller cancelled".into(),
                Some(InboundEvent::Terminated { reason }) => return describe(&reason),
                Some(InboundEvent::Acked { sdp: None }) => {}
                Some(InboundEvent::Acked { sdp: Some(answer) }) => match sdp.handle_answer(&answer) {
                    Ok(media) => {
                        leg.core_mut().handle_media(Leg::now(), &media);
                        report.media = Some(media);
                    }
                    Err(error) => tracing::info!(%error, "unusable SDP answer in an ACK"),
                },
                Some(InboundEvent::ReInvite(reinvite)) => {
                    let outcome = match &reinvite.sdp {
                        Some(offer) => sdp.answer_offer(offer).map(|a| (a.sdp, Some(a.media))),
                        None => sdp.create_offer().map(|o| (o, None)),
                    };
                    match outcome {
                        Ok((body, media)) => {
                            if let Some(media) = media {
                                leg.core_mut().handle_media(Leg::now(), &media);
                                report.media = Some(media);
                            }
                            report.reinvites += 1;
                            if let Err(error) = reinvite.accept(Bytes::from(body)).await {
                                tracing::warn!(%error, "could not answer a re-INVITE");
                            }
                        }
                        Err(error) => {
                            tracing::info!(%error, "unusable re-INVITE offer");
                            let code = if error.is_not_acceptable() { 488 } else { 400 };
                            let _ = reinvite.reject(code).await;
                        }
                    }
                }
            },
            () = crate::node::stopped(&mut shutdown) => {
                let _ = call.hangup().await;
                return "node shut down".into();
            }
        }
        let now = Leg::now();
        leg.send_due(now, |sent| {
            taps.feed(now, tap::Stream::Listen, sent.packet())
        });
        for started in control.resolve(taps.poll_ws_events(now)) {
            tracing::debug!(control_id = %started.control_id, "a tap's handshake ended");
        }
        taps.drive(now);
        while let Some(event) = leg.poll_event() {
            if let LegEvent::Inactive { silent_for } = event {
                let _ = call.hangup().await;
                return format!("no RTP for {} s", silent_for.as_secs());
            }
        }
    }
}

/// A fresh SDP session id (RFC 4566 §5.2: a number that fits in 63 bits).
pub(crate) fn session_id() -> u64 {
    rand::rng().next_u64() >> 1
}

/// A seeded generator for a leg's RTP numbering; `Send`, unlike the thread's.
pub(crate) fn leg_rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::from_rng(&mut rand::rng())
}
