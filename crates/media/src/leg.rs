//! [`Leg`]: the async shell of a [`LegCore`] on a tokio UDP socket.
//!
//! The leg owns its socket, its port lease and a receive buffer allocated once; it never
//! spawns, never blocks and never waits on anything but its socket. The call task that owns it
//! drives it: `select!` over [`Leg::recv`] (cancel-safe) and a sleep until
//! [`Leg::next_deadline`], then [`Leg::send_due`]. Packets in and out are handed to the caller
//! synchronously (the [`Received`] value, the `observe` callback), so the caller feeds its
//! taps in the same task, without copies or channels. Sending uses a non-blocking `send_to`: a full socket
//! buffer drops the packet (counted) instead of delaying the schedule.
//!
//! Receiving reads up to two datagrams per system call ([`crate::recv_batch`]); a short read
//! tells the reactor the socket is drained, so a packet costs one read, not a read and a
//! failing one. The socket is polled through a [`Gate`]: a turn of the call's loop for another
//! reason (the other leg's packet, a frame due) does not touch this leg's socket or the
//! reactor's lock unless the socket woke.
//!
//! Time is tokio's clock ([`Leg::now`]), so tests can pause it.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};
use std::time::Instant;

use rand_core::RngCore;
use sdp::NegotiatedMedia;
use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::gate::Gate;
use crate::recv_batch::{Read, RecvBatch};
use crate::{
    LegConfig, LegCore, LegEvent, LegStats, MediaError, PortLease, PortPool, Received, Source,
    Transmit,
};

/// One leg's socket and media logic.
#[derive(Debug)]
pub struct Leg {
    socket: UdpSocket,
    /// The same socket, for sending: a plain non-blocking `send_to` does not depend on the
    /// reactor having seen the socket writable (tokio's `try_send_to` does, and fails a fresh
    /// socket's first sends with `WouldBlock` when the reactor is busy).
    sender: std::net::UdpSocket,
    local: SocketAddr,
    core: LegCore,
    batch: RecvBatch,
    /// Polls the socket only when it woke (or the last poll got a datagram).
    gate: Gate,
    _lease: PortLease,
}

impl Leg {
    /// Binds a port from `pool` and starts a leg for `media` playing `source`; its first frame
    /// is due now. Must be called inside a tokio runtime.
    pub fn bind(
        pool: &PortPool,
        config: LegConfig,
        media: &NegotiatedMedia,
        source: Source,
        rng: &mut impl RngCore,
    ) -> Result<Leg, MediaError> {
        Leg::from_bound(pool.bind()?, pool.config().ip, config, media, source, rng)
    }

    /// Starts a leg on a port already taken from a pool with [`PortPool::bind`], at `ip`: for
    /// a call that needs its local port in the SDP answer before it has negotiated media.
    pub fn from_bound(
        (std_socket, lease): (std::net::UdpSocket, PortLease),
        ip: std::net::IpAddr,
        config: LegConfig,
        media: &NegotiatedMedia,
        source: Source,
        rng: &mut impl RngCore,
    ) -> Result<Leg, MediaError> {
        let local = SocketAddr::new(ip, lease.port());
        let register = |source| MediaError::Register { local, source };
        std_socket.set_nonblocking(true).map_err(register)?;
        let sender = std_socket.try_clone().map_err(register)?;
        let socket = UdpSocket::from_std(std_socket).map_err(register)?;
        let core = LegCore::new(config, media, source, Leg::now(), rng);
        Ok(Leg {
            socket,
            sender,
            local,
            core,
            batch: RecvBatch::new(),
            gate: Gate::new(),
            _lease: lease,
        })
    }

    /// The node's clock as the core takes it: tokio's (pausable in tests).
    pub fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }

    /// The local RTP address, for our SDP.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The media logic.
    pub fn core(&self) -> &LegCore {
        &self.core
    }

    /// The media logic, for [`LegCore::handle_relay`], [`LegCore::set_source`] and
    /// [`LegCore::handle_media`].
    pub fn core_mut(&mut self) -> &mut LegCore {
        &mut self.core
    }

    /// The counters.
    pub fn stats(&self) -> LegStats {
        self.core.stats()
    }

    /// Waits for the next datagram and hands it to the core. Cancel-safe: a datagram is
    /// either handled in the poll that receives it or left in the socket (or in the leg's
    /// batch, for the next call). ICMP errors reported on the socket (port unreachable after
    /// a send) are counted and skipped.
    pub async fn recv(&mut self) -> Result<Received<'_>, MediaError> {
        let (slot, len, from) = std::future::poll_fn(|cx| self.poll_datagram(cx)).await?;
        Ok(self
            .core
            .handle_datagram(Leg::now(), from, self.batch.bytes(slot, len)))
    }

    /// The next datagram of the batch, or of a new read once the socket is readable.
    fn poll_datagram(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(usize, usize, SocketAddr), MediaError>> {
        if let Some(next) = self.batch.take() {
            return Poll::Ready(Ok(next));
        }
        let Leg {
            socket,
            local,
            core,
            batch,
            gate,
            ..
        } = self;
        gate.poll(cx, |cx| {
            loop {
                match socket.poll_recv_ready(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(source)) => {
                        return Poll::Ready(Err(MediaError::Recv {
                            local: *local,
                            source,
                        }));
                    }
                    Poll::Ready(Ok(())) => {}
                }
                let mut drained = false;
                // `WouldBlock` from the closure clears the reactor's readiness: on a real
                // `WouldBlock`, and on a short read, after which the queue was empty (a
                // datagram arriving later is a new readiness event, which this does not clear).
                let read = socket.try_io(Interest::READABLE, || match batch.read(&*socket)? {
                    Read::Full => Ok(()),
                    Read::Drained(_) => {
                        drained = true;
                        Err(io::ErrorKind::WouldBlock.into())
                    }
                });
                match read {
                    Ok(()) => {}
                    Err(_) if drained => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                        ) =>
                    {
                        core.handle_icmp_error();
                        continue;
                    }
                    Err(source) => {
                        return Poll::Ready(Err(MediaError::Recv {
                            local: *local,
                            source,
                        }));
                    }
                }
                if let Some(next) = batch.take() {
                    return Poll::Ready(Ok(next));
                }
            }
        })
    }

    /// When [`Leg::send_due`] should run next, on tokio's clock.
    pub fn next_deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::from_std(self.core.poll_timeout())
    }

    /// Runs the core's timers and sends every packet due by `now`, calling `observe` with
    /// each one the socket took. Returns how many were sent.
    pub fn send_due(&mut self, now: Instant, mut observe: impl FnMut(&Transmit<'_>)) -> usize {
        self.core.handle_timeout(now);
        let mut sent = 0;
        while let Some(tx) = self.core.poll_transmit(now) {
            let len = tx.bytes.len();
            match self.sender.send_to(tx.bytes, tx.destination) {
                Ok(_) => {
                    observe(&tx);
                    sent += 1;
                }
                Err(error) => {
                    tracing::debug!(%error, to = %tx.destination, "RTP send failed");
                    self.core.handle_send_failure(len);
                }
            }
        }
        sent
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<LegEvent> {
        self.core.poll_event()
    }
}
