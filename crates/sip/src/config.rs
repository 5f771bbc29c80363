//! What an [`Endpoint`](crate::Endpoint) is bound to and how it treats peers.

use crate::rate_limit::RateLimit;
use std::net::{Ipv4Addr, SocketAddr};

/// Configuration of an [`Endpoint`](crate::Endpoint).
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The UDP listen address; port 0 picks a free port. UDP is always on: outbound calls use it.
    pub udp_addr: SocketAddr,
    /// The TCP listen address, if TCP is wanted; port 0 picks a free port.
    pub tcp_addr: Option<SocketAddr>,
    /// The `User-Agent` (and `Server`) text.
    pub user_agent: String,
    /// The per-source-IP limit applied before the SIP stack sees a message.
    pub rate_limit: RateLimit,
    /// How many offered calls may wait unanswered in [`IncomingCalls`](crate::IncomingCalls)
    /// before new INVITEs get `503 Service Unavailable`.
    pub incoming_capacity: usize,
    /// Header names (case-insensitive) copied into [`IncomingCall::headers`]; any `X-` header
    /// is copied as well.
    ///
    /// [`IncomingCall::headers`]: crate::IncomingCall::headers
    pub headers_of_interest: Vec<String>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 5060));
        EndpointConfig {
            udp_addr: loopback,
            tcp_addr: Some(loopback),
            user_agent: "earshot".to_string(),
            rate_limit: RateLimit::default(),
            incoming_capacity: 64,
            headers_of_interest: [
                "P-Asserted-Identity",
                "Remote-Party-ID",
                "Diversion",
                "History-Info",
                "Privacy",
                "Subject",
                "User-to-User",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}
