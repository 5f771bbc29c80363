//! The WebSocket tap receiver: accepts the node's tap connections, times every binary
//! message on arrival (the wall clock, in user space: unlike the RTP sink there is no kernel
//! timestamp, so the tool's own scheduling is in these figures), matches it to its source
//! packet by tag, and reads the tap's `stop` announcement for the node's own count of
//! dropped frames.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::BenchError;
use crate::media::{PTIME_NS, Shared, TapTally};
use crate::tag;
use crate::udp;

/// One WebSocket tap as received.
#[derive(Default)]
pub(crate) struct WsTap {
    pub(crate) received: u64,
    pub(crate) silent: u64,
    /// (newest source packet, latency ns) per frame in the window: a histogram per tap would
    /// cost megabytes for thousands of taps.
    pub(crate) latency: Vec<(tag::Tag, i64)>,
    pub(crate) offsets: Vec<i64>,
    /// From the node's `stop` message.
    pub(crate) node_dropped: Option<u64>,
    pub(crate) node_sent: Option<u64>,
}

/// Listens on `port` and reports each tap when its connection ends.
pub(crate) async fn listen(
    port: u16,
    shared: Arc<Shared>,
) -> Result<mpsc::UnboundedReceiver<WsTap>, BenchError> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await
        .map_err(|e| BenchError::Setup(format!("WebSocket sink on port {port}: {e}")))?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let tx = tx.clone();
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let mut tap = WsTap::default();
                let mut index: i64 = 0;
                while let Some(Ok(message)) = ws.next().await {
                    match message {
                        Message::Binary(frame) => {
                            let ns = udp::realtime_ns();
                            if shared.in_window(ns) {
                                tap.received += 1;
                                tap.offsets.push(ns - index * PTIME_NS);
                                let newest = tag::newest(&frame);
                                match newest.and_then(|t| Some((t, shared.sent_at(t)?))) {
                                    Some((t, sent)) => tap.latency.push((t, ns - sent)),
                                    None => tap.silent += 1,
                                }
                            }
                            index += 1;
                        }
                        Message::Text(text) => {
                            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                                && v["event"] == "stop"
                            {
                                tap.node_dropped = v["stats"]["frames_dropped"].as_u64();
                                tap.node_sent = v["stats"]["frames_sent"].as_u64();
                            }
                        }
                        Message::Close(_) => break,
                        _ => {}
                    }
                }
                let _ = tx.send(tap);
            });
        }
    });
    Ok(rx)
}

/// Sums WebSocket taps into one tally; returns it with the node's dropped and sent frames
/// (over the taps' whole lives) and how many taps reported them.
pub(crate) fn tally(taps: &[WsTap]) -> (TapTally, u64, u64, usize) {
    let mut t = TapTally::default();
    let (mut dropped, mut sent, mut reported) = (0, 0, 0);
    for tap in taps {
        t.received += tap.received;
        t.silent += tap.silent;
        for &(newest, ns) in &tap.latency {
            t.record_latency(newest, ns);
        }
        t.add_pacing(&tap.offsets);
        if let (Some(d), Some(s)) = (tap.node_dropped, tap.node_sent) {
            dropped += d;
            sent += s;
            reported += 1;
        }
    }
    (t, dropped, sent, reported)
}
