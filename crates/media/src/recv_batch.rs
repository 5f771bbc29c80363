//! [`RecvBatch`]: up to [`SLOTS`] datagrams read from a non-blocking UDP socket in one system
//! call (`recvmmsg` on Linux).
//!
//! The point is the short read: when the kernel returns fewer datagrams than asked, the
//! socket's queue was empty at that moment, so the leg can tell the reactor the socket is no
//! longer readable without the extra, failing `recvfrom` that a read-until-`WouldBlock` loop
//! costs per packet. Elsewhere one `recv_from` is made per call and the queue is never known
//! to be empty.
//!
//! The only `unsafe` code of the media crate lives here: one libc call on buffers this type
//! owns and sizes, with every pointer rebuilt right before the call.
#![allow(unsafe_code, reason = "recvmmsg has no safe std equivalent")]

use std::io;
use std::net::SocketAddr;

/// Datagrams per read. Two is enough to know the queue was empty (a read of one) while
/// keeping a leg's buffers small; a leg gets one packet per ptime from each source.
pub(crate) const SLOTS: usize = 2;

/// Bytes per slot: an Ethernet MTU's worth, more than any G.711 packet (120 ms is 972 bytes
/// with its header); longer datagrams are truncated and then fail to parse or carry a cut
/// payload, never more.
pub(crate) const SLOT_BYTES: usize = 1500;

/// The datagrams of the last read, handed out one by one.
pub(crate) struct RecvBatch {
    data: Box<[u8]>,
    lens: [usize; SLOTS],
    from: [Option<SocketAddr>; SLOTS],
    /// Datagrams of the last read.
    got: usize,
    /// The next one to hand out.
    next: usize,
}

impl std::fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBatch")
            .field("got", &self.got)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

/// What one read gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    /// This many datagrams, fewer than asked: the queue was empty after them.
    Drained(usize),
    /// Every slot filled: more may be queued.
    Full,
}

impl RecvBatch {
    pub(crate) fn new() -> RecvBatch {
        RecvBatch {
            data: vec![0; SLOTS * SLOT_BYTES].into_boxed_slice(),
            lens: [0; SLOTS],
            from: [None; SLOTS],
            got: 0,
            next: 0,
        }
    }

    /// The next datagram not yet handed out, as (slot, length, source).
    pub(crate) fn take(&mut self) -> Option<(usize, usize, SocketAddr)> {
        while self.next < self.got {
            let slot = self.next;
            self.next += 1;
            // A datagram from an address family we cannot name is skipped.
            if let Some(from) = self.from[slot] {
                return Some((slot, self.lens[slot], from));
            }
        }
        None
    }

    /// The bytes of `slot`, `len` long (from [`RecvBatch::take`]).
    pub(crate) fn bytes(&self, slot: usize, len: usize) -> &[u8] {
        let start = slot * SLOT_BYTES;
        &self.data[start..start + len.min(SLOT_BYTES)]
    }

    /// Reads what is queued on `socket` (non-blocking) into the batch, which must have been
    /// handed out whole. `WouldBlock` when nothing was queued.
    #[cfg(target_os = "linux")]
    pub(crate) fn read(&mut self, socket: &impl std::os::fd::AsRawFd) -> io::Result<Read> {
        debug_assert!(self.next >= self.got, "a batch read over unread datagrams");
        self.got = 0;
        self.next = 0;
        // SAFETY: all-zero is a valid value of these plain C structs.
        let mut names: [libc::sockaddr_storage; SLOTS] = unsafe { std::mem::zeroed() };
        let base = self.data.as_mut_ptr();
        let mut iov: [libc::iovec; SLOTS] = std::array::from_fn(|i| libc::iovec {
            // In bounds: slot i of SLOTS slots of SLOT_BYTES.
            iov_base: base.wrapping_add(i * SLOT_BYTES).cast(),
            iov_len: SLOT_BYTES,
        });
        // SAFETY: as above.
        let mut msgs: [libc::mmsghdr; SLOTS] = unsafe { std::mem::zeroed() };
        for (i, msg) in msgs.iter_mut().enumerate() {
            msg.msg_hdr.msg_name = (&raw mut names[i]).cast();
            msg.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            msg.msg_hdr.msg_iov = &raw mut iov[i];
            msg.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `msgs` holds SLOTS headers, each pointing at its own name and one iovec of
        // SLOT_BYTES inside `self.data`; all outlive the call, which writes only within them.
        let r = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                msgs.as_mut_ptr(),
                SLOTS as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let got = usize::try_from(r).unwrap_or(0).min(SLOTS);
        for i in 0..got {
            self.lens[i] = (msgs[i].msg_len as usize).min(SLOT_BYTES);
            self.from[i] = socket_addr(&names[i]);
        }
        self.got = got;
        if got == 0 {
            Err(io::ErrorKind::WouldBlock.into())
        } else if got < SLOTS {
            Ok(Read::Drained(got))
        } else {
            Ok(Read::Full)
        }
    }

    /// Reads one datagram: without `recvmmsg` the queue is never known to be empty.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn read(&mut self, socket: &tokio::net::UdpSocket) -> io::Result<Read> {
        self.got = 0;
        self.next = 0;
        let (len, from) = socket.try_recv_from(&mut self.data[..SLOT_BYTES])?;
        self.lens[0] = len;
        self.from[0] = Some(from);
        self.got = 1;
        Ok(Read::Full)
    }
}

/// The address the kernel wrote, if it is IPv4 or IPv6.
#[cfg(target_os = "linux")]
fn socket_addr(name: &libc::sockaddr_storage) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    match libc::c_int::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large and
            // aligned enough for.
            let v4 = unsafe { &*(&raw const *name).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6 = unsafe { &*(&raw const *name).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                u32::from_be(v6.sin6_flowinfo),
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let b = UdpSocket::bind("127.0.0.1:0").expect("bind");
        a.set_nonblocking(true).expect("non-blocking");
        (a, b)
    }

    /// Reads until `count` datagrams came (the kernel may deliver loopback datagrams from its
    /// softirq thread, after the send returned), within 5 s: their bytes, sources and the reads.
    fn read_all(
        batch: &mut RecvBatch,
        socket: &UdpSocket,
        count: usize,
    ) -> (Vec<Vec<u8>>, Vec<SocketAddr>, Vec<Read>) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let (mut bytes, mut from, mut reads) = (Vec::new(), Vec::new(), Vec::new());
        while bytes.len() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "datagrams missing: {bytes:?}"
            );
            match batch.read(socket) {
                Ok(read) => reads.push(read),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::yield_now();
                    continue;
                }
                Err(e) => panic!("read failed: {e}"),
            }
            while let Some((slot, len, source)) = batch.take() {
                bytes.push(batch.bytes(slot, len).to_vec());
                from.push(source);
            }
        }
        (bytes, from, reads)
    }

    #[test]
    fn reads_hand_out_every_datagram_in_order_and_tell_a_short_read() {
        let (a, b) = pair();
        let to = a.local_addr().expect("addr");
        let mut batch = RecvBatch::new();
        let empty = batch.read(&a).expect_err("nothing queued");
        assert_eq!(empty.kind(), io::ErrorKind::WouldBlock);

        b.send_to(b"one", to).expect("send");
        let (bytes, from, reads) = read_all(&mut batch, &a, 1);
        assert_eq!(bytes, [b"one".to_vec()]);
        assert_eq!(from, [b.local_addr().expect("addr")]);
        assert_eq!(reads, [Read::Drained(1)]);

        let sent: Vec<Vec<u8>> = (1..=5u8).map(|n| vec![n; usize::from(n)]).collect();
        for payload in &sent {
            b.send_to(payload, to).expect("send");
        }
        let (bytes, _, reads) = read_all(&mut batch, &a, sent.len());
        assert_eq!(bytes, sent);
        // A full read carries SLOTS datagrams, a short one fewer; only the last may be short
        // when everything was queued at once, but delivery may be spread, so only the counts
        // are certain.
        let counted: usize = reads
            .iter()
            .map(|read| match read {
                Read::Full => SLOTS,
                Read::Drained(n) => {
                    assert!((1..SLOTS).contains(n), "a short read of {n}");
                    *n
                }
            })
            .sum();
        assert_eq!(counted, sent.len());
        assert_eq!(
            batch.read(&a).expect_err("all read").kind(),
            io::ErrorKind::WouldBlock
        );
    }

    #[test]
    fn a_long_datagram_is_cut_to_a_slot() {
        let (a, b) = pair();
        let mut batch = RecvBatch::new();
        b.send_to(&[7u8; 3000], a.local_addr().expect("addr"))
            .expect("send");
        let (bytes, _, _) = read_all(&mut batch, &a, 1);
        assert_eq!(bytes, [vec![7u8; SLOT_BYTES]]);
    }

    #[test]
    fn an_ipv6_source_is_named() {
        let Ok(a) = UdpSocket::bind("[::1]:0") else {
            return; // no IPv6 loopback on this machine
        };
        let b = UdpSocket::bind("[::1]:0").expect("bind");
        a.set_nonblocking(true).expect("non-blocking");
        b.send_to(b"six", a.local_addr().expect("addr"))
            .expect("send");
        let mut batch = RecvBatch::new();
        let (bytes, from, _) = read_all(&mut batch, &a, 1);
        assert_eq!(bytes, [b"six".to_vec()]);
        assert_eq!(from, [b.local_addr().expect("addr")]);
    }
}
