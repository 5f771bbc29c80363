//! [`RtpSink`]: the RTP stream of a tap (`tap.md` §3) on one UDP socket of its own.
//!
//! The socket is bound on the configured local address (port 0, or the first free port of a
//! range) and connected to the destination, so its local address is the concrete source of
//! every packet (`tap_rtp_src_addr`/`port`) and the kernel reports ICMP errors on later sends.
//! The tap core has already numbered every frame; the sink writes its 12-byte header and
//! payload as one datagram with a non-blocking send, never waiting.
//!
//! Errors, by rule:
//! - `WouldBlock` (the socket buffer is full) or `Interrupted`: the frame is dropped and counted.
//! - `ConnectionRefused`, `HostUnreachable`, `NetworkUnreachable` (an ICMP error for an earlier
//!   packet: nobody listens, yet): the frame is dropped and the error counted in
//!   [`RtpSink::icmp_errors`]. Not fatal unless **persistent**: when such errors keep coming
//!   for [`RtpSinkConfig::icmp_fatal_after`] (default 10 s) with no quiet spell longer than
//!   [`ICMP_QUIET`] between two of them, `send` fails and the tap finishes with `send_failed`.
//!   (Linux reports one ICMP error per send at most, so a dead receiver shows as errors on
//!   about every other packet: a streak, not consecutive failures.)
//! - Anything else (`PermissionDenied` from a firewall, a bad address, …) is fatal at once.
//!
//! Datagrams the destination sends back are read and discarded now and then, so they do not
//! sit in the socket's receive buffer.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use rtp::HEADER_LEN;
use tap::Frame;

use crate::sink::SinkStats;

/// The longest quiet spell that still continues a streak of ICMP errors.
pub const ICMP_QUIET: Duration = Duration::from_secs(2);

/// How often, in frames, the socket's receive buffer is drained.
const DRAIN_EVERY: u64 = 16;

/// Where RTP sinks bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpSinkConfig {
    /// The local address; an unspecified address lets routing choose the source (of the
    /// destination's family).
    pub local_ip: IpAddr,
    /// Local ports to take the first free one of; `None` takes an ephemeral port.
    pub ports: Option<RangeInclusive<u16>>,
    /// How long ICMP errors must persist before the sink fails.
    pub icmp_fatal_after: Duration,
}

impl Default for RtpSinkConfig {
    fn default() -> Self {
        RtpSinkConfig {
            local_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            ports: None,
            icmp_fatal_after: Duration::from_secs(10),
        }
    }
}

/// Why an RTP sink could not open, or failed.
#[derive(Debug, thiserror::Error)]
pub enum RtpSinkError {
    /// No port of the range could be bound.
    #[error("no free local port in {first}..={last}")]
    NoFreePort {
        /// The range's first port.
        first: u16,
        /// The range's last port.
        last: u16,
    },
    /// The socket could not be bound or connected.
    #[error("RTP socket to {dest}: {source}")]
    Open {
        /// The destination.
        dest: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// A fatal send error: the tap finishes with `send_failed`.
    #[error("RTP send to {dest} failed: {source}")]
    SendFailed {
        /// The destination.
        dest: SocketAddr,
        /// The OS error (the last one, for a persistent ICMP error).
        source: io::Error,
    },
}

/// One tap's RTP socket.
#[derive(Debug)]
pub struct RtpSink {
    socket: UdpSocket,
    local: SocketAddr,
    dest: SocketAddr,
    buf: Vec<u8>,
    stats: SinkStats,
    frames: u64,
    icmp_errors: u64,
    /// First and last error of the current ICMP error streak.
    streak: Option<(Instant, Instant)>,
    icmp_fatal_after: Duration,
    failed: bool,
}

impl RtpSink {
    /// Binds a socket by `config` and connects it to `dest` (already resolved and allowed).
    pub fn open(config: &RtpSinkConfig, dest: SocketAddr) -> Result<RtpSink, RtpSinkError> {
        let open_err = |source| RtpSinkError::Open { dest, source };
        let local_ip = match (config.local_ip, dest.ip()) {
            (ip, IpAddr::V4(_)) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (ip, IpAddr::V6(_)) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            (ip, _) => ip,
        };
        let socket = match &config.ports {
            None => UdpSocket::bind((local_ip, 0)).map_err(open_err)?,
            Some(range) => bind_in_range(local_ip, range.clone(), dest)?,
        };
        socket.connect(dest).map_err(open_err)?;
        socket.set_nonblocking(true).map_err(open_err)?;
        let local = socket.local_addr().map_err(open_err)?;
        Ok(RtpSink {
            socket,
            local,
            dest,
            // Sized by the first frame (a tap's frames are all one size).
            buf: Vec::new(),
            stats: SinkStats::default(),
            frames: 0,
            icmp_errors: 0,
            streak: None,
            icmp_fatal_after: config.icmp_fatal_after,
            failed: false,
        })
    }

    /// The local address packets leave from (`tap_rtp_src_addr`, `tap_rtp_src_port`).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Where packets go.
    pub fn destination(&self) -> SocketAddr {
        self.dest
    }

    /// Sends one frame as an RTP packet, at once; `frame.due` is the sink's clock. A frame
    /// that cannot go is counted as dropped; an error is returned only when fatal, after which
    /// every frame is dropped.
    pub fn send(&mut self, frame: &Frame<'_>) -> Result<(), RtpSinkError> {
        self.frames += 1;
        if self.failed {
            self.stats.frames_dropped += 1;
            return Ok(());
        }
        if self.frames.is_multiple_of(DRAIN_EVERY) {
            self.drain_incoming(frame.due);
        }
        self.buf.resize(HEADER_LEN + frame.payload.len(), 0);
        let len = match frame.write_rtp(&mut self.buf) {
            Ok(len) => len,
            Err(e) => {
                // The tap core writes ptime-sized payloads into a buffer sized for them.
                debug_assert!(false, "RTP frame does not fit its buffer: {e}");
                self.stats.frames_dropped += 1;
                return Ok(());
            }
        };
        match self.socket.send(&self.buf[..len]) {
            Ok(_) => {
                self.stats.frames_sent += 1;
                self.stats.bytes_sent += frame.payload.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.stats.frames_dropped += 1;
                self.handle_error(e, frame.due)
            }
        }
    }

    fn handle_error(&mut self, e: io::Error, now: Instant) -> Result<(), RtpSinkError> {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(()),
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable => {
                let first = self.extend_streak(now);
                if now.saturating_duration_since(first) >= self.icmp_fatal_after {
                    self.fail(e)
                } else {
                    Ok(())
                }
            }
            _ => self.fail(e),
        }
    }

    /// Counts one ICMP error at `now`; returns when its streak began.
    fn extend_streak(&mut self, now: Instant) -> Instant {
        self.icmp_errors += 1;
        let first = match self.streak {
            Some((first, last)) if now.saturating_duration_since(last) <= ICMP_QUIET => first,
            _ => now,
        };
        self.streak = Some((first, now));
        first
    }

    fn fail(&mut self, source: io::Error) -> Result<(), RtpSinkError> {
        self.failed = true;
        Err(RtpSinkError::SendFailed {
            dest: self.dest,
            source,
        })
    }

    fn drain_incoming(&mut self, now: Instant) {
        let mut scratch = [0u8; 2048];
        for _ in 0..64 {
            match self.socket.recv(&mut scratch) {
                Ok(_) => {}
                // A refusal seen here is the same ICMP report a send would see: it continues
                // the streak, whose persistence the next send judges.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.extend_streak(now);
                }
                Err(_) => break,
            }
        }
    }

    /// Frames sent and dropped, payload bytes sent.
    pub fn stats(&self) -> SinkStats {
        self.stats
    }

    /// ICMP errors reported (each cost one frame, or was read while draining).
    pub fn icmp_errors(&self) -> u64 {
        self.icmp_errors
    }

    /// Whether a fatal error was returned.
    pub fn is_failed(&self) -> bool {
        self.failed
    }
}

fn bind_in_range(
    ip: IpAddr,
    range: RangeInclusive<u16>,
    dest: SocketAddr,
) -> Result<UdpSocket, RtpSinkError> {
    let (first, last) = (*range.start(), *range.end());
    let span = u32::from(last.saturating_sub(first)) + 1;
    if first == 0 || last < first {
        return Err(RtpSinkError::NoFreePort { first, last });
    }
    // Start at a random port of the range so that concurrent taps rarely collide.
    let offset = rand::random::<u32>() % span;
    for i in 0..span {
        let port = first + ((offset + i) % span) as u16;
        match UdpSocket::bind((ip, port)) {
            Ok(socket) => return Ok(socket),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
            Err(source) => return Err(RtpSinkError::Open { dest, source }),
        }
    }
    Err(RtpSinkError::NoFreePort { first, last })
}
