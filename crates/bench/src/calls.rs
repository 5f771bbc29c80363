//! Both SIP ends of the calls: a UAC that places calls to the node and a far-end UAS that
//! answers the node's `connect`. Each end answers or offers SDP that points at one of the
//! tool's media sockets (calls share them round-robin); what the tool needs from each call
//! is the node's RTP address for that leg.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sdp::{LocalMedia, SdpSession};
use sip::{
    DialRequest, Endpoint, EndpointConfig, InboundEvent, IncomingCalls, OutboundCall,
    OutboundEvent, RateLimit,
};
use tokio::sync::{Semaphore, mpsc};

use crate::BenchError;

/// One call as the UAC sees it.
pub(crate) struct PlacedCall {
    /// The node's RTP address of the caller's leg.
    pub(crate) node_rtp: SocketAddrV4,
    /// INVITE sent → 200 received.
    pub(crate) setup: Duration,
    /// The signalling; dropping it hangs up.
    pub(crate) call: OutboundCall,
}

/// A far leg as the UAS saw it.
pub(crate) struct FarLeg {
    /// The node's RTP address of its far leg.
    pub(crate) node_rtp: SocketAddrV4,
}

fn endpoint_config(port: u16) -> EndpointConfig {
    EndpointConfig {
        udp_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        tcp_addr: None,
        user_agent: "earshot-bench".into(),
        rate_limit: RateLimit {
            per_second: 1_000_000,
            burst: 1_000_000,
        },
        incoming_capacity: 4096,
        ..EndpointConfig::default()
    }
}

fn v4(addr: SocketAddr) -> Result<SocketAddrV4, BenchError> {
    match addr {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(a) => Err(BenchError::Sip(format!("the node offered IPv6 media {a}"))),
    }
}

/// The far end: answers every call with SDP pointing at `media_ports` in turn and reports
/// each far leg on the returned channel; keeps the calls up until the node ends them.
pub(crate) async fn far_end(
    port: u16,
    media_ports: Vec<u16>,
) -> Result<
    (
        Endpoint,
        mpsc::UnboundedReceiver<Result<FarLeg, BenchError>>,
    ),
    BenchError,
> {
    let (endpoint, incoming) = Endpoint::bind(endpoint_config(port))
        .await
        .map_err(|e| BenchError::Sip(format!("far end on port {port}: {e}")))?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(answer_all(incoming, media_ports, tx));
    Ok((endpoint, rx))
}

async fn answer_all(
    mut incoming: IncomingCalls,
    media_ports: Vec<u16>,
    tx: mpsc::UnboundedSender<Result<FarLeg, BenchError>>,
) {
    let mut n = 0usize;
    while let Some(offered) = incoming.next().await {
        let port = media_ports[n % media_ports.len()];
        n += 1;
        let mut session =
            SdpSession::new(n as u64, LocalMedia::new(Ipv4Addr::LOCALHOST.into(), port));
        let Some(offer) = offered.sdp_offer.as_deref() else {
            let _ = tx.send(Err(BenchError::Sip(
                "the node's INVITE had no offer".into(),
            )));
            continue;
        };
        let answer = match session.answer_offer(offer) {
            Ok(answer) => answer,
            Err(e) => {
                let _ = tx.send(Err(BenchError::Sip(format!("the node's offer: {e}"))));
                continue;
            }
        };
        let call = offered.call;
        if let Err(e) = call.answer(Bytes::from(answer.sdp)) {
            let _ = tx.send(Err(BenchError::Sip(format!("answering the node: {e}"))));
            continue;
        }
        let _ = tx.send(v4(answer.media.remote_rtp).map(|node_rtp| FarLeg { node_rtp }));
        tokio::spawn(async move {
            let mut call = call;
            while let Some(event) = call.next_event().await {
                if let InboundEvent::Terminated { .. } = event {
                    break;
                }
            }
        });
    }
}

/// The caller side.
pub(crate) struct Caller {
    endpoint: Arc<Endpoint>,
    node_sip: SocketAddr,
    media_ports: Vec<u16>,
    placed: usize,
}

impl Caller {
    pub(crate) async fn bind(
        port: u16,
        node_sip: SocketAddr,
        media_ports: Vec<u16>,
    ) -> Result<Caller, BenchError> {
        let (endpoint, _incoming) = Endpoint::bind(endpoint_config(port))
            .await
            .map_err(|e| BenchError::Sip(format!("caller on port {port}: {e}")))?;
        Ok(Caller {
            endpoint: Arc::new(endpoint),
            node_sip,
            media_ports,
            placed: 0,
        })
    }

    /// Places `n` calls, `concurrency` at a time, and returns them in the order they were
    /// placed (call `i` uses media socket `i mod shards`), with how long all took and how
    /// many failed (a failure is reported, not retried).
    pub(crate) async fn place(
        &mut self,
        n: usize,
        concurrency: usize,
        ring_timeout: Duration,
    ) -> (Vec<Option<PlacedCall>>, Duration, Vec<String>) {
        let limit = Arc::new(Semaphore::new(concurrency.max(1)));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(n);
        for _ in 0..n {
            let index = self.placed;
            self.placed += 1;
            let port = self.media_ports[index % self.media_ports.len()];
            let endpoint = Arc::clone(&self.endpoint);
            let limit = Arc::clone(&limit);
            let to = format!("sip:bench@{}", self.node_sip);
            let from = format!("sip:caller{index}@{}", self.endpoint.udp_addr());
            tasks.push(tokio::spawn(async move {
                let _permit = limit.acquire_owned().await;
                place_one(&endpoint, to, from, index, port, ring_timeout).await
            }));
        }
        let mut calls = Vec::with_capacity(n);
        let mut failures = Vec::new();
        for task in tasks {
            match task.await {
                Ok(Ok(call)) => calls.push(Some(call)),
                Ok(Err(e)) => {
                    failures.push(e.to_string());
                    calls.push(None);
                }
                Err(e) => {
                    failures.push(format!("dial task: {e}"));
                    calls.push(None);
                }
            }
        }
        (calls, started.elapsed(), failures)
    }
}

async fn place_one(
    endpoint: &Endpoint,
    to: String,
    from: String,
    index: usize,
    media_port: u16,
    ring_timeout: Duration,
) -> Result<PlacedCall, BenchError> {
    let mut session = SdpSession::new(
        index as u64 + 1,
        LocalMedia::new(Ipv4Addr::LOCALHOST.into(), media_port),
    );
    let offer = session
        .create_offer()
        .map_err(|e| BenchError::Sip(format!("our offer: {e}")))?;
    let started = Instant::now();
    let mut call = endpoint
        .dial(DialRequest {
            to_uri: to,
            from_uri: from,
            sdp_offer: Some(Bytes::from(offer)),
            headers: Vec::new(),
            credentials: None,
            ring_timeout,
        })
        .await
        .map_err(|e| BenchError::Sip(format!("dial: {e}")))?;
    loop {
        match call.next_event().await {
            Some(OutboundEvent::Answered { sdp: Some(answer) }) => {
                let media = session
                    .handle_answer(&answer)
                    .map_err(|e| BenchError::Sip(format!("the node's answer: {e}")))?;
                return Ok(PlacedCall {
                    node_rtp: v4(media.remote_rtp)?,
                    setup: started.elapsed(),
                    call,
                });
            }
            Some(OutboundEvent::Answered { sdp: None }) => {
                return Err(BenchError::Sip("the node answered without SDP".into()));
            }
            Some(OutboundEvent::Failed(failure)) => {
                return Err(BenchError::Sip(format!("call {index} failed: {failure:?}")));
            }
            Some(OutboundEvent::Provisional { .. }) => {}
            Some(OutboundEvent::ReInvite(reinvite)) => {
                let _ = reinvite.reject(488).await;
            }
            Some(OutboundEvent::Bye | OutboundEvent::Terminated { .. }) | None => {
                return Err(BenchError::Sip(format!("call {index} ended before answer")));
            }
        }
    }
}

/// Hangs up `calls`, `concurrency` at a time.
pub(crate) async fn hang_up(calls: Vec<PlacedCall>, concurrency: usize) {
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = Vec::with_capacity(calls.len());
    for placed in calls {
        let limit = Arc::clone(&limit);
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let _ = tokio::time::timeout(Duration::from_secs(5), placed.call.hangup()).await;
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}
