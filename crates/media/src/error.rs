//! [`MediaError`]: what can go wrong in the media crate. A peer's datagrams never produce one:
//! they are counted and dropped.

use std::io;
use std::net::{IpAddr, SocketAddr};

/// Why a port could not be allocated or a socket failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The configured range holds no even port.
    #[error("port range {first}..={last} holds no even port")]
    EmptyPortRange {
        /// First port of the range.
        first: u16,
        /// Last port of the range.
        last: u16,
    },
    /// Every even port of the range is leased or could not be bound.
    #[error("no free RTP port on {ip} in {first}..={last} ({tried} tried)")]
    PortsExhausted {
        /// The IP the pool binds on.
        ip: IpAddr,
        /// First port of the range.
        first: u16,
        /// Last port of the range.
        last: u16,
        /// Ports tried before giving up.
        tried: usize,
    },
    /// Binding failed for a reason another port would not fix (address not on this host).
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address tried.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The socket could not be handed to the async runtime.
    #[error("cannot register the socket of {local} with the runtime: {source}")]
    Register {
        /// The socket's address.
        local: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// Receiving failed with an error that is not a peer's ICMP message.
    #[error("receiving on {local} failed: {source}")]
    Recv {
        /// The socket's address.
        local: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
}
