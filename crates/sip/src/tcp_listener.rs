//! The TCP side: our own accept loop, and the per-message rate limit for stream transports.
//!
//! rsipstack's TCP listener binds inside its serve task, so a port-0 listener could never tell
//! its port, and it offers no per-connection hook. earshot accepts connections itself, spends
//! one rate-limit token per connection attempt, and hands each stream to the stack as a
//! connection. Messages on a stream are parsed by the stack's own framing; the per-message
//! limit is then applied by a transport-event inspector before the transaction layer. A
//! stream whose framing breaks is closed by the stack (not counted as malformed).

use crate::rate_limit::RateLimiter;
use crate::stats::Counters;
use rsipstack::platform::CancellationToken;
use rsipstack::transaction::endpoint::{EndpointInnerRef, TransportEventInspector};
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportEvent};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// Accepts TCP connections until `cancel` fires and registers them with the stack.
pub(crate) async fn serve_tcp(
    listener: TcpListener,
    local: SipAddr,
    stack: EndpointInnerRef,
    limiter: Arc<RateLimiter>,
    counters: Arc<Counters>,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of descriptors and the like: back off briefly instead of spinning.
                tracing::warn!(%err, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if !limiter.allow(peer.ip(), Instant::now()) {
            Counters::bump(&counters.rate_limited);
            continue;
        }
        match TcpConnection::from_stream(stream, local.clone(), Some(cancel.child_token())) {
            Ok(connection) => stack
                .transport_layer
                .add_connection(SipConnection::Tcp(connection)),
            Err(err) => tracing::debug!(%peer, %err, "could not adopt a TCP connection"),
        }
    }
}

/// Applies the rate limit to messages that arrived on stream transports (UDP is limited in the
/// socket itself).
pub(crate) struct StreamGuard {
    pub(crate) limiter: Arc<RateLimiter>,
    pub(crate) counters: Arc<Counters>,
}

#[async_trait::async_trait]
impl TransportEventInspector for StreamGuard {
    async fn handle(&self, event: TransportEvent) -> Option<TransportEvent> {
        if let TransportEvent::Incoming(_, SipConnection::Tcp(_), from) = &event
            && let Ok(source) = from.get_socketaddr()
            && !self.limiter.allow(source.ip(), Instant::now())
        {
            Counters::bump(&self.counters.rate_limited);
            return None;
        }
        Some(event)
    }
}
