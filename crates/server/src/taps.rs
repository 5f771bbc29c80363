//! The taps of one call: each a `tap::Tap` core fed from the call's leg, its sink (RTP or
//! WebSocket) and its status channel, all owned by the call's task.
//!
//! The task feeds every packet the leg receives (speak) and sends (listen) to every running
//! tap, runs them at their deadlines, and hands their frames to their sinks without waiting:
//! an RTP sink sends with `try_send_to`, a WebSocket sink queues (drop-oldest) for its own
//! task. A WebSocket tap is *connecting* until its handshake completes; the script learns the
//! outcome then. When the call ends, each tap is stopped with `call_ended` and its `finished`
//! event is delivered by a task of its own, so the call's end does not wait on receivers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use g711::Law;
use rand::RngCore;
use rtp::Packet;
use swml::{Codec, TapDirection, TapParams, TapStarted, TapUri};
use tap::{Direction, Input, Output, Ptime, RtpStart, Stream, Tap, TapConfig};

use crate::node::Shared;
use crate::sink::policy::{DestinationPolicy, Host};
use crate::sink::rtp::{RtpSink, RtpSinkConfig};
use crate::sink::status::{Device, StatusChannel, TapEvent, TapState};
use crate::sink::ws::{
    Announce, HandshakeHeaders, Reconnect, WsEvent, WsSink, WsSinkConfig, WsTarget,
};
use crate::sink::{Reason, SinkStats};

/// Taps one call may run at once (the tap contract, section 8).
const MAX_TAPS_PER_CALL: usize = 8;

enum Sink {
    Rtp(RtpSink),
    Ws(WsSink),
}

struct ActiveTap {
    control_id: String,
    metrics: Arc<crate::metrics::Metrics>,
    config: TapConfig,
    /// `None` while a WebSocket tap is connecting.
    core: Option<Tap>,
    sink: Sink,
    status: Option<StatusChannel>,
    event: TapEvent,
    next_due: Option<Instant>,
}

/// A running tap, as the control API shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct TapView {
    pub(crate) control_id: String,
    /// `connecting` (a WebSocket handshake under way) or `tapping`.
    pub(crate) state: &'static str,
    pub(crate) direction: &'static str,
    pub(crate) codec: &'static str,
    pub(crate) device: serde_json::Value,
    pub(crate) frames_sent: u64,
    pub(crate) frames_dropped: u64,
}

/// The running taps of a call.
#[derive(Default)]
pub(crate) struct Taps {
    list: Vec<ActiveTap>,
    generated: u64,
}

pub(crate) fn law(codec: Codec) -> Law {
    match codec {
        Codec::Pcmu => Law::Ulaw,
        Codec::Pcma => Law::Alaw,
    }
}

fn direction(d: TapDirection) -> Direction {
    match d {
        TapDirection::Speak => Direction::Speak,
        TapDirection::Listen => Direction::Listen,
        TapDirection::Both => Direction::Both,
    }
}

impl Taps {
    /// Starts a tap. RTP taps are ready at once; a WebSocket tap answers through
    /// [`Taps::next_ws_event`] once its handshake completes (`None` here).
    pub(crate) async fn start(
        &mut self,
        shared: &Shared,
        call_id: &str,
        params: &TapParams,
        now: Instant,
    ) -> Option<TapStarted> {
        let before = self.list.len();
        let started = self.start_tap(shared, call_id, params, now).await;
        let transport = match params.uri {
            TapUri::Rtp { .. } => crate::metrics::Transport::Rtp,
            TapUri::WebSocket { .. } => crate::metrics::Transport::Ws,
        };
        if self.list.len() > before {
            shared.metrics.tap_added(transport);
            let tap = &self.list[self.list.len() - 1];
            tracing::info!(
                %call_id,
                control_id = %tap.control_id,
                uri = %crate::redact::uri(&params.uri_text),
                ready = tap.core.is_some(),
                "tap started"
            );
            if tap.core.is_some() {
                shared.metrics.tap_started(transport);
            }
        } else {
            shared.metrics.tap_refused(transport);
        }
        started
    }

    async fn start_tap(
        &mut self,
        shared: &Shared,
        call_id: &str,
        params: &TapParams,
        now: Instant,
    ) -> Option<TapStarted> {
        self.generated += 1;
        let control_id = params.control_id.clone().unwrap_or_else(|| {
            let mut r = rand::rng();
            format!(
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                r.next_u32(),
                r.next_u32() as u16,
                r.next_u32() & 0xfff,
                r.next_u32() & 0xfff,
                r.next_u64() & 0xffff_ffff_ffff
            )
        });
        let failed = |id: &str| {
            Some(TapStarted {
                succeeded: false,
                control_id: id.to_string(),
                rtp_source: None,
            })
        };
        if self.list.iter().any(|t| t.control_id == control_id) {
            tracing::warn!(%control_id, "a tap with this control id is running");
            return failed(&control_id);
        }
        let mut config = TapConfig::new(direction(params.direction));
        config.codec = law(params.codec);
        config.stereo = params.stereo;
        let policy: DestinationPolicy = shared.config.destinations.clone();
        let status = params.status_url.as_deref().and_then(|url| {
            shared
                .status
                .channel(url)
                .map_err(|error| tracing::warn!(error = %crate::redact::text(&error.to_string()), "tap status_url"))
                .ok()
        });
        let mut event = TapEvent {
            session_id: call_id.to_string(),
            call_id: call_id.to_string(),
            segment_id: call_id.to_string(),
            tag: None,
            control_id: control_id.clone(),
            state: TapState::Tapping,
            direction: config.direction,
            device: Device::Ws {
                uri: params.uri_text.clone(),
                codec: config.codec,
            },
        };
        if self.list.len() >= MAX_TAPS_PER_CALL {
            tracing::warn!(%control_id, "limit_reached: {MAX_TAPS_PER_CALL} taps on this call");
            finish_unstarted(event, status, Reason::LimitReached);
            return failed(&control_id);
        }
        config.ptime = match Ptime::from_ms(u32::from(params.rtp_ptime_ms)) {
            Ok(p) => p,
            Err(error) => {
                tracing::warn!(%error, "tap ptime");
                finish_unstarted(event, status, Reason::InvalidParams);
                return failed(&control_id);
            }
        };
        match &params.uri {
            TapUri::Rtp { host, port } => {
                let dest = match Host::parse(host) {
                    Ok(host) => policy
                        .resolve(&host, *port)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                let dest: SocketAddr = match dest {
                    Ok(dest) => dest,
                    Err(error) => {
                        tracing::warn!(error = %crate::redact::text(&error.to_string()), uri = %crate::redact::uri(&params.uri_text), "tap destination");
                        finish_unstarted(event, status, Reason::DestinationDenied);
                        return failed(&control_id);
                    }
                };
                let sink_config = RtpSinkConfig {
                    local_ip: shared.pool.config().ip,
                    ..RtpSinkConfig::default()
                };
                let sink = match RtpSink::open(&sink_config, dest) {
                    Ok(sink) => sink,
                    Err(error) => {
                        tracing::warn!(%error, "tap RTP socket");
                        finish_unstarted(event, status, Reason::SendFailed);
                        return failed(&control_id);
                    }
                };
                let source = sink.local_addr();
                event.device = Device::Rtp {
                    addr: dest.ip(),
                    port: dest.port(),
                    codec: config.codec,
                    ptime: config.ptime,
                };
                if let Some(status) = &status {
                    status.post(&event);
                }
                let core = Tap::new(config, now, RtpStart::random(&mut rand::rng())).ok();
                self.list.push(ActiveTap {
                    control_id: control_id.clone(),
                    metrics: Arc::clone(&shared.metrics),
                    config,
                    core,
                    sink: Sink::Rtp(sink),
                    status,
                    event,
                    next_due: Some(now),
                });
                Some(TapStarted {
                    succeeded: true,
                    control_id,
                    rtp_source: Some((source.ip().to_string(), source.port())),
                })
            }
            TapUri::WebSocket { url, .. } => {
                let uri = match crate::sink::uri::TapUri::parse(url) {
                    Ok(uri) => uri,
                    Err(error) => {
                        tracing::warn!(error = %crate::redact::text(&error.to_string()), "tap URI");
                        finish_unstarted(event, status, Reason::InvalidParams);
                        return failed(&control_id);
                    }
                };
                let headers = match HandshakeHeaders::new(
                    &params.headers,
                    params.authorization_bearer_token.as_deref(),
                ) {
                    Ok(h) => h,
                    Err(error) => {
                        tracing::warn!(%error, "tap headers");
                        finish_unstarted(event, status, Reason::InvalidParams);
                        return failed(&control_id);
                    }
                };
                let announce = params.announce.then(|| Announce {
                    call_id: call_id.to_string(),
                    control_id: control_id.clone(),
                    direction: config.direction,
                    codec: config.codec,
                    channels: config.channels() as u8,
                    params: params.custom_parameters.clone(),
                });
                let target = WsTarget {
                    uri,
                    headers,
                    ptime: config.ptime,
                    announce,
                    reconnect: params.reconnect.as_ref().map(|r| Reconnect {
                        attempts: r.attempts,
                        max_gap: std::time::Duration::from_millis(u64::from(r.max_gap_ms)),
                    }),
                };
                let sink = WsSink::start(
                    target,
                    policy,
                    Arc::clone(&shared.tls),
                    WsSinkConfig::default(),
                );
                self.list.push(ActiveTap {
                    control_id,
                    metrics: Arc::clone(&shared.metrics),
                    config,
                    core: None,
                    sink: Sink::Ws(sink),
                    status,
                    event,
                    next_due: None,
                });
                None
            }
        }
    }

    /// Whether a WebSocket tap is still connecting (the call task then checks back soon).
    pub(crate) fn connecting(&self) -> bool {
        self.list.iter().any(|t| t.core.is_none())
    }

    /// Takes what WebSocket sinks reported since the last turn: handshakes that completed or
    /// failed (returned, for the script) and sinks that ended mid-stream.
    pub(crate) fn poll_ws_events(&mut self, now: Instant) -> Vec<TapStarted> {
        let mut started = Vec::new();
        let mut i = 0;
        while i < self.list.len() {
            let tap = &mut self.list[i];
            let event = match &mut tap.sink {
                Sink::Ws(ws) => ws.try_event(),
                Sink::Rtp(_) => None,
            };
            match event {
                Some(WsEvent::Open) if tap.core.is_none() => {
                    tap.metrics.tap_started(crate::metrics::Transport::Ws);
                    tap.core = Tap::new(tap.config, now, RtpStart::random(&mut rand::rng())).ok();
                    tap.next_due = Some(now);
                    if let Some(status) = &tap.status {
                        status.post(&tap.event);
                    }
                    started.push(TapStarted {
                        succeeded: true,
                        control_id: tap.control_id.clone(),
                        rtp_source: None,
                    });
                }
                Some(WsEvent::Ended(end)) => {
                    let tap = self.list.remove(i);
                    let stats = match &tap.sink {
                        Sink::Ws(ws) => ws.stats(),
                        Sink::Rtp(r) => r.stats(),
                    };
                    tracing::info!(call_id = %tap.event.call_id, control_id = %tap.control_id, reason = end.reason.code(), detail = ?end.detail.as_deref().map(crate::redact::text), "tap finished");
                    tap.metrics.tap_removed(
                        crate::metrics::Transport::Ws,
                        end.reason,
                        tap.core.is_some(),
                    );
                    tap.metrics.tap_sink_done(&stats);
                    if tap.core.is_none() {
                        started.push(TapStarted {
                            succeeded: false,
                            control_id: tap.control_id.clone(),
                            rtp_source: None,
                        });
                    }
                    let mut event = tap.event;
                    event.state = TapState::Finished {
                        reason: end.reason,
                        stats,
                    };
                    if let Some(status) = tap.status {
                        status.post(&event);
                        tokio::spawn(status.finish());
                    }
                    continue;
                }
                Some(_) => continue,
                None => {}
            }
            i += 1;
        }
        started
    }

    /// Hands a packet of the leg's `stream` to every running tap.
    pub(crate) fn feed(&mut self, now: Instant, stream: Stream, packet: Packet<'_>) {
        for tap in &mut self.list {
            if let Some(core) = &mut tap.core {
                core.handle_input(Input::Rtp {
                    now,
                    stream,
                    packet,
                });
            }
        }
    }

    /// Runs every tap up to `now` and sends what is due.
    pub(crate) fn drive(&mut self, now: Instant) {
        let mut failed = Vec::new();
        for (i, tap) in self.list.iter_mut().enumerate() {
            let Some(core) = &mut tap.core else { continue };
            core.handle_input(Input::Timeout(now));
            tap.next_due = None;
            loop {
                match core.poll_output() {
                    Output::Transmit(frame) => match &mut tap.sink {
                        Sink::Rtp(sink) => {
                            if let Err(error) = sink.send(&frame) {
                                tracing::warn!(%error, control_id = %tap.control_id, "tap send failed");
                                failed.push(i);
                                break;
                            }
                        }
                        Sink::Ws(ws) => ws.push(&frame),
                    },
                    Output::Timeout(t) => {
                        tap.next_due = Some(t);
                        break;
                    }
                    Output::Finished => break,
                }
            }
        }
        for i in failed.into_iter().rev() {
            let tap = self.list.remove(i);
            finish(tap, Reason::SendFailed, now);
        }
    }

    /// When [`Taps::drive`] should run next.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.list.iter().filter_map(|t| t.next_due).min()
    }

    /// Stops the tap `control_id`; false if there is none.
    pub(crate) fn stop(&mut self, control_id: &str, now: Instant) -> bool {
        let Some(i) = self.list.iter().position(|t| t.control_id == control_id) else {
            return false;
        };
        let tap = self.list.remove(i);
        finish(tap, Reason::Stopped, now);
        true
    }

    /// Whether a tap `control_id` runs (or connects).
    pub(crate) fn contains(&self, control_id: &str) -> bool {
        self.list.iter().any(|t| t.control_id == control_id)
    }

    /// The control id of the tap started last.
    pub(crate) fn last_control_id(&self) -> Option<String> {
        self.list.last().map(|t| t.control_id.clone())
    }

    /// The running taps, for the control API.
    pub(crate) fn views(&self) -> Vec<TapView> {
        self.list
            .iter()
            .map(|t| {
                let stats = match &t.sink {
                    Sink::Rtp(r) => r.stats(),
                    Sink::Ws(w) => w.stats(),
                };
                let codec = crate::sink::ws::codec_name(t.config.codec);
                let device = match &t.event.device {
                    Device::Rtp {
                        addr, port, ptime, ..
                    } => serde_json::json!({
                        "type": "rtp",
                        "params": {"addr": addr.to_string(), "port": port, "codec": codec, "ptime": ptime.ms()},
                    }),
                    Device::Ws { uri, .. } => serde_json::json!({
                        "type": "ws",
                        "params": {"uri": crate::redact::uri(uri), "codec": codec},
                    }),
                };
                TapView {
                    control_id: t.control_id.clone(),
                    state: if t.core.is_some() {
                        "tapping"
                    } else {
                        "connecting"
                    },
                    direction: match t.config.direction {
                        Direction::Speak => "speak",
                        Direction::Listen => "listen",
                        Direction::Both => "both",
                    },
                    codec,
                    device,
                    frames_sent: stats.frames_sent,
                    frames_dropped: stats.frames_dropped,
                }
            })
            .collect()
    }

    /// Stops every tap with `reason` (the call ended).
    pub(crate) fn stop_all(&mut self, reason: Reason, now: Instant) {
        for tap in self.list.drain(..) {
            finish(tap, reason, now);
        }
    }
}

/// Reports a tap that never started: only `finished`, with `reason`.
fn finish_unstarted(mut event: TapEvent, status: Option<StatusChannel>, reason: Reason) {
    event.state = TapState::Finished {
        reason,
        stats: SinkStats::default(),
    };
    if let Some(status) = status {
        status.post(&event);
        tokio::spawn(status.finish());
    }
}

/// Ends a tap: flushes its core into its sink, then delivers `finished` from a task of its own.
fn finish(mut tap: ActiveTap, reason: Reason, now: Instant) {
    if let Some(core) = &mut tap.core {
        core.handle_input(Input::Stop(now));
        while let Output::Transmit(frame) = core.poll_output() {
            match &mut tap.sink {
                Sink::Rtp(sink) => {
                    let _ = sink.send(&frame);
                }
                Sink::Ws(ws) => ws.push(&frame),
            }
        }
    }
    tracing::info!(call_id = %tap.event.call_id, control_id = %tap.control_id, reason = reason.code(), "tap finished");
    let transport = match tap.sink {
        Sink::Rtp(_) => crate::metrics::Transport::Rtp,
        Sink::Ws(_) => crate::metrics::Transport::Ws,
    };
    tap.metrics
        .tap_removed(transport, reason, tap.core.is_some());
    tokio::spawn(async move {
        let stats = match tap.sink {
            Sink::Rtp(sink) => sink.stats(),
            Sink::Ws(mut ws) => {
                ws.stop(reason);
                while let Some(event) = ws.next_event().await {
                    if let WsEvent::Ended(_) = event {
                        break;
                    }
                }
                ws.stats()
            }
        };
        tap.metrics.tap_sink_done(&stats);
        let mut event = tap.event;
        event.state = TapState::Finished { reason, stats };
        if let Some(status) = tap.status {
            status.post(&event);
            status.finish().await;
        }
    });
}
