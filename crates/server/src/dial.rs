//! Placing an outbound call: offer, ring, answer, play, hang up.

use std::time::Duration;

use bytes::Bytes;
use g711::Law;
use media::{Leg, LegEvent, LegStats, Playback, Source};
use sdp::{LocalMedia, NegotiatedMedia, SdpSession};
use sip::{Credentials, DialFailure, DialRequest, OutboundEvent};

use crate::call::{leg_rng, session_id};
use crate::{Node, ServerError};

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
