//! The bridge flow (B2BUA): an inbound call joined to an outbound one.
//!
//! The caller hears ringing while the far end is called; when the far end answers, the caller
//! is answered and one task relays media both ways (`LegCore::handle_relay`: µ-law ↔ A-law
//! where the two legs differ, telephone-events re-stamped into the receiving leg's stream).
//! Whichever side hangs up, the other gets BYE.

use std::net::UdpSocket;
use std::time::Duration;

use bytes::Bytes;
use media::{Leg, LegEvent, PortLease, Received, Source};
use sdp::{LocalMedia, SdpSession};
use sip::{
    DialFailure, DialRequest, InboundCall, InboundEvent, OutboundCall, OutboundEvent, Rejection,
};

use crate::call::{CallReport, describe, leg_rng, reject, session_id};
use crate::node::Shared;

/// How long the far end may ring.
const RING_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) async fn run(
    mut a_call: InboundCall,
    a_offer: &[u8],
    mut a_sdp: SdpSession,
    a_bound: (UdpSocket, PortLease),
    to: &str,
    shared: &Shared,
    report: &mut CallReport,
) -> String {
    let a_answer = match a_sdp.answer_offer(a_offer) {
        Ok(answer) => answer,
        Err(error) => {
            let mut rejection = Rejection::new(if error.is_not_acceptable() { 488 } else { 400 });
            rejection.reason = Some(error.to_string());
            return reject(&a_call, report, rejection).await;
        }
    };
    if let Err(error) = a_call.ringing() {
        return format!("ringing failed: {error}");
    }
    let ip = shared.pool.config().ip;
    let b_bound = match shared.pool.bind() {
        Ok(bound) => bound,
        Err(error) => {
            tracing::warn!(%error, "no RTP port for the far leg");
            return reject(
                &a_call,
                report,
                Rejection::unavailable(Duration::from_secs(5)),
            )
            .await;
        }
    };
    let mut b_sdp = SdpSession::new(session_id(), LocalMedia::new(ip, b_bound.1.port()));
    let b_offer = match b_sdp.create_offer() {
        Ok(offer) => offer,
        Err(error) => {
            return reject(&a_call, report, Rejection::server_error(error.to_string())).await;
        }
    };
    let dialled = shared
        .endpoint
        .dial(DialRequest {
            to_uri: to.to_string(),
            from_uri: format!("sip:earshot@{}", shared.endpoint.udp_addr()),
            sdp_offer: Some(Bytes::from(b_offer)),
            headers: Vec::new(),
            credentials: None,
            ring_timeout: RING_TIMEOUT,
        })
        .await;
    let mut b_call = match dialled {
        Ok(call) => call,
        Err(error) => {
            return reject(&a_call, report, Rejection::server_error(error.to_string())).await;
        }
    };

    // Ring the caller until the far end answers, fails, or the caller gives up.
    let b_media = loop {
        tokio::select! {
            event = b_call.next_event() => match event {
                Some(OutboundEvent::Answered { sdp: Some(answer) }) => match b_sdp.handle_answer(&answer) {
                    Ok(media) => break media,
                    Err(error) => {
                        let _ = b_call.hangup().await;
                        return reject(&a_call, report, Rejection::server_error(error.to_string())).await;
                    }
                },
                Some(OutboundEvent::Failed(failure)) => {
                    let (code, why) = match failure {
                        DialFailure::Rejected { code, reason } => (code, format!("{code} {reason}")),
                        DialFailure::RingTimeout => (480, "no answer".to_string()),
                        DialFailure::NoResponse => (408, "no response".to_string()),
                        DialFailure::Stack { reason } => (500, reason),
                    };
                    // Pass the far end's refusal on where it is one a caller understands.
                    let code = if (400..700).contains(&code) { code } else { 502 };
                    let mut rejection = Rejection::new(code);
                    rejection.reason = Some(format!("far end: {why}"));
                    return reject(&a_call, report, rejection).await;
                }
                Some(OutboundEvent::Provisional { .. }) => {}
                Some(OutboundEvent::ReInvite(reinvite)) => { let _ = reinvite.reject(491).await; }
                Some(OutboundEvent::Answered { sdp: None }) | Some(OutboundEvent::Bye) | None
                | Some(OutboundEvent::Terminated { .. }) => {
                    let _ = b_call.hangup().await;
                    return reject(&a_call, report, Rejection::new(502)).await;
                }
            },
            event = a_call.next_event() => match event {
                Some(InboundEvent::Cancelled) | Some(InboundEvent::Bye) | None => {
                    let _ = b_call.hangup().await;
                    return "caller cancelled".into();
                }
                Some(InboundEvent::Terminated { reason }) => {
                    let _ = b_call.hangup().await;
                    return describe(&reason);
                }
                Some(_) => {}
            },
        }
    };
    if let Err(error) = a_call.answer(Bytes::from(a_answer.sdp)) {
        let _ = b_call.hangup().await;
        return format!("answer failed: {error}");
    }
    report.answered = true;
    let mut rng = leg_rng();
    let legs = Leg::from_bound(
        a_bound,
        ip,
        shared.config.leg,
        &a_answer.media,
        Source::Relay,
        &mut rng,
    )
    .and_then(|a| {
        Leg::from_bound(
            b_bound,
            ip,
            shared.config.leg,
            &b_media,
            Source::Relay,
            &mut rng,
        )
        .map(|b| (a, b))
    });
    let (mut a, mut b) = match legs {
        Ok(legs) => legs,
        Err(error) => {
            let _ = a_call.hangup().await;
            let _ = b_call.hangup().await;
            return format!("RTP leg failed: {error}");
        }
    };
    report.rtp_local = Some(a.local_addr());
    report.media = Some(a_answer.media);
    let ended = relay(
        &mut a_call,
        &mut b_call,
        &mut a,
        &mut b,
        &mut a_sdp,
        shared,
        report,
    )
    .await;
    report.stats = a.stats();
    ended
}

async fn relay(
    a_call: &mut InboundCall,
    b_call: &mut OutboundCall,
    a: &mut Leg,
    b: &mut Leg,
    a_sdp: &mut SdpSession,
    shared: &Shared,
    report: &mut CallReport,
) -> String {
    let mut shutdown = shared.shutdown();
    loop {
        let deadline = a.next_deadline().min(b.next_deadline());
        tokio::select! {
            received = a.recv() => match received {
                Ok(Received::Rtp(inbound)) => b.core_mut().handle_relay(inbound.at, &inbound),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "RTP receive failed"),
            },
            received = b.recv() => match received {
                Ok(Received::Rtp(inbound)) => a.core_mut().handle_relay(inbound.at, &inbound),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "RTP receive failed"),
            },
            () = tokio::time::sleep_until(deadline) => {}
            event = a_call.next_event() => match event {
                Some(InboundEvent::Bye) | None => { let _ = b_call.hangup().await; break "caller hung up".to_string(); }
                Some(InboundEvent::Terminated { reason }) => { let _ = b_call.hangup().await; break describe(&reason); }
                Some(InboundEvent::ReInvite(reinvite)) => match reinvite.sdp.as_deref().map(|o| a_sdp.answer_offer(o)) {
                    Some(Ok(answer)) => {
                        a.core_mut().handle_media(Leg::now(), &answer.media);
                        report.reinvites += 1;
                        let _ = reinvite.accept(Bytes::from(answer.sdp)).await;
                    }
                    _ => { let _ = reinvite.reject(488).await; }
                },
                Some(_) => {}
            },
            event = b_call.next_event() => match event {
                Some(OutboundEvent::Bye) | None => { let _ = a_call.hangup().await; break "far end hung up".to_string(); }
                Some(OutboundEvent::Terminated { reason }) => { let _ = a_call.hangup().await; break describe(&reason); }
                Some(OutboundEvent::ReInvite(reinvite)) => { let _ = reinvite.reject(488).await; }
                Some(_) => {}
            },
            _ = shutdown.changed() => {
                let _ = a_call.hangup().await;
                let _ = b_call.hangup().await;
                break "node shut down".to_string();
            }
        }
        let now = Leg::now();
        a.send_due(now, |_| {});
        b.send_due(now, |_| {});
        let mut inactive = false;
        for leg in [&mut *a, &mut *b] {
            while let Some(event) = leg.poll_event() {
                inactive |= matches!(event, LegEvent::Inactive { .. });
            }
        }
        if inactive {
            let _ = a_call.hangup().await;
            let _ = b_call.hangup().await;
            break "no RTP".to_string();
        }
    }
}
