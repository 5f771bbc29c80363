//! [`WsSink`]: the WebSocket stream of a tap (`tap.md` §4, and the `announce`, `headers`,
//! `authorization_bearer_token` and `reconnect` extensions of §7).
//!
//! One task per tap owns the connection. The call task hands it frames through a bounded
//! drop-oldest [`FrameQueue`] with [`WsSink::push`], synchronously: the media path never waits
//! on a slow receiver. The task:
//!
//! 1. resolves the host once and judges the address by the [`DestinationPolicy`]
//!    (`destination_denied`), connects TCP to that address and runs the opening handshake —
//!    no subprotocol, `User-Agent: earshot/VERSION`, the extra headers — with TLS for `wss`;
//!    all within the connect timeout, else `connect_failed`;
//! 2. with `announce`, sends the `start` text message before the first audio;
//! 3. sends each frame's payload as one binary message; reads and discards what the server
//!    sends (tungstenite answers pings);
//! 4. on [`WsSink::stop`], sends what is still queued, the `stop` text message (`announce`),
//!    a Close 1000, and waits for the server's Close; the whole ending is bounded by
//!    [`WsSinkConfig::close_wait`] twice (draining, then the closing handshake);
//! 5. when the connection fails mid-stream: with `reconnect`, tries again (section below),
//!    else ends with `connection_lost` (no Close: there is no connection to close).
//!
//! # Reconnect
//!
//! `{attempts: N, max_gap_ms: M}`: after each loss, up to N attempts, with back-off
//! (0, 250 ms, 500 ms, 1 s, then 2 s), while less than M ms have passed since the loss; each
//! attempt is bounded by the connect timeout and what is left of M. The audio of the gap is not
//! replayed: frames queued at the loss and produced during the gap are counted as dropped.
//! With `announce`, a new `start` message goes before the first audio after the gap, with
//! `resumed_at`: that audio's place on the tap's timeline, in ms since the tap's first frame.
//!
//! # Counting
//!
//! A frame is sent when its message was written and flushed to the socket in full; every other
//! frame produced is dropped. At the end, `frames_produced = frames_sent + frames_dropped`.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use g711::Law;
use rtp::RtpTime;
use serde::Serialize;
use serde::ser::SerializeMap;
use tap::{Direction, Frame, Ptime};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, header};
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::sink::policy::{DestinationPolicy, ResolveError};
use crate::sink::queue::{FrameQueue, Next, QueuedFrame};
use crate::sink::uri::{Scheme, TapUri};
use crate::sink::ws_inbound::Inbound;
use crate::sink::{Reason, SinkStats};

/// The `User-Agent` of the handshake.
pub const USER_AGENT: &str = concat!("earshot/", env!("CARGO_PKG_VERSION"));
/// The most extra handshake headers (`headers`).
pub const MAX_HEADERS: usize = 16;
/// The most bytes of extra handshake headers, names and values added up.
pub const MAX_HEADER_BYTES: usize = 512;
/// Back-off before reconnect attempts 1, 2, 3, 4, 5…
const BACKOFF_MS: [u64; 5] = [0, 250, 500, 1000, 2000];

/// Node-level settings of WebSocket sinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsSinkConfig {
    /// The bound on resolving, connecting and the opening handshake (`tap.connect_timeout`).
    pub connect_timeout: Duration,
    /// How long the end may take: draining the queue, then the closing handshake, each.
    pub close_wait: Duration,
    /// The send queue's length; `None` holds one second of audio (1000 / ptime frames).
    pub queue_frames: Option<usize>,
    /// The connection's kernel send buffer (`SO_SNDBUF`) in bytes; `None` leaves it to the
    /// kernel, whose autotuning can let a receiver that never reads pin megabytes per tap.
    pub send_buffer: Option<u32>,
}

impl Default for WsSinkConfig {
    fn default() -> Self {
        WsSinkConfig {
            connect_timeout: Duration::from_secs(5),
            close_wait: Duration::from_secs(1),
            queue_frames: None,
            send_buffer: None,
        }
    }
}

/// Why the extra handshake headers were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// More than [`MAX_HEADERS`].
    #[error("{count} headers given, at most {MAX_HEADERS} allowed")]
    TooMany {
        /// How many were given.
        count: usize,
    },
    /// More than [`MAX_HEADER_BYTES`] in all.
    #[error("headers hold {bytes} bytes, at most {MAX_HEADER_BYTES} allowed")]
    TooLong {
        /// Names and values added up.
        bytes: usize,
    },
    /// Not a valid header name or value.
    #[error("header {name:?} is not a valid HTTP header")]
    Invalid {
        /// The name as given.
        name: String,
    },
    /// A header the WebSocket handshake itself sets.
    #[error("header {name:?} is set by the handshake and cannot be given")]
    Reserved {
        /// The name as given.
        name: String,
    },
}

/// The extra headers of the opening handshake, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeHeaders(Vec<(HeaderName, HeaderValue)>);

impl HandshakeHeaders {
    /// Validates `headers` (the limits count these) and adds `Authorization: Bearer <token>`.
    pub fn new(
        headers: &[(String, String)],
        bearer: Option<&str>,
    ) -> Result<HandshakeHeaders, HeaderError> {
        if headers.len() > MAX_HEADERS {
            return Err(HeaderError::TooMany {
                count: headers.len(),
            });
        }
        let bytes = headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        if bytes > MAX_HEADER_BYTES {
            return Err(HeaderError::TooLong { bytes });
        }
        let mut out = Vec::with_capacity(headers.len() + 1);
        for (name, value) in headers {
            let invalid = || HeaderError::Invalid { name: name.clone() };
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            if is_reserved(&n) {
                return Err(HeaderError::Reserved { name: name.clone() });
            }
            let v = HeaderValue::from_str(value).map_err(|_| invalid())?;
            out.push((n, v));
        }
        if let Some(token) = bearer {
            let v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                HeaderError::Invalid {
                    name: "authorization_bearer_token".into(),
                }
            })?;
            out.retain(|(n, _)| n != header::AUTHORIZATION);
            out.push((header::AUTHORIZATION, v));
        }
        Ok(HandshakeHeaders(out))
    }
}

fn is_reserved(name: &HeaderName) -> bool {
    name == header::HOST
        || name == header::CONNECTION
        || name == header::UPGRADE
        || name == header::USER_AGENT
        || name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name.as_str().starts_with("sec-websocket-")
}

/// The `announce` extension: what the `start` message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announce {
    /// The call's id.
    pub call_id: String,
    /// The tap's control id.
    pub control_id: String,
    /// The tap's direction.
    pub direction: Direction,
    /// The tap's codec.
    pub codec: Law,
    /// 1, or 2 with `stereo`.
    pub channels: u8,
    /// `custom_parameters`, in the order given.
    pub params: Vec<(String, String)>,
}

/// The `reconnect` extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconnect {
    /// Attempts after each loss.
    pub attempts: u32,
    /// The longest gap, from the loss to a new handshake.
    pub max_gap: Duration,
}

/// What a WebSocket tap sends to, and how.
#[derive(Debug, Clone)]
pub struct WsTarget {
    /// The destination (`ws://` or `wss://`).
    pub uri: TapUri,
    /// Extra handshake headers.
    pub headers: HandshakeHeaders,
    /// The tap's ptime (sizes the queue; reported by `announce`).
    pub ptime: Ptime,
    /// The `announce` extension.
    pub announce: Option<Announce>,
    /// The `reconnect` extension.
    pub reconnect: Option<Reconnect>,
}

/// What a WebSocket sink reports to its call task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsEvent {
    /// The opening handshake completed: the tap is `tapping`.
    Open,
    /// A new connection after a loss.
    Reopened {
        /// Which attempt after the loss succeeded (from 1).
        attempt: u32,
    },
    /// The sink has ended; nothing more comes.
    Ended(WsEnd),
}

/// How a WebSocket sink ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsEnd {
    /// The reason code: the one given to [`WsSink::stop`], or the failure's.
    pub reason: Reason,
    /// Final counters: `frames_produced = frames_sent + frames_dropped`.
    pub stats: SinkStats,
    /// What failed, for the log.
    pub detail: Option<String>,
}

/// One WebSocket tap's sink: the producer's handle on its task.
#[derive(Debug)]
pub struct WsSink {
    queue: Arc<FrameQueue>,
    events: mpsc::UnboundedReceiver<WsEvent>,
    // The task ends by itself after a stop; the handle is kept for `is_finished`.
    task: JoinHandle<()>,
}

impl WsSink {
    /// Starts the sink's task on the current runtime. `tls` is used for `wss://`.
    pub fn start(
        target: WsTarget,
        policy: DestinationPolicy,
        tls: Arc<rustls::ClientConfig>,
        config: WsSinkConfig,
    ) -> WsSink {
        let frames = config
            .queue_frames
            .unwrap_or(1000 / target.ptime.ms() as usize)
            .max(1);
        let queue = Arc::new(FrameQueue::new(frames));
        let (tx, events) = mpsc::unbounded_channel();
        let worker = Worker {
            target,
            policy,
            tls,
            config,
            queue: Arc::clone(&queue),
            events: tx,
        };
        let task = tokio::spawn(worker.run());
        WsSink {
            queue,
            events,
            task,
        }
    }

    /// Queues one frame's payload. Never waits: when the queue is full, its oldest frame is
    /// dropped and counted.
    pub fn push(&self, frame: &Frame<'_>) {
        self.queue.push(frame.header.timestamp, frame.payload);
    }

    /// Ends the tap with `reason`: frames already pushed are still sent, then the close. The
    /// first stop wins.
    pub fn stop(&self, reason: Reason) {
        self.queue.stop(reason);
    }

    /// The next event; `None` after [`WsEvent::Ended`].
    pub async fn next_event(&mut self) -> Option<WsEvent> {
        self.events.recv().await
    }

    /// The next event if one is waiting, without waiting: for a call task that checks its
    /// taps on every turn of its loop.
    pub fn try_event(&mut self) -> Option<WsEvent> {
        self.events.try_recv().ok()
    }

    /// The counters so far.
    pub fn stats(&self) -> SinkStats {
        self.queue.stats()
    }

    /// Whether the sink's task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for WsSink {
    fn drop(&mut self) {
        // A sink dropped without a stop still closes its connection properly.
        self.queue.stop(Reason::Stopped);
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a connection attempt failed.
#[derive(Debug)]
enum ConnectError {
    Denied(String),
    Failed(String),
}

/// Which `start` message of `announce` is owed before the next audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartOwed {
    Nothing,
    First,
    Resume,
}

/// How streaming on one connection ended.
enum StreamEnd {
    Stopped(Reason, Instant),
    Lost(String),
}

struct Worker {
    target: WsTarget,
    policy: DestinationPolicy,
    tls: Arc<rustls::ClientConfig>,
    config: WsSinkConfig,
    queue: Arc<FrameQueue>,
    events: mpsc::UnboundedSender<WsEvent>,
}

impl Worker {
    async fn run(self) {
        let end = self.session().await;
        let stats = self.queue.end();
        if let Some(detail) = &end.1 {
            tracing::info!(uri = %crate::redact::uri(&self.target.uri.to_string()), reason = %end.0, "WebSocket tap ended: {}", crate::redact::text(detail));
        }
        // The receiver may be gone with its call; the end is then only logged.
        let _ = self.events.send(WsEvent::Ended(WsEnd {
            reason: end.0,
            stats,
            detail: end.1,
        }));
    }

    async fn session(&self) -> (Reason, Option<String>) {
        let deadline = Instant::now() + self.config.connect_timeout;
        let first = tokio::select! {
            r = timeout_at(deadline, self.resolve_and_connect()) => r,
            (reason, _) = self.queue.stopped() => return (reason, None),
        };
        let (addr, mut ws) = match first {
            Ok(Ok(ok)) => ok,
            Ok(Err(ConnectError::Denied(d))) => return (Reason::DestinationDenied, Some(d)),
            Ok(Err(ConnectError::Failed(d))) => return (Reason::ConnectFailed, Some(d)),
            Err(_) => return (Reason::ConnectFailed, Some("connect timeout".into())),
        };
        let _ = self.events.send(WsEvent::Open);
        let mut start_owed = match self.target.announce {
            Some(_) => StartOwed::First,
            None => StartOwed::Nothing,
        };
        loop {
            match self.stream(&mut ws, &mut start_owed).await {
                StreamEnd::Stopped(reason, at) => {
                    self.close(ws, reason, at).await;
                    return (reason, None);
                }
                StreamEnd::Lost(detail) => {
                    tracing::info!(uri = %crate::redact::uri(&self.target.uri.to_string()), "WebSocket tap lost: {}", crate::redact::text(&detail));
                    match self.reconnect(addr).await {
                        Ok((next, attempt)) => {
                            ws = next;
                            self.queue.clear();
                            let _ = self.events.send(WsEvent::Reopened { attempt });
                            if self.target.announce.is_some() {
                                start_owed = StartOwed::Resume;
                            }
                        }
                        Err(Some(reason)) => return (reason, None),
                        Err(None) => return (Reason::ConnectionLost, Some(detail)),
                    }
                }
            }
        }
    }

    async fn resolve_and_connect(&self) -> Result<(std::net::SocketAddr, Ws), ConnectError> {
        let uri = &self.target.uri;
        let addr = self
            .policy
            .resolve(&uri.host, uri.port)
            .await
            .map_err(|e| match e {
                ResolveError::Denied(d) => ConnectError::Denied(d.to_string()),
                other => ConnectError::Failed(other.to_string()),
            })?;
        let ws = self.connect(addr).await?;
        Ok((addr, ws))
    }

    async fn connect(&self, addr: std::net::SocketAddr) -> Result<Ws, ConnectError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            ConnectError::Failed(format!("{what} {addr}: {e}"))
        };
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|e| failed("a socket for", &e))?;
        if let Some(bytes) = self.config.send_buffer {
            socket
                .set_send_buffer_size(bytes)
                .map_err(|e| failed("the send buffer for", &e))?;
        }
        let tcp = socket
            .connect(addr)
            .await
            .map_err(|e| failed("TCP connect to", &e))?;
        // Audio messages are small and due now.
        let _ = tcp.set_nodelay(true);
        let mut request = self
            .target
            .uri
            .request_uri()
            .into_client_request()
            .map_err(|e| failed("request for", &e))?;
        let headers = request.headers_mut();
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
        for (name, value) in &self.target.headers.0 {
            headers.insert(name.clone(), value.clone());
        }
        let connector = match self.target.uri.scheme {
            Scheme::Wss => Connector::Rustls(Arc::clone(&self.tls)),
            Scheme::Ws | Scheme::Rtp => Connector::Plain,
        };
        let config = super::ws_inbound::read_config();
        let (ws, _response) = tokio_tungstenite::client_async_tls_with_config(
            request,
            tcp,
            Some(config),
            Some(connector),
        )
        .await
        .map_err(|e| failed("WebSocket handshake with", &e))?;
        Ok(ws)
    }

    /// Streams until a stop or a loss.
    async fn stream(&self, ws: &mut Ws, start_owed: &mut StartOwed) -> StreamEnd {
        if let (StartOwed::First, Some(announce)) = (*start_owed, &self.target.announce) {
            // The first `start` goes out at once, before any audio.
            let text = start_message(announce, self.target.ptime, None);
            if let Err(e) = ws.send(Message::text(text)).await {
                return StreamEnd::Lost(e.to_string());
            }
            *start_owed = StartOwed::Nothing;
        }
        loop {
            tokio::select! {
                biased;
                msg = ws.next() => {
                    if let Inbound::Lost(reason) = super::ws_inbound::classify(msg) {
                        return StreamEnd::Lost(reason);
                    }
                }
                next = self.queue.next() => match next {
                    Next::Frame(frame) => {
                        if let Some(end) = self.send_frame(ws, frame, start_owed).await {
                            return end;
                        }
                    }
                    Next::Stopped(reason) => {
                        let (_, at) = self.queue.stopped().await;
                        return StreamEnd::Stopped(reason, at);
                    }
                },
            }
        }
    }

    async fn send_frame(
        &self,
        ws: &mut Ws,
        frame: QueuedFrame,
        start_owed: &mut StartOwed,
    ) -> Option<StreamEnd> {
        if let (StartOwed::Resume, Some(announce)) = (*start_owed, &self.target.announce) {
            let resumed_at = self.timeline_ms(frame.timestamp);
            let text = start_message(announce, self.target.ptime, Some(resumed_at));
            if let Err(e) = ws.send(Message::text(text)).await {
                self.queue.mark_dropped();
                return Some(StreamEnd::Lost(e.to_string()));
            }
            *start_owed = StartOwed::Nothing;
        }
        let len = frame.payload.len();
        let drain_deadline = async {
            let (reason, at) = self.queue.stopped().await;
            sleep_until(at + self.config.close_wait).await;
            (reason, at)
        };
        tokio::select! {
            biased;
            r = ws.send(Message::Binary(frame.payload)) => match r {
                Ok(()) => {
                    self.queue.mark_sent(len);
                    None
                }
                Err(e) => {
                    self.queue.mark_dropped();
                    Some(StreamEnd::Lost(e.to_string()))
                }
            },
            // A receiver that stopped reading holds the send; after a stop it may not hold
            // it past the drain deadline.
            (reason, at) = drain_deadline => {
                self.queue.mark_dropped();
                Some(StreamEnd::Stopped(reason, at))
            }
        }
    }

    fn timeline_ms(&self, timestamp: RtpTime) -> u64 {
        let origin = self.queue.first_timestamp().unwrap_or(timestamp);
        u64::from(timestamp.0.wrapping_sub(origin.0)) / 8
    }

    /// The end after a stop: what is left of the queue until the drain deadline, the `stop`
    /// message, Close 1000, and the server's Close.
    async fn close(&self, mut ws: Ws, reason: Reason, at: Instant) {
        let drain_deadline = at + self.config.close_wait;
        let mut in_flight = false;
        let drained = timeout_at(drain_deadline, async {
            while let Next::Frame(frame) = self.queue.next().await {
                in_flight = true;
                let len = frame.payload.len();
                let sent = ws.send(Message::Binary(frame.payload)).await;
                in_flight = false;
                match sent {
                    Ok(()) => self.queue.mark_sent(len),
                    Err(_) => {
                        self.queue.mark_dropped();
                        return false;
                    }
                }
            }
            true
        })
        .await;
        if in_flight {
            // The frame of the send the deadline cancelled.
            self.queue.mark_dropped();
        }
        if drained != Ok(true) {
            return;
        }
        let close_deadline = Instant::now() + self.config.close_wait;
        let _ = timeout_at(close_deadline, async {
            if self.target.announce.is_some() {
                let text = stop_message(reason, self.queue.stats());
                ws.send(Message::text(text)).await?;
            }
            ws.close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }))
            .await?;
            // Read until the server's Close (tungstenite ends the stream after it).
            while let Some(msg) = ws.next().await {
                msg?;
            }
            Ok::<(), tokio_tungstenite::tungstenite::Error>(())
        })
        .await;
    }

    /// Reconnects after a loss by the `reconnect` rule; `Err(Some(reason))` when stopped
    /// meanwhile, `Err(None)` when out of attempts or time.
    async fn reconnect(&self, addr: std::net::SocketAddr) -> Result<(Ws, u32), Option<Reason>> {
        let Some(rule) = self.target.reconnect else {
            return Err(None);
        };
        let lost_at = Instant::now();
        let gap_deadline = lost_at + rule.max_gap;
        for attempt in 1..=rule.attempts {
            let backoff = BACKOFF_MS[(attempt as usize - 1).min(BACKOFF_MS.len() - 1)];
            let at = Instant::now() + Duration::from_millis(backoff);
            if at >= gap_deadline {
                break;
            }
            let deadline = (at + self.config.connect_timeout).min(gap_deadline);
            let result = tokio::select! {
                r = async {
                    sleep_until(at).await;
                    timeout_at(deadline, self.connect(addr)).await
                } => r,
                (reason, _) = self.queue.stopped() => return Err(Some(reason)),
            };
            match result {
                Ok(Ok(ws)) => return Ok((ws, attempt)),
                Ok(Err(e)) => tracing::debug!(attempt, "WebSocket reconnect failed: {e:?}"),
                Err(_) => tracing::debug!(attempt, "WebSocket reconnect timed out"),
            }
        }
        Err(None)
    }
}

async fn timeout_at<F: std::future::Future>(
    deadline: Instant,
    f: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::time::timeout_at(deadline, f).await
}

/// The `start` message of `announce` (`tap.md` §7), keys in the contract's order.
pub fn start_message(announce: &Announce, ptime: Ptime, resumed_at_ms: Option<u64>) -> String {
    #[derive(Serialize)]
    struct Start<'a> {
        event: &'static str,
        version: u32,
        call_id: &'a str,
        control_id: &'a str,
        direction: &'static str,
        codec: &'static str,
        rate: u32,
        channels: u8,
        ptime: u32,
        params: Params<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resumed_at: Option<u64>,
    }
    let start = Start {
        event: "start",
        version: 1,
        call_id: &announce.call_id,
        control_id: &announce.control_id,
        direction: announce.direction.name(),
        codec: codec_name(announce.codec),
        rate: 8000,
        channels: announce.channels,
        ptime: ptime.ms(),
        params: Params(&announce.params),
        resumed_at: resumed_at_ms,
    };
    serde_json::to_string(&start).unwrap_or_default()
}

/// The `stop` message of `announce` (`tap.md` §7).
pub fn stop_message(reason: Reason, stats: SinkStats) -> String {
    #[derive(Serialize)]
    struct Stop {
        event: &'static str,
        reason: Reason,
        stats: SinkStats,
    }
    serde_json::to_string(&Stop {
        event: "stop",
        reason,
        stats,
    })
    .unwrap_or_default()
}

/// `PCMU` or `PCMA`.
pub const fn codec_name(law: Law) -> &'static str {
    match law {
        Law::Ulaw => "PCMU",
        Law::Alaw => "PCMA",
    }
}

/// String pairs as a JSON object, in their order.
struct Params<'a>(&'a [(String, String)]);

impl Serialize for Params<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announce() -> Announce {
        Announce {
            call_id: "c1".into(),
            control_id: "t1".into(),
            direction: Direction::Both,
            codec: Law::Alaw,
            channels: 1,
            params: vec![("z".into(), "1".into()), ("a".into(), "x\"y".into())],
        }
    }

    #[test]
    fn start_message_is_exact() {
        assert_eq!(
            start_message(&announce(), Ptime::DEFAULT, None),
            r#"{"event":"start","version":1,"call_id":"c1","control_id":"t1","direction":"both","codec":"PCMA","rate":8000,"channels":1,"ptime":20,"params":{"z":"1","a":"x\"y"}}"#
        );
        assert!(
            start_message(&announce(), Ptime::DEFAULT, Some(1240))
                .ends_with(r#""params":{"z":"1","a":"x\"y"},"resumed_at":1240}"#)
        );
    }

    #[test]
    fn stop_message_is_exact() {
        let stats = SinkStats {
            frames_sent: 10,
            frames_dropped: 2,
            bytes_sent: 1600,
        };
        assert_eq!(
            stop_message(Reason::CallEnded, stats),
            r#"{"event":"stop","reason":"call_ended","stats":{"frames_sent":10,"frames_dropped":2,"bytes_sent":1600}}"#
        );
    }

    #[test]
    fn handshake_headers_are_limited() {
        let h = |n: usize, len: usize| -> Vec<(String, String)> {
            (0..n)
                .map(|i| (format!("x-h{i}"), "v".repeat(len)))
                .collect()
        };
        assert!(HandshakeHeaders::new(&h(16, 10), Some("tok")).is_ok());
        assert_eq!(
            HandshakeHeaders::new(&h(17, 1), None),
            Err(HeaderError::TooMany { count: 17 })
        );
        assert!(matches!(
            HandshakeHeaders::new(&h(2, 300), None),
            Err(HeaderError::TooLong { .. })
        ));
        for reserved in ["Host", "sec-websocket-protocol", "Upgrade", "User-Agent"] {
            assert!(matches!(
                HandshakeHeaders::new(&[(reserved.into(), "x".into())], None),
                Err(HeaderError::Reserved { .. })
            ));
        }
        assert!(matches!(
            HandshakeHeaders::new(&[("bad name".into(), "x".into())], None),
            Err(HeaderError::Invalid { .. })
        ));
        assert!(matches!(
            HandshakeHeaders::new(&[("x-a".into(), "line\nbreak".into())], None),
            Err(HeaderError::Invalid { .. })
        ));
        let with_bearer =
            HandshakeHeaders::new(&[("Authorization".into(), "Basic x".into())], Some("t"))
                .expect("valid");
        assert_eq!(with_bearer.0.len(), 1);
        assert_eq!(with_bearer.0[0].1, "Bearer t");
    }
}
