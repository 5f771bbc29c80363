//! Placing outbound calls: [`dial`] (offer, ring, answer, play a tone sequence, hang up, for
//! `earshot dial`), and the control API's `dial` ([`place`]), whose call runs an SWML
//! document once answered, in a task of its own like an inbound call's.

use std::time::Duration;

use bytes::Bytes;
use g711::Law;
use media::{Leg, LegEvent, LegStats, Playback, Source};
use sdp::{LocalMedia, NegotiatedMedia, SdpSession};
use sip::{Credentials, DialFailure, DialRequest, OutboundEvent};

use std::sync::Arc;

use sip::{SignalTransport, SipError};
use tokio::sync::oneshot;

use crate::call::{CallReport, describe, leg_rng, session_id};
use crate::node::Shared;
use crate::registry::{CallControl, CallSummary, Step};
use crate::{Node, Route, ServerError};

/// What to call and what to play.
#[derive(Debug, Clone)]
pub struct DialOptions {
    /// The SIP URI to call.
    pub to: String,
    /// Our From URI.
    pub from: String,
    /// How long to stay on the call once answered.
    pub duration: Duration,
    /// How long to let it ring.
    pub ring_timeout: Duration,
    /// Credentials for a digest challenge.
    pub credentials: Option<Credentials>,
}

/// What happened on a dialled call.
#[derive(Debug, Clone)]
pub struct DialReport {
    /// The SIP Call-ID.
    pub call_id: String,
    /// The provisional answers seen before the answer (180, 183).
    pub provisional: Vec<u16>,
    /// The negotiated media.
    pub media: NegotiatedMedia,
    /// The leg's counters at the end.
    pub stats: LegStats,
    /// How the call ended.
    pub ended: String,
}

/// The frequencies of [`tone_sequence`], in the order played.
pub const TONE_SEQUENCE_HZ: [f64; 3] = [440.0, 660.0, 880.0];

/// What [`dial`] plays: a recognisable test signal, [`TONE_SEQUENCE_HZ`] half a second each,
/// over and over, at amplitude 8000, as `duration` of G.711 in `law`.
pub fn tone_sequence(law: Law, duration: Duration) -> Vec<u8> {
    let n = (duration.as_millis() as usize) * 8;
    (0..n)
        .map(|i| {
            let hz = TONE_SEQUENCE_HZ[(i / 4000) % 3];
            let v = 8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin();
            law.encode(v as i16)
        })
        .collect()
}

/// Calls `options.to` from `node`, plays the tone sequence for `options.duration`, and hangs
/// up (or stops when the far end does).
pub async fn dial(node: &Node, options: DialOptions) -> Result<DialReport, ServerError> {
    let pool = node.port_pool();
    let bound = pool.bind()?;
    let ip = pool.config().ip;
    let mut sdp = SdpSession::new(session_id(), LocalMedia::new(ip, bound.1.port()));
    let offer = sdp.create_offer()?;
    let mut call = node
        .endpoint()
        .dial(DialRequest {
            to_uri: options.to.clone(),
            from_uri: options.from.clone(),
            sdp_offer: Some(Bytes::from(offer)),
            headers: Vec::new(),
            credentials: options.credentials.clone(),
            ring_timeout: options.ring_timeout,
        })
        .await?;
    let call_id = call.call_id().to_string();
    let failed = |reason: String| ServerError::DialFailed {
        to: options.to.clone(),
        reason,
    };
    let mut provisional = Vec::new();
    let mut media = loop {
        match call.next_event().await {
            Some(OutboundEvent::Provisional { code, .. }) => provisional.push(code),
            Some(OutboundEvent::Answered { sdp: Some(answer) }) => match sdp.handle_answer(&answer)
            {
                Ok(media) => break media,
                Err(error) => {
                    let _ = call.hangup().await;
                    return Err(failed(format!("unusable SDP answer: {error}")));
                }
            },
            Some(OutboundEvent::Answered { sdp: None }) => {
                let _ = call.hangup().await;
                return Err(failed("the answer carried no SDP".into()));
            }
            Some(OutboundEvent::Failed(failure)) => {
                return Err(failed(match failure {
                    DialFailure::Rejected { code, reason } => format!("{code} {reason}"),
                    DialFailure::RingTimeout => "no answer before the ring timeout".into(),
                    DialFailure::NoResponse => "no response".into(),
                    DialFailure::Stack { reason } => reason,
                }));
            }
            Some(OutboundEvent::ReInvite(reinvite)) => {
                let _ = reinvite.reject(491).await;
            }
            Some(OutboundEvent::Bye) | None => {
                return Err(failed("hung up before answering".into()));
            }
            Some(OutboundEvent::Terminated { reason }) => {
                return Err(failed(format!("{reason:?}")));
            }
        }
    };
    let tone = Playback::new(media.codec, tone_sequence(media.codec, options.duration));
    let mut rng = leg_rng();
    let mut leg = Leg::from_bound(
        bound,
        ip,
        node.leg_config(),
        &media,
        Source::Play(tone),
        &mut rng,
    )?;
    let until = tokio::time::Instant::now() + options.duration;
    let ended = loop {
        let deadline = leg.next_deadline().min(until);
        tokio::select! {
            received = leg.recv() => {
                if let Err(error) = received {
                    tracing::warn!(%error, "RTP receive failed");
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                if tokio::time::Instant::now() >= until {
                    let _ = call.hangup().await;
                    break "we hung up".to_string();
                }
            }
            event = call.next_event() => match event {
                Some(OutboundEvent::Bye) | None => break "far end hung up".to_string(),
                Some(OutboundEvent::Terminated { reason }) => break format!("{reason:?}"),
                Some(OutboundEvent::ReInvite(reinvite)) => match reinvite.sdp.as_deref().map(|o| sdp.answer_offer(o)) {
                    Some(Ok(answer)) => {
                        leg.core_mut().handle_media(Leg::now(), &answer.media);
                        media = answer.media;
                        let _ = reinvite.accept(Bytes::from(answer.sdp)).await;
                    }
                    _ => {
                        let _ = reinvite.reject(488).await;
                    }
                },
                Some(_) => {}
            },
        }
        leg.send_due(Leg::now(), |_| {});
        let mut silent = None;
        while let Some(event) = leg.poll_event() {
            if let LegEvent::Inactive { silent_for } = event {
                silent = Some(silent_for);
            }
        }
        if let Some(silent_for) = silent {
            let _ = call.hangup().await;
            break format!("no RTP for {} s", silent_for.as_secs());
        }
    };
    Ok(DialReport {
        call_id,
        provisional,
        media,
        stats: leg.stats(),
        ended,
    })
}

/// A call the control API places.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    /// The SIP URI to call.
    pub(crate) to: String,
    /// Our From URI.
    pub(crate) from: String,
    /// The document the call runs once answered.
    pub(crate) document: Route,
    /// How long to let it ring.
    pub(crate) ring_timeout: Duration,
}

/// Why a placement did not get as far as an INVITE.
#[derive(Debug)]
pub(crate) enum PlaceError {
    /// The SIP layer refused the request (a bad URI, a stopped endpoint).
    Sip(SipError),
    /// No RTP port, or no SDP offer.
    NoMedia(String),
}

/// Places `placement` and returns as soon as its INVITE is on its way; the call then lives in
/// a task of its own, in the registry, until it ends.
pub(crate) async fn place(
    shared: Arc<Shared>,
    placement: Placement,
) -> Result<CallSummary, PlaceError> {
    let (ready, placed) = oneshot::channel();
    tokio::spawn(run_placed(shared, placement, ready));
    placed.await.unwrap_or_else(|_| {
        Err(PlaceError::NoMedia(
            "the call's task ended before it dialled".into(),
        ))
    })
}

async fn run_placed(
    shared: Arc<Shared>,
    placement: Placement,
    ready: oneshot::Sender<Result<CallSummary, PlaceError>>,
) {
    let slot = shared.admit(true);
    let bound = match shared.pool.bind() {
        Ok(bound) => bound,
        Err(error) => {
            let _ = ready.send(Err(PlaceError::NoMedia(format!("no RTP port: {error}"))));
            return;
        }
    };
    let ip = shared.pool.config().ip;
    let mut sdp = SdpSession::new(session_id(), LocalMedia::new(ip, bound.1.port()));
    let offer = match sdp.create_offer() {
        Ok(offer) => offer,
        Err(error) => {
            let _ = ready.send(Err(PlaceError::NoMedia(error.to_string())));
            return;
        }
    };
    let request = DialRequest {
        to_uri: placement.to.clone(),
        from_uri: placement.from.clone(),
        sdp_offer: Some(Bytes::from(offer)),
        headers: Vec::new(),
        credentials: None,
        ring_timeout: placement.ring_timeout,
    };
    let call = match shared.endpoint.dial(request).await {
        Ok(call) => call,
        Err(error) => {
            let _ = ready.send(Err(PlaceError::Sip(error)));
            return;
        }
    };
    let call_id = call.call_id().to_string();
    let summary = CallSummary::new(&call_id, "outbound", &placement.from, &placement.to);
    let mut control = shared.registry.register(summary.clone());
    tracing::info!(
        %call_id,
        from = %crate::redact::uri(&placement.from),
        to = %crate::redact::uri(&placement.to),
        "call placed"
    );
    let _ = ready.send(Ok(summary));
    let mut report = CallReport {
        call_id: call_id.clone(),
        transport: SignalTransport::Udp,
        rejected: None,
        answered: false,
        reinvites: 0,
        media: None,
        rtp_local: None,
        stats: LegStats::default(),
        ended: String::new(),
    };
    report.ended = drive_placed(
        &shared,
        call,
        sdp,
        bound,
        &placement,
        &mut control,
        &mut report,
    )
    .await;
    drop(control);
    drop(slot);
    shared.metrics.leg_ended(&report.stats);
    tracing::info!(
        %call_id,
        answered = report.answered,
        packets_in = report.stats.packets_in,
        packets_out = report.stats.packets_out,
        ended = %report.ended,
        "call ended"
    );
    shared.publish(report);
}

/// Waits for the answer (taking API commands meanwhile), then runs the document.
async fn drive_placed(
    shared: &Shared,
    mut call: sip::OutboundCall,
    mut sdp: SdpSession,
    bound: (std::net::UdpSocket, media::PortLease),
    placement: &Placement,
    control: &mut CallControl,
    report: &mut CallReport,
) -> String {
    let mut taps = crate::taps::Taps::default();
    let mut shutdown = shared.shutdown();
    let media = loop {
        tokio::select! {
            event = call.next_event() => match event {
                Some(OutboundEvent::Provisional { .. }) => {}
                Some(OutboundEvent::Answered { sdp: Some(answer) }) => match sdp.handle_answer(&answer) {
                    Ok(media) => break media,
                    Err(error) => {
                        let _ = call.hangup().await;
                        return format!("unusable SDP answer: {error}");
                    }
                },
                Some(OutboundEvent::Answered { sdp: None }) => {
                    let _ = call.hangup().await;
                    return "the answer carried no SDP".into();
                }
                Some(OutboundEvent::Failed(failure)) => {
                    return match failure {
                        DialFailure::Rejected { code, reason } => format!("refused: {code} {reason}"),
                        DialFailure::RingTimeout => "no answer before the ring timeout".into(),
                        DialFailure::NoResponse => "no response".into(),
                        DialFailure::Stack { reason } => reason,
                    };
                }
                Some(OutboundEvent::ReInvite(reinvite)) => {
                    let _ = reinvite.reject(491).await;
                }
                Some(OutboundEvent::Bye) | None => return "hung up before answering".into(),
                Some(OutboundEvent::Terminated { reason }) => return describe(&reason),
            },
            command = control.next() => {
                if let Step::End(reason) = control.handle(command, &mut taps, shared, "ringing", None).await {
                    let _ = call.hangup().await;
                    taps.stop_all(crate::sink::Reason::CallEnded, Leg::now());
                    return format!("ended by the API before the answer: {reason}");
                }
            }
            () = crate::node::stopped(&mut shutdown) => {
                let _ = call.hangup().await;
                taps.stop_all(crate::sink::Reason::CallEnded, Leg::now());
                return "node shut down".into();
            }
        }
    };
    report.answered = true;
    tracing::info!(call_id = %report.call_id, "call answered");
    let info = crate::script::CallInfo {
        call_id: report.call_id.clone(),
        direction: "outbound",
        from: placement.from.clone(),
        to: placement.to.clone(),
        headers: Vec::new(),
    };
    let ip = shared.pool.config().ip;
    let mut rng = leg_rng();
    let leg = match Leg::from_bound(
        bound,
        ip,
        shared.config.leg,
        &media,
        Source::Silence,
        &mut rng,
    ) {
        Ok(leg) => leg,
        Err(error) => {
            let _ = call.hangup().await;
            taps.stop_all(crate::sink::Reason::CallEnded, Leg::now());
            return format!("RTP leg failed: {error}");
        }
    };
    report.rtp_local = Some(leg.local_addr());
    report.media = Some(media);
    let scope = crate::script::call_scope(&info);
    let document = match crate::script::resolve(shared, &placement.document, &scope).await {
        Ok(document) => document,
        Err(error) => {
            tracing::warn!(call_id = %report.call_id, %error, "the call's SWML document did not load");
            let _ = call.hangup().await;
            taps.stop_all(crate::sink::Reason::CallEnded, Leg::now());
            return format!("the document did not load: {error}");
        }
    };
    crate::script::run_outbound(
        call, sdp, leg, taps, document, info, shared, report, control,
    )
    .await
}
