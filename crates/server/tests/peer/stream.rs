//! What a captured RTP stream must look like, and what its audio says.

use std::net::SocketAddrV4;
use std::time::Duration;

use g711::Law;
use rtp::{Header, Packet};

use crate::peer::pcap::{Datagram, udp_datagrams};

/// One RTP packet as captured.
#[derive(Debug, Clone)]
pub(crate) struct RtpPacket {
    pub(crate) at: Duration,
    pub(crate) src: SocketAddrV4,
    pub(crate) dst: SocketAddrV4,
    pub(crate) header: Header,
    pub(crate) payload: Vec<u8>,
}

/// The captured datagrams as RTP; any that is not RTP fails the test.
pub(crate) fn rtp_packets(datagrams: &[Datagram]) -> Vec<RtpPacket> {
    datagrams
        .iter()
        .map(|d| {
            let packet = Packet::parse(&d.payload)
                .unwrap_or_else(|e| panic!("{} -> {} sent non-RTP: {e}", d.src, d.dst));
            RtpPacket {
                at: d.at,
                src: d.src,
                dst: d.dst,
                header: packet.header,
                payload: packet.payload.to_vec(),
            }
        })
        .collect()
}

/// The RTP packets of one of SIPp's shipped pcap files.
pub(crate) fn sipp_pcap(name: &str) -> Vec<RtpPacket> {
    let path = format!("{}/{name}", crate::peer::sipp::SIPP_PCAP_DIR);
    let file = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    rtp_packets(&udp_datagrams(&file))
}

/// The payloads of `packets`, concatenated.
pub(crate) fn audio(packets: &[RtpPacket]) -> Vec<u8> {
    packets
        .iter()
        .flat_map(|p| p.payload.iter().copied())
        .collect()
}

/// What SIPp's caller says (its shipped `g711a.pcap`, A-law), as µ-law by the G.711 tables:
/// what a PCMU tap of the caller carries.
pub(crate) fn sipp_said_as_ulaw() -> Vec<u8> {
    audio(&sipp_pcap("g711a.pcap"))
        .iter()
        .map(|&a| Law::Ulaw.transcode_from(Law::Alaw, a))
        .collect()
}

/// Asserts that the PCMU stream `packets` carries at least 95 % of what SIPp's caller said
/// in one unbroken piece; `who` names the stream in the failure message.
pub(crate) fn assert_carries_the_caller(packets: &[RtpPacket], who: &str) {
    let said = sipp_said_as_ulaw();
    let run = longest_common_run(&audio(packets), &said, Law::Ulaw.silence());
    assert!(
        run * 100 >= said.len() * 95,
        "{who}: {run} of the caller's {} bytes in one piece",
        said.len()
    );
}

/// Asserts one stream: one SSRC, payload type `pt`, `ptime_ms` of samples per packet,
/// sequence numbers rising by one and timestamps by `8·ptime_ms`, the marker on the first
/// packet only.
pub(crate) fn assert_continuous(packets: &[RtpPacket], pt: u8, ptime_ms: u32) {
    assert_continuous_channels(packets, pt, ptime_ms, 1);
}

/// [`assert_continuous`] for a stream of `channels` interleaved channels: the timestamps count
/// samples per channel, the payloads hold `channels` times the bytes.
pub(crate) fn assert_continuous_channels(
    packets: &[RtpPacket],
    pt: u8,
    ptime_ms: u32,
    channels: usize,
) {
    let first = packets.first().expect("at least one RTP packet");
    assert!(first.header.marker, "the first packet carries the marker");
    let ticks = 8 * ptime_ms;
    for (i, pair) in packets.windows(2).enumerate() {
        let (a, b) = (&pair[0].header, &pair[1].header);
        let n = i + 1;
        assert_eq!(b.ssrc, first.header.ssrc, "packet {n}: one SSRC");
        assert!(!b.marker, "packet {n}: marker only on the first packet");
        assert_eq!(b.seq, a.seq.wrapping_add(1), "packet {n}: sequence +1");
        assert_eq!(
            b.timestamp,
            a.timestamp.wrapping_add(ticks),
            "packet {n}: timestamp +{ticks}"
        );
    }
    for (n, p) in packets.iter().enumerate() {
        assert_eq!(p.header.payload_type.get(), pt, "packet {n}: payload type");
        assert_eq!(
            p.payload.len(),
            ticks as usize * channels,
            "packet {n}: {ptime_ms} ms of G.711"
        );
    }
}

/// Asserts that `received` is `sent` played back: after leading silence, `sent` (without its
/// own leading silence) follows byte for byte, then only silence.
pub(crate) fn assert_echoed(received: &[u8], sent: &[u8], silence: u8) {
    let strip = |bytes: &[u8]| -> usize { bytes.iter().take_while(|&&b| b == silence).count() };
    let sent = &sent[strip(sent)..];
    let received = &received[strip(received)..];
    assert!(!sent.is_empty(), "the sent audio is not all silence");
    let common = sent
        .iter()
        .zip(received)
        .take_while(|(s, r)| s == r)
        .count();
    assert_eq!(
        common,
        sent.len(),
        "the echo diverges from what was sent at byte {common} of {} ({} bytes received after the leading silence)",
        sent.len(),
        received.len()
    );
    let tail = &received[sent.len()..];
    let noisy = tail.iter().filter(|&&b| b != silence).count();
    assert_eq!(noisy, 0, "{noisy} non-silent bytes after the echo");
}

/// The strongest of `candidates_hz` in a frame of 8 kHz samples, if it holds most of the
/// frame's energy (Goertzel).
pub(crate) fn dominant_tone(samples: &[i16], candidates_hz: &[f64]) -> Option<f64> {
    let n = samples.len() as f64;
    let energy: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
    if energy == 0.0 {
        return None;
    }
    let power = |hz: f64| {
        let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in samples {
            let s0 = f64::from(x) + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        // |X|² · 2/N is the energy of a sinusoid at `hz` over the frame (Parseval).
        (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2.0 / n
    };
    let (hz, p) = candidates_hz
        .iter()
        .map(|&hz| (hz, power(hz)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    (p > 0.5 * energy).then_some(hz)
}

/// The dominant tone of each `frame`-sample frame of `codes`, decoded with `law`.
pub(crate) fn tones(
    codes: &[u8],
    law: Law,
    frame: usize,
    candidates_hz: &[f64],
) -> Vec<Option<f64>> {
    let samples: Vec<i16> = codes.iter().map(|&c| law.decode(c)).collect();
    samples
        .chunks_exact(frame)
        .map(|f| dominant_tone(f, candidates_hz))
        .collect()
}

/// Run-length encoding: each distinct value and how many times it repeats in a row.
pub(crate) fn runs<T: PartialEq + Copy>(values: &[T]) -> Vec<(T, usize)> {
    let mut out: Vec<(T, usize)> = Vec::new();
    for &v in values {
        match out.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => out.push((v, 1)),
        }
    }
    out
}

/// The longest run of bytes that `received` and `expected` share (not counting runs of
/// `silence`): how much of what was sent arrived unchanged and in one piece.
pub(crate) fn longest_common_run(received: &[u8], expected: &[u8], silence: u8) -> usize {
    const KEY: usize = 16;
    let mut index: std::collections::HashMap<&[u8], Vec<usize>> = std::collections::HashMap::new();
    for (i, w) in expected.windows(KEY).enumerate() {
        if w.iter().any(|&b| b != silence) {
            index.entry(w).or_default().push(i);
        }
    }
    let mut best = 0;
    let mut r = 0;
    while r + KEY <= received.len() {
        let mut advanced = KEY / 2;
        if let Some(starts) = index.get(&received[r..r + KEY]) {
            for &e in starts.iter().take(8) {
                let back = received[..r]
                    .iter()
                    .rev()
                    .zip(expected[..e].iter().rev())
                    .take_while(|(a, b)| a == b)
                    .count();
                let ahead = received[r..]
                    .iter()
                    .zip(&expected[e..])
                    .take_while(|(a, b)| a == b)
                    .count();
                best = best.max(back + ahead);
                advanced = advanced.max(ahead);
            }
        }
        r += advanced;
    }
    best
}
