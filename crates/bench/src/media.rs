//! The media of all calls in one thread: RTP at 50 packets/s per direction per call, spread
//! over 20 send slots of 1 ms, sent with `sendmmsg` per socket; between slots it receives
//! the relayed media (counted) and the RTP taps (matched to their source packets by tag,
//! with kernel receive timestamps) with `recvmmsg`.

use std::collections::HashMap;
use std::net::{SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};

use crate::stats::Histogram;
use crate::tag::{self, Tag};
use crate::udp::{self, RecvBatch, SendBatch};

/// Packetisation time.
pub(crate) const PTIME_NS: i64 = 20_000_000;
/// Send slots per ptime.
const SLOTS: i64 = 20;
/// Send times kept per stream: 1024 packets, 20 s.
const RING: usize = 1024;
const PAYLOAD: usize = 160;

/// What the media thread and the WebSocket receivers share.
pub(crate) struct Shared {
    /// Send time (wall clock ns) of stream `s`'s packet with tag sequence `q`, at
    /// `s · RING + q mod RING`, with the tag sequence beside it to reject stale entries.
    sent_ns: Vec<AtomicI64>,
    sent_seq: Vec<AtomicU32>,
    /// The measurement window, wall clock ns; 0 until set.
    pub(crate) window_start: AtomicI64,
    pub(crate) window_end: AtomicI64,
    pub(crate) stop: AtomicBool,
}

impl Shared {
    pub(crate) fn new(streams: usize) -> Shared {
        Shared {
            sent_ns: (0..streams * RING).map(|_| AtomicI64::new(0)).collect(),
            sent_seq: (0..streams * RING)
                .map(|_| AtomicU32::new(u32::MAX))
                .collect(),
            window_start: AtomicI64::new(0),
            window_end: AtomicI64::new(0),
            stop: AtomicBool::new(false),
        }
    }

    fn record(&self, t: Tag, ns: i64) {
        let i = usize::from(t.stream) * RING + usize::from(t.seq) % RING;
        if let (Some(a), Some(b)) = (self.sent_ns.get(i), self.sent_seq.get(i)) {
            a.store(ns, Ordering::Relaxed);
            b.store(u32::from(t.seq), Ordering::Release);
        }
    }

    /// When the packet `t` names was sent.
    pub(crate) fn sent_at(&self, t: Tag) -> Option<i64> {
        let i = usize::from(t.stream) * RING + usize::from(t.seq) % RING;
        let seq = self.sent_seq.get(i)?.load(Ordering::Acquire);
        (seq == u32::from(t.seq)).then(|| self.sent_ns[i].load(Ordering::Relaxed))
    }

    /// Whether wall-clock time `ns` lies in the measurement window.
    pub(crate) fn in_window(&self, ns: i64) -> bool {
        let (a, b) = (
            self.window_start.load(Ordering::Relaxed),
            self.window_end.load(Ordering::Relaxed),
        );
        a != 0 && ns >= a && (b == 0 || ns < b)
    }
}

/// One direction of one call, as sent by the tool.
pub(crate) struct SourceStream {
    /// Index into the socket list of its role.
    pub(crate) socket: usize,
    /// The node's RTP address for it.
    pub(crate) to: SocketAddrV4,
    /// Its tag stream number (also its SSRC's low bits).
    pub(crate) id: u16,
    /// Tagged payload, or digital silence.
    pub(crate) tagged: bool,
}

/// A tap stream's arrivals, by SSRC.
#[derive(Default)]
pub(crate) struct TapStream {
    first_seq: Option<i64>,
    last_seq: i64,
    min_seq: i64,
    max_seq: i64,
    received: u64,
    /// Arrival minus `n · ptime`, ns, for each frame in the window.
    pub(crate) offsets: Vec<i64>,
}

impl TapStream {
    /// Notes frame number `seq` (16-bit, unwrapped here) arriving at `ns` in the window.
    fn note(&mut self, seq: u16, ns: i64) {
        let seq = match self.first_seq {
            None => {
                self.first_seq = Some(i64::from(seq));
                self.min_seq = i64::from(seq);
                self.max_seq = i64::from(seq);
                i64::from(seq)
            }
            Some(_) => {
                let delta = i64::from(seq.wrapping_sub(self.last_seq as u16) as i16);
                self.last_seq + delta
            }
        };
        self.last_seq = seq;
        self.min_seq = self.min_seq.min(seq);
        self.max_seq = self.max_seq.max(seq);
        self.received += 1;
        let first = self.first_seq.unwrap_or(seq);
        self.offsets.push(ns - (seq - first) * PTIME_NS);
    }

    /// Frames numbered in the window but not received.
    fn missing(&self) -> u64 {
        if self.first_seq.is_none() {
            return 0;
        }
        ((self.max_seq - self.min_seq + 1) as u64).saturating_sub(self.received)
    }
}

/// Tap figures of a set of streams.
#[derive(Default)]
pub(crate) struct TapTally {
    pub(crate) latency: Histogram,
    /// Latency of frames whose newest audio came from the caller (speak) and from the far
    /// end (listen: relayed by the node to the caller first).
    pub(crate) latency_by_side: [Histogram; 2],
    pub(crate) pacing: Histogram,
    pub(crate) received: u64,
    pub(crate) missing: u64,
    pub(crate) silent: u64,
    pub(crate) streams: u64,
}

impl TapTally {
    /// Counts the latency of a frame whose newest source packet was `t`.
    pub(crate) fn record_latency(&mut self, t: Tag, ns: i64) {
        self.latency.record(ns);
        self.latency_by_side[usize::from(t.stream % 2)].record(ns);
    }

    /// Adds a stream's pacing and loss.
    pub(crate) fn add_pacing(&mut self, offsets: &[i64]) {
        if let Some(min) = offsets.iter().min() {
            self.streams += 1;
            for o in offsets {
                self.pacing.record(o - min);
            }
        }
    }
}

/// What the media thread measured.
pub(crate) struct MediaResult {
    pub(crate) sent_in_window: u64,
    pub(crate) refused: u64,
    pub(crate) relay_received: u64,
    pub(crate) tap: TapTally,
    /// How late the send slots ran (the tool's own health).
    pub(crate) slot_lag: Histogram,
}

/// The sockets of the run.
pub(crate) struct Sockets {
    pub(crate) caller: Vec<UdpSocket>,
    pub(crate) far: Vec<UdpSocket>,
    pub(crate) tap: Vec<UdpSocket>,
}

fn write_packet(buf: &mut [u8], id: u16, seq: u64, tagged: bool) -> usize {
    let seq16 = seq as u16;
    buf[0] = 0x80;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&seq16.to_be_bytes());
    buf[4..8].copy_from_slice(&((seq as u32).wrapping_mul(160)).to_be_bytes());
    buf[8..12].copy_from_slice(&(0x1000_0000u32 + u32::from(id)).to_be_bytes());
    if tagged {
        tag::write(
            &mut buf[12..12 + PAYLOAD],
            Tag {
                stream: id,
                seq: (seq % tag::SEQ_MOD) as u16,
            },
        );
    } else {
        buf[12..12 + PAYLOAD].fill(0xFF);
    }
    12 + PAYLOAD
}

/// Runs until `shared.stop`, then drains for 300 ms.
pub(crate) fn run(
    sockets: &Sockets,
    caller_streams: &[SourceStream],
    far_streams: &[SourceStream],
    shared: &Arc<Shared>,
) -> MediaResult {
    let roles: [(&[UdpSocket], &[SourceStream]); 2] = [
        (&sockets.caller, caller_streams),
        (&sockets.far, far_streams),
    ];
    // Per slot, per role, per socket: the streams to send.
    let mut plan: Vec<Vec<Vec<Vec<usize>>>> = (0..SLOTS)
        .map(|_| {
            roles
                .iter()
                .map(|(socks, _)| vec![Vec::new(); socks.len()])
                .collect()
        })
        .collect();
    for (r, (_, streams)) in roles.iter().enumerate() {
        for (i, s) in streams.iter().enumerate() {
            plan[(s.id as usize / 2 + r * 10) % SLOTS as usize][r][s.socket].push(i);
        }
    }
    let mut batch = SendBatch::new(64);
    let mut recv = RecvBatch::new(64);
    let mut result = MediaResult {
        sent_in_window: 0,
        refused: 0,
        relay_received: 0,
        tap: TapTally::default(),
        slot_lag: Histogram::default(),
    };
    let mut taps: HashMap<u32, TapStream> = HashMap::new();
    let all: Vec<&UdpSocket> = sockets
        .caller
        .iter()
        .chain(&sockets.far)
        .chain(&sockets.tap)
        .collect();
    let t0 = udp::realtime_ns();
    let slot_ns = PTIME_NS / SLOTS;
    let mut k: i64 = 0;
    let mut stop_at: Option<i64> = None;
    loop {
        let now = udp::realtime_ns();
        if stop_at.is_none() && shared.stop.load(Ordering::Relaxed) {
            stop_at = Some(now + 300_000_000);
        }
        if stop_at.is_some_and(|t| now >= t) {
            break;
        }
        let due = t0 + k * slot_ns;
        if stop_at.is_none() && now >= due {
            result.slot_lag.record(now - due);
            let period = (k / SLOTS) as u64;
            let slot = (k % SLOTS) as usize;
            let in_window = shared.in_window(now);
            for (r, (socks, streams)) in roles.iter().enumerate() {
                for (si, list) in plan[slot][r].iter().enumerate() {
                    for &i in list {
                        let s = &streams[i];
                        batch.push(s.to, |b| write_packet(b, s.id, period, s.tagged));
                        if s.tagged {
                            shared.record(
                                Tag {
                                    stream: s.id,
                                    seq: (period % tag::SEQ_MOD) as u16,
                                },
                                now,
                            );
                        }
                        if batch.is_full() {
                            if in_window {
                                result.sent_in_window += batch.len() as u64;
                            }
                            result.refused += batch.flush(&socks[si]) as u64;
                        }
                    }
                    if batch.len() > 0 {
                        if in_window {
                            result.sent_in_window += batch.len() as u64;
                        }
                        result.refused += batch.flush(&socks[si]) as u64;
                    }
                }
            }
            k += 1;
            // A tool that fell more than a period behind skips ahead rather than bursting.
            let now = udp::realtime_ns();
            if now - (t0 + k * slot_ns) > PTIME_NS {
                k = (now - t0) / slot_ns + 1;
            }
        }
        let relay_window = shared.in_window(udp::realtime_ns());
        for s in sockets.caller.iter().chain(&sockets.far) {
            loop {
                let n = recv.recv(s);
                if relay_window {
                    result.relay_received += (0..n)
                        .filter(|&i| recv.packet(i).len() == 12 + PAYLOAD)
                        .count() as u64;
                }
                if n < 64 {
                    break;
                }
            }
        }
        for s in &sockets.tap {
            loop {
                let n = recv.recv(s);
                for i in 0..n {
                    let Some(ns) = recv.stamp_ns(i) else { continue };
                    let pkt = recv.packet(i);
                    if pkt.len() < 12 + PAYLOAD || pkt[0] >> 6 != 2 || !shared.in_window(ns) {
                        continue;
                    }
                    let seq = u16::from_be_bytes([pkt[2], pkt[3]]);
                    let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
                    taps.entry(ssrc).or_default().note(seq, ns);
                    result.tap.received += 1;
                    let newest = tag::newest(&pkt[12..12 + PAYLOAD]);
                    match newest.and_then(|t| Some((t, shared.sent_at(t)?))) {
                        Some((t, sent)) => result.tap.record_latency(t, ns - sent),
                        None => result.tap.silent += 1,
                    }
                }
                if n < 64 {
                    break;
                }
            }
        }
        let next = if stop_at.is_some() {
            udp::realtime_ns() + 10_000_000
        } else {
            t0 + k * slot_ns
        };
        let wait = next - udp::realtime_ns();
        if wait > 0 {
            udp::wait_readable(&all, wait);
        }
    }
    for stream in taps.values() {
        result.tap.missing += stream.missing();
        result.tap.add_pacing(&stream.offsets);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tap_stream_counts_gaps_across_the_sequence_wrap() {
        let mut s = TapStream::default();
        for (i, seq) in [65533u16, 65534, 65535, 1, 2].into_iter().enumerate() {
            s.note(seq, i as i64 * PTIME_NS);
        }
        assert_eq!(s.received, 5);
        assert_eq!(s.missing(), 1, "sequence 0 never arrived");
        let mut tally = TapTally::default();
        tally.add_pacing(&s.offsets);
        // Frame 0 arrives on time; the others were noted one ptime early relative to their
        // number after the gap.
        assert_eq!(tally.streams, 1);
        assert_eq!(tally.pacing.count(), 5);
    }

    #[test]
    fn pacing_is_measured_from_the_earliest_frame_of_the_grid() {
        let mut s = TapStream::default();
        let late = [3_000_000, 0, 1_000_000, 0];
        for (i, extra) in late.into_iter().enumerate() {
            s.note(100 + i as u16, i as i64 * PTIME_NS + extra);
        }
        let mut tally = TapTally::default();
        tally.add_pacing(&s.offsets);
        assert_eq!(tally.pacing.quantile_ns(1.0), Some(3_000_000));
        assert_eq!(tally.pacing.quantile_ns(0.5), Some(10_000));
    }

    #[test]
    fn a_packet_is_rtp_with_its_tag() {
        let mut buf = [0u8; 256];
        let len = write_packet(&mut buf, 42, 70_000, true);
        assert_eq!(len, 172);
        assert_eq!(buf[0], 0x80);
        assert_eq!(u16::from_be_bytes([buf[2], buf[3]]), 70_000u64 as u16);
        assert_eq!(
            tag::newest(&buf[12..172]),
            Some(Tag {
                stream: 42,
                seq: (70_000 % tag::SEQ_MOD) as u16
            })
        );
        write_packet(&mut buf, 1, 0, false);
        assert!(buf[12..172].iter().all(|&b| b == 0xFF));
    }
}
