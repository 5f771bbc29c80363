//! Batched UDP on loopback for the load tool: `sendmmsg` and `recvmmsg` with kernel receive
//! timestamps (`SO_TIMESTAMPNS`), so that one core of the tool can send 100,000 and receive
//! 300,000 packets a second without becoming what is measured.
//!
//! The only `unsafe` code of the tool lives here: the four libc calls, each on buffers this
//! module owns and sizes, with every pointer rebuilt right before the call that reads it.
#![allow(
    unsafe_code,
    reason = "sendmmsg/recvmmsg/setsockopt have no safe std equivalent"
)]

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;

/// Bytes per receive slot: more than a 20 ms G.711 packet, less than any stereo frame of
/// 40 ms.
pub(crate) const SLOT: usize = 1024;
const CONTROL: usize = 64;

/// Binds a non-blocking UDP socket on `127.0.0.1:port` with large buffers, with kernel
/// receive timestamps when `timestamps` is set.
pub(crate) fn bind(port: u16, timestamps: bool) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))?;
    socket.set_nonblocking(true)?;
    let fd = socket.as_raw_fd();
    let size: libc::c_int = 32 << 20;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        if setsockopt(fd, force, size).is_err() {
            setsockopt(fd, plain, size)?;
        }
    }
    if timestamps {
        setsockopt(fd, libc::SO_TIMESTAMPNS, 1)?;
    }
    Ok(socket)
}

fn setsockopt(fd: i32, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` outlives the call and its size is passed with it.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The wall clock in nanoseconds, the clock of `SO_TIMESTAMPNS`.
pub(crate) fn realtime_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &raw mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Up to `capacity` datagrams of at most [`SLOT`] bytes each, to send in one `sendmmsg`.
pub(crate) struct SendBatch {
    data: Vec<u8>,
    lens: Vec<usize>,
    addrs: Vec<libc::sockaddr_in>,
    iov: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

impl SendBatch {
    pub(crate) fn new(capacity: usize) -> SendBatch {
        SendBatch {
            data: vec![0; capacity * SLOT],
            lens: Vec::with_capacity(capacity),
            addrs: Vec::with_capacity(capacity),
            iov: Vec::with_capacity(capacity),
            msgs: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lens.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.lens.len() * SLOT >= self.data.len()
    }

    /// Appends a datagram to `to`, written by `fill` into a slot; `fill` returns its length.
    pub(crate) fn push(&mut self, to: SocketAddrV4, fill: impl FnOnce(&mut [u8]) -> usize) {
        let i = self.lens.len();
        let slot = &mut self.data[i * SLOT..(i + 1) * SLOT];
        let len = fill(slot).min(SLOT);
        self.lens.push(len);
        self.addrs.push(libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: to.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*to.ip()).to_be(),
            },
            sin_zero: [0; 8],
        });
    }

    /// Sends everything queued on `socket` and empties the batch; returns how many the
    /// kernel refused (a full buffer), which are dropped.
    pub(crate) fn flush(&mut self, socket: &UdpSocket) -> usize {
        let n = self.lens.len();
        self.iov.clear();
        self.msgs.clear();
        let base = self.data.as_mut_ptr();
        for (i, len) in self.lens.iter().enumerate() {
            self.iov.push(libc::iovec {
                // SAFETY: slot `i` lies inside `data` (i < capacity).
                iov_base: unsafe { base.add(i * SLOT) }.cast(),
                iov_len: *len,
            });
        }
        for i in 0..n {
            // SAFETY: mmsghdr is plain old data; all-zero is a valid value.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_name = (&raw mut self.addrs[i]).cast();
            m.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            m.msg_hdr.msg_iov = &raw mut self.iov[i];
            m.msg_hdr.msg_iovlen = 1;
            self.msgs.push(m);
        }
        let mut done = 0;
        let mut refused = 0;
        while done < n {
            // SAFETY: msgs[done..n] point into buffers owned by self that live past the call.
            let r = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    self.msgs.as_mut_ptr().add(done),
                    (n - done) as libc::c_uint,
                    0,
                )
            };
            if r <= 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // A full send buffer (or a refused destination) costs this packet only.
                refused += 1;
                done += 1;
            } else {
                done += r as usize;
            }
        }
        self.lens.clear();
        self.addrs.clear();
        refused
    }
}

/// Receive slots for one `recvmmsg`, with a control buffer each for the kernel timestamp.
pub(crate) struct RecvBatch {
    data: Vec<u8>,
    control: Vec<u8>,
    iov: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    got: usize,
}

impl RecvBatch {
    pub(crate) fn new(capacity: usize) -> RecvBatch {
        RecvBatch {
            data: vec![0; capacity * SLOT],
            control: vec![0; capacity * CONTROL],
            iov: Vec::with_capacity(capacity),
            // SAFETY: mmsghdr is plain old data; all-zero is a valid value.
            msgs: (0..capacity)
                .map(|_| unsafe { std::mem::zeroed() })
                .collect(),
            got: 0,
        }
    }

    /// Receives what is waiting on `socket` without blocking, up to the batch's capacity;
    /// returns how many datagrams arrived (0 when none was waiting).
    pub(crate) fn recv(&mut self, socket: &UdpSocket) -> usize {
        let n = self.msgs.len();
        let base = self.data.as_mut_ptr();
        let cbase = self.control.as_mut_ptr();
        self.iov.clear();
        for i in 0..n {
            self.iov.push(libc::iovec {
                // SAFETY: slot `i` lies inside `data`.
                iov_base: unsafe { base.add(i * SLOT) }.cast(),
                iov_len: SLOT,
            });
        }
        for i in 0..n {
            let h = &mut self.msgs[i].msg_hdr;
            h.msg_name = std::ptr::null_mut();
            h.msg_namelen = 0;
            h.msg_iov = &raw mut self.iov[i];
            h.msg_iovlen = 1;
            // SAFETY: control slot `i` lies inside `control`.
            h.msg_control = unsafe { cbase.add(i * CONTROL) }.cast();
            h.msg_controllen = CONTROL;
            h.msg_flags = 0;
            self.msgs[i].msg_len = 0;
        }
        // SAFETY: every mmsghdr points into buffers owned by self that outlive the call.
        let r = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        self.got = if r > 0 { r as usize } else { 0 };
        self.got
    }

    /// Datagram `i` of the last receive.
    pub(crate) fn packet(&self, i: usize) -> &[u8] {
        let len = (self.msgs[i].msg_len as usize).min(SLOT);
        &self.data[i * SLOT..i * SLOT + len]
    }

    /// The kernel's receive time of datagram `i` (wall clock, ns), if the socket has
    /// timestamps on.
    pub(crate) fn stamp_ns(&self, i: usize) -> Option<i64> {
        let h = &self.msgs[i].msg_hdr;
        if h.msg_controllen < size_of::<libc::cmsghdr>() {
            return None;
        }
        let c = &self.control[i * CONTROL..(i + 1) * CONTROL];
        // cmsghdr: len (usize), level (i32), type (i32), then the timespec.
        let level = i32::from_ne_bytes(c[8..12].try_into().ok()?);
        let kind = i32::from_ne_bytes(c[12..16].try_into().ok()?);
        if level != libc::SOL_SOCKET || kind != libc::SCM_TIMESTAMPNS {
            return None;
        }
        let sec = i64::from_ne_bytes(c[16..24].try_into().ok()?);
        let nsec = i64::from_ne_bytes(c[24..32].try_into().ok()?);
        Some(sec * 1_000_000_000 + nsec)
    }
}

/// Waits until one of `sockets` is readable or `timeout_ns` passed.
pub(crate) fn wait_readable(sockets: &[&UdpSocket], timeout_ns: i64) {
    let mut fds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let t = timeout_ns.max(0);
    let ts = libc::timespec {
        tv_sec: t / 1_000_000_000,
        tv_nsec: t % 1_000_000_000,
    };
    // SAFETY: `fds` and `ts` outlive the call; the count matches `fds`.
    unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &raw const ts,
            std::ptr::null(),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_sent_arrives_whole_with_timestamps() {
        let rx = bind(0, true).expect("a receiver");
        let tx = bind(0, false).expect("a sender");
        let to = match rx.local_addr().expect("its address") {
            std::net::SocketAddr::V4(a) => a,
            std::net::SocketAddr::V6(_) => unreachable!("bound on 127.0.0.1"),
        };
        let mut batch = SendBatch::new(8);
        for i in 0..8u8 {
            batch.push(to, |b| {
                b[..3].copy_from_slice(&[i, i, i]);
                3
            });
        }
        assert!(batch.is_full());
        assert_eq!(batch.flush(&tx), 0);
        let before = realtime_ns();
        let mut got = Vec::new();
        let mut recv = RecvBatch::new(4);
        while got.len() < 8 {
            wait_readable(&[&rx], 1_000_000_000);
            for i in 0..recv.recv(&rx) {
                let stamp = recv.stamp_ns(i).expect("a kernel timestamp");
                assert!((stamp - before).abs() < 10_000_000_000);
                got.push(recv.packet(i).to_vec());
            }
        }
        let want: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i, i, i]).collect();
        assert_eq!(got, want);
    }
}
