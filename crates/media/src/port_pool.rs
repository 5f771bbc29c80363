//! [`PortPool`]: one UDP port per leg, from a configured range, on a configured IP.
//!
//! Only even ports are handed out (RFC 3550 §11: RTP on an even port, RTCP on the next odd
//! one). The pool binds the RTP port only: RTCP is neither sent nor received on port+1, and
//! RTCP that a peer multiplexes onto the RTP port (RFC 5761) is counted and ignored by the leg.
//!
//! Ports are handed out round-robin from where the last allocation stopped, so a port freed by
//! a call that just ended is reused as late as possible and stray packets of the old call do
//! not land in a new one. A port that cannot be bound (taken by another process) is skipped.
//! A [`PortLease`] returns its port to the pool when dropped. The pool's lock is taken once per
//! leg set-up and tear-down, never per packet.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::MediaError;

/// Where legs bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortPoolConfig {
    /// The local IP every leg binds on.
    pub ip: IpAddr,
    /// The first port of the range (rounded up to even).
    pub first: u16,
    /// The last port of the range.
    pub last: u16,
}

impl Default for PortPoolConfig {
    /// 127.0.0.1, ports 16384..=32767.
    fn default() -> Self {
        PortPoolConfig {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            first: 16384,
            last: 32767,
        }
    }
}

/// A shared pool of RTP ports; clones share the same ports.
#[derive(Debug, Clone)]
pub struct PortPool {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: PortPoolConfig,
    /// The first even port of the range; slot `i` is port `base + 2·i`.
    base: u16,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    leased: Box<[bool]>,
    /// The slot the next search starts from.
    cursor: usize,
    count: usize,
}

/// One allocated port; it returns to its pool when dropped.
#[derive(Debug)]
pub struct PortLease {
    pool: Arc<Shared>,
    port: u16,
}

impl PortLease {
    /// The leased port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let slot = usize::from((self.port - self.pool.base) / 2);
        let mut state = self.pool.lock();
        if let Some(leased) = state.leased.get_mut(slot)
            && *leased
        {
            *leased = false;
            state.count -= 1;
        }
    }
}

impl PortPool {
    /// A pool over the even ports of `config`'s range.
    pub fn new(config: PortPoolConfig) -> Result<PortPool, MediaError> {
        let even = u32::from(config.first) + u32::from(config.first % 2);
        let base = match u16::try_from(even) {
            Ok(base) if base <= config.last => base,
            _ => {
                return Err(MediaError::EmptyPortRange {
                    first: config.first,
                    last: config.last,
                });
            }
        };
        let slots = usize::from((config.last - base) / 2) + 1;
        Ok(PortPool {
            shared: Arc::new(Shared {
                config,
                base,
                state: Mutex::new(State {
                    leased: vec![false; slots].into_boxed_slice(),
                    cursor: 0,
                    count: 0,
                }),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> PortPoolConfig {
        self.shared.config
    }

    /// How many ports the range holds.
    pub fn capacity(&self) -> usize {
        self.shared.lock().leased.len()
    }

    /// How many ports are leased now.
    pub fn leased(&self) -> usize {
        self.shared.lock().count
    }

    /// Binds a UDP socket on the next free even port, skipping ports another process holds.
    /// The socket is blocking, as `std` makes it; the async leg switches it.
    pub fn bind(&self) -> Result<(UdpSocket, PortLease), MediaError> {
        let config = self.shared.config;
        let mut state = self.shared.lock();
        let slots = state.leased.len();
        let mut tried = 0;
        for step in 0..slots {
            let slot = (state.cursor + step) % slots;
            if state.leased[slot] {
                continue;
            }
            tried += 1;
            let port = self.shared.base + 2 * slot as u16;
            let addr = SocketAddr::new(config.ip, port);
            match UdpSocket::bind(addr) {
                Ok(socket) => {
                    state.leased[slot] = true;
                    state.count += 1;
                    state.cursor = (slot + 1) % slots;
                    drop(state);
                    return Ok((
                        socket,
                        PortLease {
                            pool: Arc::clone(&self.shared),
                            port,
                        },
                    ));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
                    ) =>
                {
                    tracing::debug!(%addr, error = %e, "RTP port taken, trying the next");
                }
                Err(source) => return Err(MediaError::Bind { addr, source }),
            }
        }
        Err(MediaError::PortsExhausted {
            ip: config.ip,
            first: config.first,
            last: config.last,
            tried,
        })
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a plain bitmap, consistent after every statement: a panic elsewhere
        // while holding the lock cannot leave it half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(first: u16, last: u16) -> PortPool {
        PortPool::new(PortPoolConfig {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            first,
            last,
        })
        .expect("non-empty range")
    }

    /// A port range no other test of this crate uses, with every port free now.
    fn free_range(len: u16) -> u16 {
        'search: for start in (41000u16..60000).step_by(usize::from(len) * 2 + 2) {
            let mut held = Vec::new();
            for p in (start..start + 2 * len).step_by(2) {
                match UdpSocket::bind((Ipv4Addr::LOCALHOST, p)) {
                    Ok(s) => held.push(s),
                    Err(_) => continue 'search,
                }
            }
            return start;
        }
        panic!("no free port range on loopback");
    }

    #[test]
    fn only_even_ports_and_an_empty_range_is_an_error() {
        let p = pool(16383, 16390);
        assert_eq!(p.capacity(), 4); // 16384, 16386, 16388, 16390
        assert!(matches!(
            PortPool::new(PortPoolConfig {
                first: 16385,
                last: 16385,
                ..PortPoolConfig::default()
            }),
            Err(MediaError::EmptyPortRange { .. })
        ));
        assert_eq!(pool(u16::MAX - 1, u16::MAX).capacity(), 1);
    }

    #[test]
    fn ports_are_even_round_robin_and_return_when_dropped() {
        let start = free_range(3);
        let p = pool(start, start + 5);
        let (_a, la) = p.bind().expect("free");
        let (_b, lb) = p.bind().expect("free");
        assert_eq!((la.port(), lb.port()), (start, start + 2));
        assert_eq!(p.leased(), 2);
        drop((_a, la));
        assert_eq!(p.leased(), 1);
        // Round-robin: the freed port comes back only after the others.
        let (_c, lc) = p.bind().expect("free");
        assert_eq!(lc.port(), start + 4);
        let (_d, ld) = p.bind().expect("the freed port");
        assert_eq!(ld.port(), start);
        assert!(matches!(
            p.bind(),
            Err(MediaError::PortsExhausted { tried: 0, .. })
        ));
    }

    #[test]
    fn a_port_in_use_elsewhere_is_skipped() {
        let start = free_range(2);
        let _squatter = UdpSocket::bind((Ipv4Addr::LOCALHOST, start)).expect("free");
        let p = pool(start, start + 3);
        let (_s, lease) = p.bind().expect("the second port is free");
        assert_eq!(lease.port(), start + 2);
        assert!(matches!(
            p.bind(),
            Err(MediaError::PortsExhausted { tried: 1, .. })
        ));
    }
}
