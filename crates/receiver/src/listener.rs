//! [`Receiver`]: the tokio shell around the streams: an RTP socket or a WebSocket listener,
//! live reports once a second, and a clean end.
//!
//! RTP: one UDP socket; a stream is one SSRC from one source address, and ends after
//! [`ReceiverConfig::rtp_idle`] without packets (RTP has no end marker). WebSocket: each
//! connection is a stream, ending with the connection; the server answers the handshake for
//! any path, reads the connection's query like the listener's (`codec`, `ptime`,
//! `channels`), answers pings (tungstenite does) and the client's Close. [`Receiver::stop`]
//! ends every stream: RTP packets already in the socket's buffer are still taken, WebSocket
//! connections get Close 1001 (going away).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::violation::Violation;
use crate::{Expect, ListenUri, ReceiverError, RtpStream, StreamReport, Transport, WsStream};

/// How a receiver runs.
#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    /// Where WAV files go (created if missing); `None` writes none.
    pub out_dir: Option<PathBuf>,
    /// An RTP stream without packets for this long has ended.
    pub rtp_idle: Duration,
    /// How often live reports are made.
    pub tick: Duration,
    /// Streams at once; packets of further streams are counted as stray.
    pub max_streams: usize,
    /// How long a WebSocket client may take over its handshake.
    pub handshake_timeout: Duration,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            out_dir: None,
            rtp_idle: Duration::from_secs(2),
            tick: Duration::from_secs(1),
            max_streams: 64,
            handshake_timeout: Duration::from_secs(5),
        }
    }
}

/// What a receiver reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ReceiverEvent {
    /// A stream began (its first packet, or a completed handshake).
    Started(StreamReport),
    /// Once a [`ReceiverConfig::tick`] per running stream.
    Progress(StreamReport),
    /// A stream ended: its final report.
    Ended(StreamReport),
    /// At the end, RTP: datagrams that belonged to no stream (not RTP, or past the limit).
    Stray {
        /// How many.
        datagrams: u64,
    },
}

/// A running receiver.
#[derive(Debug)]
pub struct Receiver {
    local_addr: SocketAddr,
    transport: Transport,
    events: mpsc::UnboundedReceiver<ReceiverEvent>,
    stop: watch::Sender<bool>,
}

impl Receiver {
    /// Binds `uri` (RTP or WebSocket) and starts receiving. Must run inside a tokio runtime.
    pub async fn bind(uri: &ListenUri, config: ReceiverConfig) -> Result<Receiver, ReceiverError> {
        if let Some(dir) = &config.out_dir {
            std::fs::create_dir_all(dir).map_err(|source| ReceiverError::WavWrite {
                path: dir.clone(),
                source,
            })?;
        }
        let bind = |source| ReceiverError::Bind {
            addr: uri.addr,
            source,
        };
        let (events_tx, events) = mpsc::unbounded_channel();
        let (stop, stop_rx) = watch::channel(false);
        let local_addr = match uri.transport {
            Transport::Rtp => {
                let socket = UdpSocket::bind(uri.addr).await.map_err(bind)?;
                let addr = socket.local_addr().map_err(bind)?;
                tokio::spawn(run_rtp(socket, uri.expect, config, events_tx, stop_rx));
                addr
            }
            Transport::Ws => {
                let listener = TcpListener::bind(uri.addr).await.map_err(bind)?;
                let addr = listener.local_addr().map_err(bind)?;
                tokio::spawn(run_ws(listener, uri.expect, config, events_tx, stop_rx));
                addr
            }
            Transport::Http => {
                return Err(ReceiverError::BadUri {
                    uri: format!("http://{}", uri.addr),
                    reason: "status events are received by StatusReceiver".into(),
                });
            }
        };
        Ok(Receiver {
            local_addr,
            transport: uri.transport,
            events,
            stop,
        })
    }

    /// The address it listens on (with the port the system picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// RTP or WebSocket.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The next event; `None` once the receiver has stopped and every stream has ended.
    pub async fn next_event(&mut self) -> Option<ReceiverEvent> {
        self.events.recv().await
    }

    /// Ends every stream; their `Ended` reports follow from [`Receiver::next_event`].
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn wav_path(config: &ReceiverConfig, name: &str) -> Option<PathBuf> {
    config.out_dir.as_ref().map(|d| d.join(name))
}

/// The RTP side: every stream of the socket, in one task.
struct RtpStreams {
    expect: Expect,
    config: ReceiverConfig,
    events: mpsc::UnboundedSender<ReceiverEvent>,
    streams: HashMap<(SocketAddr, u32), RtpStream>,
    /// Each source's latest SSRC.
    by_source: HashMap<SocketAddr, u32>,
    next_id: u64,
    stray: u64,
}

impl RtpStreams {
    fn handle_datagram(&mut self, now: std::time::Instant, from: SocketAddr, data: &[u8]) {
        let packet = match rtp::Packet::parse(data) {
            Ok(p) => p,
            Err(e) => {
                let stream = self
                    .by_source
                    .get(&from)
                    .and_then(|ssrc| self.streams.get_mut(&(from, *ssrc)));
                match stream {
                    Some(s) => s.handle_violation(Violation::NotRtp {
                        reason: e.to_string(),
                    }),
                    None => self.stray += 1,
                }
                return;
            }
        };
        let plain = data[0] & 0x3F == 0;
        let ssrc = packet.header.ssrc.0;
        if let Some(stream) = self.streams.get_mut(&(from, ssrc)) {
            stream.handle_packet(now, &packet, plain);
            return;
        }
        if self.streams.len() >= self.config.max_streams {
            self.stray += 1;
            return;
        }
        self.next_id += 1;
        let id = self.next_id;
        let wav = wav_path(&self.config, &format!("rtp-{id}-{ssrc:08x}.wav"));
        let mut stream = RtpStream::new(id, from, self.expect, now, &packet, plain, wav.as_deref());
        if let Some(old) = self.by_source.insert(from, ssrc)
            && self.streams.contains_key(&(from, old))
        {
            stream.handle_violation(Violation::SsrcChanged {
                from: old,
                to: ssrc,
            });
        }
        let _ = self
            .events
            .send(ReceiverEvent::Started(stream.poll_report()));
        self.streams.insert((from, ssrc), stream);
    }

    fn handle_tick(&mut self, now: std::time::Instant) {
        let mut ended: Vec<_> = self
            .streams
            .iter()
            .filter(|(_, s)| {
                now.saturating_duration_since(s.last_arrival()) >= self.config.rtp_idle
            })
            .map(|(k, _)| *k)
            .collect();
        ended.sort_by_key(|k| k.1);
        for key in ended {
            if let Some(mut s) = self.streams.remove(&key) {
                let _ = self.events.send(ReceiverEvent::Ended(s.finish()));
            }
        }
        let mut live: Vec<_> = self.streams.values_mut().collect();
        live.sort_by_key(|s| s.id());
        for s in live {
            let _ = self.events.send(ReceiverEvent::Progress(s.poll_report()));
        }
    }

    fn finish(&mut self) {
        let mut all: Vec<_> = self.streams.drain().map(|(_, s)| s).collect();
        let mut reports: Vec<_> = all.iter_mut().map(RtpStream::finish).collect();
        reports.sort_by_key(|r| r.id);
        for r in reports {
            let _ = self.events.send(ReceiverEvent::Ended(r));
        }
        if self.stray > 0 {
            let _ = self.events.send(ReceiverEvent::Stray {
                datagrams: self.stray,
            });
        }
    }
}

async fn run_rtp(
    socket: UdpSocket,
    expect: Expect,
    config: ReceiverConfig,
    events: mpsc::UnboundedSender<ReceiverEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = interval_at(Instant::now() + config.tick, config.tick);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut streams = RtpStreams {
        expect,
        config,
        events,
        streams: HashMap::new(),
        by_source: HashMap::new(),
        next_id: 0,
        stray: 0,
    };
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => streams.handle_datagram(std::time::Instant::now(), from, &buf[..n]),
                // An ICMP error for an earlier send; this socket sends nothing, so go on.
                Err(error) => tracing::debug!(%error, "RTP receive failed"),
            },
            _ = tick.tick() => streams.handle_tick(std::time::Instant::now()),
            _ = stop.changed() => break,
        }
    }
    // What already arrived belongs to the streams.
    while let Ok((n, from)) = socket.try_recv_from(&mut buf) {
        streams.handle_datagram(std::time::Instant::now(), from, &buf[..n]);
    }
    streams.finish();
}

async fn run_ws(
    listener: TcpListener,
    expect: Expect,
    config: ReceiverConfig,
    events: mpsc::UnboundedSender<ReceiverEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, from)) => {
                    if connections.len() >= config.max_streams {
                        continue;
                    }
                    next_id += 1;
                    connections.spawn(connection(
                        tcp,
                        from,
                        next_id,
                        expect,
                        config.clone(),
                        events.clone(),
                        stop.clone(),
                    ));
                }
                Err(error) => tracing::debug!(%error, "WebSocket accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// The listener's expectations, overridden by the connection's query where it names them.
fn merged(mut expect: Expect, query: &str, notes: &mut Vec<String>) -> Expect {
    for pair in query.split('&') {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if !matches!(key, "codec" | "ptime" | "channels") {
            continue;
        }
        match Expect::from_query(pair) {
            Ok(e) => {
                expect.codec = e.codec.or(expect.codec);
                expect.ptime_ms = e.ptime_ms.or(expect.ptime_ms);
                expect.channels = e.channels.or(expect.channels);
            }
            Err(e) => notes.push(format!("the connection's query is ignored: {e}")),
        }
    }
    expect
}

#[allow(
    clippy::result_large_err,
    reason = "the handshake callback's error type is tungstenite's HTTP response"
)]
async fn connection(
    tcp: TcpStream,
    from: SocketAddr,
    id: u64,
    expect: Expect,
    config: ReceiverConfig,
    events: mpsc::UnboundedSender<ReceiverEvent>,
    mut stop: watch::Receiver<bool>,
) {
    let mut path = String::from("/");
    let handshake = tokio_tungstenite::accept_hdr_async(tcp, |req: &Request, resp: Response| {
        path = req.uri().to_string();
        Ok(resp)
    });
    let mut ws = match timeout(config.handshake_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => {
            tracing::debug!(%from, %error, "WebSocket handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%from, "WebSocket handshake timed out");
            return;
        }
    };
    let mut notes = Vec::new();
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let expect = merged(expect, query, &mut notes);
    let wav = wav_path(&config, &format!("ws-{id}.wav"));
    let mut stream = WsStream::new(id, from, path.clone(), expect, wav.as_deref());
    let _ = events.send(ReceiverEvent::Started(stream.poll_report()));
    let mut tick = interval_at(Instant::now() + config.tick, config.tick);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Binary(data))) => stream.handle_binary(std::time::Instant::now(), &data),
                Some(Ok(Message::Text(text))) => stream.handle_text(text.as_str()),
                // tungstenite answers the Close; the stream ends after it.
                Some(Ok(Message::Close(frame))) => stream.handle_close(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::debug!(%from, %error, "WebSocket connection failed");
                    break;
                }
                None => break,
            },
            _ = tick.tick() => { let _ = events.send(ReceiverEvent::Progress(stream.poll_report())); }
            _ = stop.changed() => {
                let close = ws.close(Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "receiver stopping".into(),
                }));
                let _ = timeout(Duration::from_secs(1), close).await;
                break;
            }
        }
    }
    let mut report = stream.finish();
    report.notes.extend(notes);
    let _ = events.send(ReceiverEvent::Ended(report));
}
