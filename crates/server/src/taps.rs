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
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use g711::Law;
use rand::RngCore;
use rtp::Packet;
use swml::{Codec, TapDirection, TapParams, TapStarted, TapUri};
use tap::{Direction, Input, Output, Ptime, RtpStart, Stream, Tap, TapConfig};

use crate::node::Shared;
use crate::sink::policy::{DestinationPolicy, Host, ResolveError};
use crate::sink::rtp::{RtpSink, RtpSinkConfig};
use crate::sink::status::{Device, StatusChannel, TapEvent, TapState};
use crate::sink::ws::{
    Announce, HandshakeHeaders, Reconnect, WsEvent, WsSink, WsSinkConfig, WsTarget,
};
use crate::sink::{Reason, SinkStats};

/// The node's rules for taps (the tap contract, sections 2, 5, 8 and 9): limits, the send
/// queue bound, the connect timeout, the alignment windows and what status events say of the
/// node. Configuration of the node, never of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapRules {
    /// Taps one call may run at once; one more fails with `limit_reached` (default 8).
    pub per_call: usize,
    /// Taps the whole node may run at once, across its calls; `None` (the default) sets no
    /// limit beyond the per-call one.
    pub per_node: Option<usize>,
    /// The bound of each tap's send queue, in ms of audio (default 1000): when a receiver falls
    /// this far behind, the oldest queued frame is dropped and counted.
    pub queue_ms: u32,
    /// How long a `tap` may wait for its sink to be ready (`tap.connect_timeout`, default 5 s).
    pub connect_timeout: Duration,
    /// How late incoming audio of `speak` and `listen` taps may be and still be placed, in ms.
    pub window_ms: u32,
    /// The same for `both` taps, which align two directions (default 40 ms).
    pub window_both_ms: u32,
    /// How long an RTP destination may answer every packet with ICMP errors (port or host
    /// unreachable) before its tap finishes with `send_failed` (default 10 s).
    pub rtp_refused_fatal_after: Duration,
    /// `project_id` of every status event.
    pub project_id: String,
    /// `space_id` of every status event.
    pub space_id: String,
    /// `params.node_id` of every status event.
    pub node_id: String,
    /// The key of the `X-Earshot-Signature` HMAC-SHA256 of status events; none, no header.
    pub signing_key: Option<Vec<u8>>,
    /// A PEM file of CA certificates trusted besides the built-in web roots, for `wss://` taps
    /// and every HTTPS request of the node (status events, documents, `request`, `play`).
    pub ca_file: Option<PathBuf>,
    /// How long one status-event POST may wait for its answer before it is retried (default
    /// 5 s; four attempts in all).
    pub status_timeout: Duration,
    /// The kernel send buffer of each WebSocket tap's connection in bytes (`SO_SNDBUF`);
    /// `None` (the default) leaves it to the kernel. With the queue, it bounds what a receiver
    /// that never reads can hold of the node's memory.
    pub ws_send_buffer: Option<u32>,
}

impl Default for TapRules {
    fn default() -> Self {
        TapRules {
            per_call: 8,
            per_node: None,
            queue_ms: 1000,
            connect_timeout: Duration::from_secs(5),
            window_ms: tap::DEFAULT_WINDOW_MS,
            window_both_ms: tap::DEFAULT_WINDOW_BOTH_MS,
            rtp_refused_fatal_after: Duration::from_secs(10),
            project_id: String::new(),
            space_id: String::new(),
            node_id: "earshot".into(),
            signing_key: None,
            status_timeout: Duration::from_secs(5),
            ws_send_buffer: None,
            ca_file: None,
        }
    }
}

/// A running tap's place in the node's count; given back when the tap stops.
struct NodeSlot(Arc<AtomicUsize>);

impl NodeSlot {
    /// Takes a place if fewer than `limit` taps run on the node.
    fn take(count: &Arc<AtomicUsize>, limit: Option<usize>) -> Option<NodeSlot> {
        let limit = limit.unwrap_or(usize::MAX);
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| NodeSlot(Arc::clone(count)))
    }
}

impl Drop for NodeSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

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
    /// `max_duration` as frames still to send: the tap carries exactly that much audio, then
    /// finishes by itself.
    frames_left: Option<u64>,
    /// Given back as soon as the tap stops.
    slot: Option<NodeSlot>,
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
        let control_id = params
            .control_id
            .clone()
            .unwrap_or_else(generated_control_id);
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
            device: match &params.uri {
                TapUri::Rtp { host, port } => Device::RtpUnresolved {
                    host: host.clone(),
                    port: Some(*port),
                    codec: config.codec,
                    ptime: Ptime::from_ms(u32::from(params.rtp_ptime_ms)).unwrap_or_default(),
                },
                TapUri::WebSocket { .. } => Device::Ws {
                    uri: params.uri_text.clone(),
                    codec: config.codec,
                },
            },
        };
        let rules = &shared.config.taps;
        if self.list.len() >= rules.per_call {
            tracing::warn!(%control_id, "limit_reached: {} taps on this call", rules.per_call);
            finish_unstarted(event, status, Reason::LimitReached);
            return failed(&control_id);
        }
        let Some(slot) = NodeSlot::take(&shared.taps_running, rules.per_node) else {
            tracing::warn!(%control_id, limit = ?rules.per_node, "limit_reached: taps on this node");
            finish_unstarted(event, status, Reason::LimitReached);
            return failed(&control_id);
        };
        config.window_ms = match config.direction {
            Direction::Both => rules.window_both_ms,
            _ => rules.window_ms,
        };
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
                // A name that does not resolve (or not within the connect timeout) is a
                // failure to connect; only an address the policy refuses is denied.
                let dest = match Host::parse(host) {
                    Ok(host) => {
                        match tokio::time::timeout(
                            rules.connect_timeout,
                            policy.resolve(&host, *port),
                        )
                        .await
                        {
                            Ok(Ok(dest)) => Ok(dest),
                            Ok(Err(ResolveError::Denied(denied))) => {
                                Err((denied.to_string(), Reason::DestinationDenied))
                            }
                            Ok(Err(error)) => Err((error.to_string(), Reason::ConnectFailed)),
                            Err(_) => Err((
                                format!("{host}: no DNS answer within the connect timeout"),
                                Reason::ConnectFailed,
                            )),
                        }
                    }
                    Err(error) => Err((error.to_string(), Reason::DestinationDenied)),
                };
                let dest: SocketAddr = match dest {
                    Ok(dest) => dest,
                    Err((error, reason)) => {
                        tracing::warn!(error = %crate::redact::text(&error), uri = %crate::redact::uri(&params.uri_text), %reason, "tap destination");
                        finish_unstarted(event, status, reason);
                        return failed(&control_id);
                    }
                };
                let sink_config = RtpSinkConfig {
                    local_ip: shared.pool.config().ip,
                    icmp_fatal_after: rules.rtp_refused_fatal_after,
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
                // One slot at a time: a call has a tap or two, and an empty slot is a
                // kilobyte.
                self.list.reserve_exact(1);
                self.list.push(ActiveTap {
                    control_id: control_id.clone(),
                    metrics: Arc::clone(&shared.metrics),
                    config,
                    core,
                    sink: Sink::Rtp(sink),
                    status,
                    event,
                    next_due: Some(now),
                    frames_left: params.max_duration.map(|d| max_frames(d, config.ptime)),
                    slot: Some(slot),
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
                let sink_config = WsSinkConfig {
                    connect_timeout: rules.connect_timeout,
                    queue_frames: Some(queue_frames(rules.queue_ms, config.ptime)),
                    send_buffer: rules.ws_send_buffer,
                    ..WsSinkConfig::default()
                };
                let sink = WsSink::start(target, policy, Arc::clone(&shared.tls), sink_config);
                // One slot at a time: a call has a tap or two, and an empty slot is a
                // kilobyte.
                self.list.reserve_exact(1);
                self.list.push(ActiveTap {
                    control_id,
                    metrics: Arc::clone(&shared.metrics),
                    config,
                    core: None,
                    sink: Sink::Ws(sink),
                    status,
                    event,
                    next_due: None,
                    frames_left: params.max_duration.map(|d| max_frames(d, config.ptime)),
                    slot: Some(slot),
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
                    let mut tap = self.list.remove(i);
                    tap.slot = None;
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

    /// Runs every tap up to `now` and sends what is due; finishes the taps whose
    /// `max_duration` is up.
    pub(crate) fn drive(&mut self, now: Instant) {
        let mut failed = Vec::new();
        for (i, tap) in self.list.iter_mut().enumerate() {
            let Some(core) = &mut tap.core else { continue };
            // A tap's output is paced: nothing is due before its deadline, whatever came in.
            if tap.next_due.is_some_and(|due| due > now) {
                continue;
            }
            core.handle_input(Input::Timeout(now));
            tap.next_due = None;
            loop {
                match core.poll_output() {
                    Output::Transmit(frame) => {
                        if let Some(left) = &mut tap.frames_left {
                            *left = left.saturating_sub(1);
                        }
                        match &mut tap.sink {
                            Sink::Rtp(sink) => {
                                if let Err(error) = sink.send(&frame) {
                                    tracing::warn!(%error, control_id = %tap.control_id, "tap send failed");
                                    failed.push((i, Reason::SendFailed));
                                    break;
                                }
                            }
                            Sink::Ws(ws) => ws.push(&frame),
                        }
                        if tap.frames_left == Some(0) {
                            failed.push((i, Reason::MaxDuration));
                            break;
                        }
                    }
                    Output::Timeout(t) => {
                        tap.next_due = Some(t);
                        break;
                    }
                    Output::Finished => break,
                }
            }
        }
        for (i, reason) in failed.into_iter().rev() {
            let tap = self.list.remove(i);
            finish(tap, reason, now);
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
                    Device::RtpUnresolved {
                        host, port, ptime, ..
                    } => serde_json::json!({
                        "type": "rtp",
                        "params": {"addr": host, "port": port, "codec": codec, "ptime": ptime.ms()},
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

/// A control id for a tap that was given none: a random UUID v4.
fn generated_control_id() -> String {
    let mut r = rand::rng();
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        r.next_u32(),
        r.next_u32() as u16,
        r.next_u32() & 0xfff,
        r.next_u32() & 0xfff,
        r.next_u64() & 0xffff_ffff_ffff
    )
}

/// Reports a `tap` whose parameters were invalid (`params` as substituted, not validated):
/// only `finished` with `invalid_params`, to its `status_url` when that is a usable URL. The
/// event's fields are read from `params` as far as they make sense.
pub(crate) fn report_invalid(shared: &Shared, call_id: &str, params: &serde_json::Value) {
    let text = |key: &str| params.get(key).and_then(serde_json::Value::as_str);
    let Some(url) = text("status_url") else {
        return;
    };
    let status = match shared.status.channel(url) {
        Ok(status) => status,
        Err(error) => {
            tracing::warn!(%error, "tap status_url: the invalid tap is not reported");
            return;
        }
    };
    let lower = |key: &str| text(key).map(str::to_ascii_lowercase);
    let direction = match lower("direction").as_deref() {
        Some("listen" | "hear") => Direction::Listen,
        Some("both") => Direction::Both,
        _ => Direction::Speak,
    };
    let codec = match lower("codec").as_deref() {
        Some("pcma") => Law::Alaw,
        _ => Law::Ulaw,
    };
    let ptime = params
        .get("rtp_ptime")
        .and_then(|p| p.as_u64().or_else(|| p.as_str()?.parse().ok()))
        .and_then(|ms| Ptime::from_ms(u32::try_from(ms).ok()?).ok())
        .unwrap_or_default();
    let uri = text("uri").unwrap_or_default();
    let device = match uri.strip_prefix("rtp://") {
        Some(rest) => {
            let (host, port) = match rest.rsplit_once(':') {
                Some((host, port)) => (host, port.parse().ok()),
                None => (rest, None),
            };
            Device::RtpUnresolved {
                host: host.to_string(),
                port,
                codec,
                ptime,
            }
        }
        None => Device::Ws {
            uri: uri.to_string(),
            codec,
        },
    };
    let event = TapEvent {
        session_id: call_id.to_string(),
        call_id: call_id.to_string(),
        segment_id: call_id.to_string(),
        tag: None,
        control_id: text("control_id").map_or_else(generated_control_id, str::to_string),
        state: TapState::Tapping,
        direction,
        device,
    };
    finish_unstarted(event, Some(status), Reason::InvalidParams);
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

/// The frames of `max_duration` at `ptime` (at least one).
fn max_frames(max_duration: Duration, ptime: Ptime) -> u64 {
    (max_duration.as_millis() as u64 / u64::from(ptime.ms())).max(1)
}

/// The send queue's length for `queue_ms` of audio in frames of `ptime` (at least one).
fn queue_frames(queue_ms: u32, ptime: Ptime) -> usize {
    (queue_ms / ptime.ms()).max(1) as usize
}

/// Ends a tap: flushes its core into its sink, then delivers `finished` from a task of its own.
fn finish(mut tap: ActiveTap, reason: Reason, now: Instant) {
    tap.slot = None;
    if let Some(core) = &mut tap.core {
        core.handle_input(Input::Stop(now));
        while let Output::Transmit(frame) = core.poll_output() {
            match &mut tap.frames_left {
                Some(0) => break,
                Some(left) => *left -= 1,
                None => {}
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ptime(ms: u32) -> Ptime {
        Ptime::from_ms(ms).expect("a valid ptime")
    }

    #[test]
    fn the_queue_holds_queue_ms_of_audio_and_never_less_than_a_frame() {
        assert_eq!(queue_frames(1000, ptime(20)), 50);
        assert_eq!(queue_frames(1000, ptime(30)), 33);
        assert_eq!(queue_frames(250, ptime(120)), 2);
        assert_eq!(queue_frames(0, ptime(20)), 1);
    }

    #[test]
    fn max_duration_is_a_whole_number_of_frames() {
        assert_eq!(max_frames(Duration::from_secs(1), ptime(20)), 50);
        assert_eq!(max_frames(Duration::from_secs(1), ptime(30)), 33);
        assert_eq!(max_frames(Duration::from_secs(3600), ptime(10)), 360_000);
        assert_eq!(max_frames(Duration::ZERO, ptime(20)), 1);
    }

    #[test]
    fn node_slots_stop_at_the_limit_and_come_back_when_dropped() {
        let count = Arc::new(AtomicUsize::new(0));
        let first = NodeSlot::take(&count, Some(2)).expect("a first place");
        let second = NodeSlot::take(&count, Some(2)).expect("a second place");
        assert!(NodeSlot::take(&count, Some(2)).is_none(), "the limit holds");
        assert_eq!(count.load(Ordering::Acquire), 2);
        drop(first);
        let third = NodeSlot::take(&count, Some(2)).expect("a place given back");
        drop((second, third));
        assert_eq!(count.load(Ordering::Acquire), 0);
        let unlimited: Vec<NodeSlot> = (0..100)
            .map(|_| NodeSlot::take(&count, None).expect("no limit"))
            .collect();
        assert_eq!(count.load(Ordering::Acquire), 100);
        drop(unlimited);
        assert_eq!(count.load(Ordering::Acquire), 0);
    }
}
