//! The UDP socket handed to the SIP stack: rate limit and screening sit inside `recv_from`.
//!
//! rsipstack reads UDP through its `platform::net::UdpSocket` trait, so wrapping the tokio
//! socket is enough to interpose: a datagram refused here never reaches the stack's parser or
//! its unbounded channels. The stack keeps doing everything else (Via `received`/`rport`,
//! keepalives, transactions).

use crate::rate_limit::RateLimiter;
use crate::screening::{Verdict, screen};
use crate::stats::Counters;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// A tokio UDP socket that only yields datagrams worth parsing.
pub(crate) struct GuardedSocket {
    pub(crate) socket: tokio::net::UdpSocket,
    pub(crate) limiter: Arc<RateLimiter>,
    pub(crate) counters: Arc<Counters>,
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for GuardedSocket {
    async fn recv_from(&self, buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        loop {
            let (len, source) = self.socket.recv_from(buf).await?;
            if !self.limiter.allow(source.ip(), Instant::now()) {
                Counters::bump(&self.counters.rate_limited);
                continue;
            }
            match screen(&buf[..len]) {
                Verdict::Pass => return Ok((len, source)),
                Verdict::Drop => {
                    Counters::bump(&self.counters.malformed);
                    tracing::debug!(%source, len, "dropped a malformed datagram");
                }
                Verdict::Reply {
                    response,
                    malformed,
                } => {
                    if malformed {
                        Counters::bump(&self.counters.malformed);
                    } else {
                        Counters::bump(&self.counters.unknown_method);
                    }
                    tracing::debug!(%source, len, "answered a request the stack cannot take");
                    if let Err(err) = self.socket.send_to(&response, source).await {
                        tracing::debug!(%source, %err, "could not answer a malformed request");
                    }
                }
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        Ok(self.socket.send_to(buf, addr).await?)
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
}
