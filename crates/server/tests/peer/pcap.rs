//! A reader for classic libpcap files: the UDP/IPv4 datagrams they hold.
//!
//! Enough of the format for tcpdump's captures on loopback and for SIPp's shipped audio: the
//! 24-byte global header (either byte order, micro- or nanosecond timestamps), link types
//! Ethernet (1), BSD loopback (0), Linux cooked v1 (113) and v2 (276), IPv4 with options
//! (IHL), UDP. Anything else (IPv6, TCP, fragments, truncated records) is skipped.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// One captured UDP datagram.
#[derive(Debug, Clone)]
pub(crate) struct Datagram {
    /// When it was captured, from the file's first record.
    pub(crate) at: Duration,
    pub(crate) src: SocketAddrV4,
    pub(crate) dst: SocketAddrV4,
    pub(crate) payload: Vec<u8>,
}

/// The UDP datagrams of a pcap file's bytes, in capture order.
pub(crate) fn udp_datagrams(file: &[u8]) -> Vec<Datagram> {
    assert!(file.len() >= 24, "a pcap file has a 24-byte header");
    let magic = [file[0], file[1], file[2], file[3]];
    let (big_endian, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
        _ => panic!("not a classic pcap file (magic {magic:02x?})"),
    };
    let word = |at: usize| {
        let bytes = [file[at], file[at + 1], file[at + 2], file[at + 3]];
        if big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        }
    };
    let linktype = word(20) & 0x0fff_ffff;
    let mut out = Vec::new();
    let mut first: Option<Duration> = None;
    let mut offset = 24;
    while offset + 16 <= file.len() {
        let secs = u64::from(word(offset));
        let frac = u64::from(word(offset + 4));
        let caplen = word(offset + 8) as usize;
        let start = offset + 16;
        let Some(frame) = file.get(start..start + caplen) else {
            break;
        };
        offset = start + caplen;
        let at = Duration::from_secs(secs)
            + if nanos {
                Duration::from_nanos(frac)
            } else {
                Duration::from_micros(frac)
            };
        let first = *first.get_or_insert(at);
        if let Some(ip) = ipv4_of(linktype, frame)
            && let Some((src, dst, payload)) = udp_of(ip)
        {
            out.push(Datagram {
                at: at.saturating_sub(first),
                src,
                dst,
                payload: payload.to_vec(),
            });
        }
    }
    out
}

/// The IPv4 packet inside a link-layer frame, if it is one.
fn ipv4_of(linktype: u32, frame: &[u8]) -> Option<&[u8]> {
    let (skip, is_ipv4) = match linktype {
        // Ethernet: the EtherType closes the 14-byte header.
        1 => (14, frame.get(12..14)? == [0x08, 0x00]),
        // BSD loopback: the address family in host order; 2 is AF_INET.
        0 => (4, frame.get(..4)? == 2u32.to_ne_bytes()),
        // Linux cooked capture v1: the protocol closes the 16-byte header.
        113 => (16, frame.get(14..16)? == [0x08, 0x00]),
        // Linux cooked capture v2: the protocol opens the 20-byte header.
        276 => (20, frame.get(..2)? == [0x08, 0x00]),
        other => panic!("pcap link type {other} is not handled"),
    };
    if !is_ipv4 {
        return None;
    }
    frame.get(skip..)
}

/// Source, destination and payload of a UDP/IPv4 packet.
fn udp_of(ip: &[u8]) -> Option<(SocketAddrV4, SocketAddrV4, &[u8])> {
    let first = *ip.first()?;
    if first >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    // A fragment (more-fragments set or a non-zero offset) is not a whole datagram.
    let flags = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
    if flags & 0x3fff != 0 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let ip = ip.get(..total.min(ip.len()))?;
    let src_ip = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst_ip = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let udp = ip.get(ihl..)?;
    let src_port = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
    let dst_port = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    let len = usize::from(u16::from_be_bytes([*udp.get(4)?, *udp.get(5)?]));
    let payload = udp.get(8..len)?;
    Some((
        SocketAddrV4::new(src_ip, src_port),
        SocketAddrV4::new(dst_ip, dst_port),
        payload,
    ))
}

/// A pcap file (link type Ethernet) of `datagrams`, each `(microseconds from the start, UDP
/// payload)`, sent from 127.0.0.1:10000 to 127.0.0.1:20000: what SIPp's `play_pcap_audio`
/// plays, at the recorded pace, from its own media port.
pub(crate) fn write_udp_pcap(datagrams: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (at_us, payload) in datagrams {
        let udp_len = 8 + payload.len();
        let ip_len = 20 + udp_len;
        let mut frame = Vec::with_capacity(14 + ip_len);
        frame.extend_from_slice(&[0; 12]);
        frame.extend_from_slice(&0x0800u16.to_be_bytes());
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[127, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[127, 0, 0, 1]);
        let sum = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>();
        let sum = (sum & 0xffff) + (sum >> 16);
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&10000u16.to_be_bytes());
        frame.extend_from_slice(&20000u16.to_be_bytes());
        frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
        frame.extend_from_slice(&0u16.to_be_bytes());
        frame.extend_from_slice(payload);
        out.extend_from_slice(&((at_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((at_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sipps_shipped_audio_is_236_pcma_packets() {
        let file = std::fs::read("/usr/share/sip-tester/g711a.pcap")
            .expect("SIPp's g711a.pcap (Debian package sip-tester)");
        let datagrams = udp_datagrams(&file);
        assert_eq!(datagrams.len(), 236);
        assert!(datagrams.iter().all(|d| d.payload.len() == 252));
        assert_eq!(datagrams[0].at, Duration::ZERO);
    }
}
