//! [`RtpStream`]: one RTP stream (one SSRC from one source) checked against the tap contract.
//!
//! Sans-IO: the listener hands it each packet with its arrival time. The checks are those of
//! `tap.md` §3: version 2 and a plain 12-byte header, payload type 0 or 8 and constant, the
//! marker on the first packet only, sequence numbers rising by one, timestamps rising by the
//! frame's samples, every payload exactly one ptime. The ptime and the channel count are read
//! from the stream itself: the timestamp step gives the samples per channel, the payload size
//! over it the channels (a `stereo` tap's packets carry twice the bytes for the same step),
//! unless the listener was told them.
//!
//! Loss, duplicates and reordering are counted, never called violations: a receiver cannot
//! tell a packet that was never sent from one the network lost.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use g711::Law;
use rtp::{Packet, SeqUnwrapper};

use crate::audio::Audio;
use crate::report::{StreamKind, StreamReport, Window};
use crate::violation::{Findings, Violation};
use crate::{Expect, Pacing, valid_ptime};

/// How many recent packet numbers are remembered to tell duplicates from reordering.
const RECENT: usize = 1024;
/// A sequence jump beyond this many packets does not fill the WAV file with silence.
const MAX_GAP: i64 = 3000;
/// Nor does one that puts the stream this many packets ahead of the time it has run.
const MAX_AHEAD: i64 = 500;

/// The stream's frame format, once settled.
#[derive(Debug, Clone, Copy)]
struct Format {
    /// Samples per channel per packet (the timestamp step).
    step: u32,
    channels: u16,
}

/// One RTP stream.
#[derive(Debug)]
pub struct RtpStream {
    id: u64,
    source: SocketAddr,
    ssrc: u32,
    expect: Expect,
    payload_type: Option<u8>,
    seq: SeqUnwrapper,
    first_ext: i64,
    first_ts: u32,
    first_at: Instant,
    first_len: usize,
    format: Option<Format>,
    /// The highest packet number (from 0) seen.
    highest: i64,
    unique: u64,
    duplicates: u64,
    reordered: u64,
    recent: Box<[i64]>,
    wav_shift: i64,
    pacing: Option<Pacing>,
    audio: Audio,
    violations: Findings<Violation>,
    notes: Vec<String>,
    last_arrival: Instant,
    ended: bool,
}

impl RtpStream {
    /// A stream that starts with `packet`, from `source`, arrived at `now`; its audio goes to
    /// `wav` when given.
    pub fn new(
        id: u64,
        source: SocketAddr,
        expect: Expect,
        now: Instant,
        packet: &Packet<'_>,
        plain_header: bool,
        wav: Option<&Path>,
    ) -> RtpStream {
        let h = packet.header;
        let pt = h.payload_type.get();
        let law = Law::from_payload_type(pt)
            .or(expect.codec)
            .unwrap_or(Law::Ulaw);
        let mut stream = RtpStream {
            id,
            source,
            ssrc: h.ssrc.0,
            expect,
            payload_type: Law::from_payload_type(pt).map(|_| pt),
            seq: SeqUnwrapper::new(),
            first_ext: 0,
            first_ts: h.timestamp.0,
            first_at: now,
            first_len: packet.payload.len(),
            format: None,
            highest: 0,
            unique: 0,
            duplicates: 0,
            reordered: 0,
            recent: vec![i64::MIN; RECENT].into_boxed_slice(),
            wav_shift: 0,
            pacing: None,
            audio: Audio::new(law, wav),
            violations: Findings::default(),
            notes: Vec::new(),
            last_arrival: now,
            ended: false,
        };
        stream.notes.append(&mut stream.audio.notes);
        stream.first_ext = stream.seq.unwrap(h.seq);
        if stream.payload_type.is_none() {
            stream.violations.push(Violation::PayloadType {
                seq: h.seq.0,
                expected: None,
                found: pt,
            });
        } else if let Some(codec) = expect.codec
            && codec.payload_type() != pt
        {
            stream.violations.push(Violation::PayloadType {
                seq: h.seq.0,
                expected: Some(codec.payload_type()),
                found: pt,
            });
        }
        if !h.marker {
            stream.notes.push(
                "the first packet received has no marker bit: the stream was joined after its \
                 start, or its first packet was lost"
                    .into(),
            );
        }
        // What the listener was told settles the format at once; otherwise the second
        // packet's timestamp does.
        let len = stream.first_len;
        match (expect.ptime_ms, expect.channels) {
            (Some(ms), _) => stream.settle(ms * 8, len),
            (None, Some(ch)) => stream.settle((len / usize::from(ch)) as u32, len),
            (None, None) => {}
        }
        stream.accept(now, 0, packet, plain_header);
        stream
    }

    /// The stream's number at its listener.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// When the last packet arrived.
    pub fn last_arrival(&self) -> Instant {
        self.last_arrival
    }

    /// Records a violation found outside the stream's packets (a changed SSRC, a datagram
    /// that is not RTP).
    pub fn handle_violation(&mut self, violation: Violation) {
        self.violations.push(violation);
    }

    /// Fixes the step (samples per channel per packet) and the channel count.
    fn settle(&mut self, step: u32, len: usize) {
        let (step, channels) = if step > 0
            && len.is_multiple_of(step as usize)
            && matches!(len / step as usize, 1 | 2)
        {
            (step, (len / step as usize) as u16)
        } else {
            self.violations.push(Violation::Channels {
                bytes: len,
                samples: step,
            });
            (len.max(1) as u32, 1)
        };
        if step % 8 != 0 || !valid_ptime(step / 8) {
            self.violations.push(Violation::Ptime { samples: step });
        }
        if let Some(want) = self.expect.channels
            && want != channels
        {
            self.violations.push(Violation::Channels {
                bytes: len,
                samples: step,
            });
        }
        if channels == 2 && self.expect.channels.is_none() {
            self.notes.push(
                "2 channels (a stereo tap: left = speak, right = listen), read from the \
                 timestamps"
                    .into(),
            );
        }
        self.format = Some(Format { step, channels });
        self.audio.set_channels(channels);
        let mut pacing = Pacing::new((step / 8).max(1));
        pacing.handle_arrival(self.first_at, 0);
        self.pacing = Some(pacing);
    }

    /// Takes one packet of this stream (its SSRC), arrived at `now`. `plain_header` says
    /// whether the header was exactly 12 bytes (no CSRC, extension or padding).
    pub fn handle_packet(&mut self, now: Instant, packet: &Packet<'_>, plain_header: bool) {
        self.last_arrival = now;
        let ext = self.seq.unwrap(packet.header.seq);
        self.accept(now, ext - self.first_ext, packet, plain_header);
    }

    fn accept(&mut self, now: Instant, index: i64, packet: &Packet<'_>, plain_header: bool) {
        let h = packet.header;
        let slot = index.rem_euclid(RECENT as i64) as usize;
        if self.recent[slot] == index {
            self.duplicates += 1;
            self.audio.count(packet.payload.len());
            return;
        }
        self.recent[slot] = index;
        self.audio.count(packet.payload.len());
        if index < 0 {
            // Older than the first packet received: the stream's start came late.
            self.reordered += 1;
            return;
        }
        self.unique += 1;
        if index < self.highest {
            self.reordered += 1;
        }
        // The file's timeline may not run ahead of the clock: a sender that skips numbers
        // faster than time passes cannot fill the disk with silence.
        let elapsed_ms = now.saturating_duration_since(self.first_at).as_millis() as i64;
        let ptime_ms = i64::from(self.format.map_or(10, |f| (f.step / 8).max(1)));
        let ahead = index - self.wav_shift - elapsed_ms / ptime_ms;
        if index - self.highest > MAX_GAP || ahead > MAX_AHEAD {
            self.violations.push(Violation::SequenceJump {
                skipped: index - self.highest - 1,
            });
            self.wav_shift += index - self.highest - 1;
        }
        self.highest = self.highest.max(index);
        if !plain_header {
            self.violations
                .push(Violation::HeaderNotPlain { seq: h.seq.0 });
        }
        let pt = h.payload_type.get();
        if index > 0 && self.payload_type.is_some_and(|first| first != pt) {
            self.violations.push(Violation::PayloadType {
                seq: h.seq.0,
                expected: self.payload_type,
                found: pt,
            });
        }
        if index > 0 && h.marker {
            self.violations
                .push(Violation::MarkerAfterFirst { seq: h.seq.0 });
        }
        if self.format.is_none() && index > 0 {
            let delta = h.timestamp.0.wrapping_sub(self.first_ts);
            let step = if delta.is_multiple_of(index as u32) {
                delta / index as u32
            } else {
                0
            };
            self.settle(step, self.first_len);
        }
        if let Some(format) = self.format {
            let expected = self
                .first_ts
                .wrapping_add((index as u32).wrapping_mul(format.step));
            if h.timestamp.0 != expected {
                self.violations.push(Violation::Timestamp {
                    seq: h.seq.0,
                    expected,
                    found: h.timestamp.0,
                });
            }
            let size = format.step as usize * usize::from(format.channels);
            if packet.payload.len() != size {
                self.violations.push(Violation::PayloadSize {
                    index: index as u64,
                    expected: size,
                    found: packet.payload.len(),
                });
            }
            if index > 0
                && let Some(p) = &mut self.pacing
            {
                p.handle_arrival(now, index);
            }
        }
        // The file holds whole frames of the first packet's size, placed by number.
        let len = self.first_len;
        let mut frame = packet.payload[..packet.payload.len().min(len)].to_vec();
        frame.resize(len, self.audio.law.silence());
        let at = (index - self.wav_shift).max(0) as u64 * len as u64;
        self.audio.write(at, &frame);
    }

    /// The live report: totals, and the last second's figures (which it resets).
    pub fn poll_report(&mut self) -> StreamReport {
        let (frames, level_dbfs) = self.audio.take_window();
        let off_grid_max_ms = self.pacing.as_mut().and_then(Pacing::take_window_max);
        self.audio.flush();
        self.report(Window {
            frames,
            level_dbfs,
            off_grid_max_ms,
        })
    }

    /// Ends the stream and gives its final report.
    pub fn finish(&mut self) -> StreamReport {
        if self.format.is_none() {
            // A single packet: take it as mono.
            let len = self.first_len;
            self.settle(len as u32, len);
        }
        self.ended = true;
        self.audio.flush();
        self.notes.append(&mut self.audio.notes);
        self.report(Window::default())
    }

    fn report(&mut self, window: Window) -> StreamReport {
        self.notes.append(&mut self.audio.notes);
        let format = self.format;
        let sent = (self.highest + 1).max(0) as u64;
        StreamReport {
            id: self.id,
            kind: StreamKind::Rtp,
            source: self.source,
            ssrc: Some(self.ssrc),
            path: None,
            codec: Some(self.audio.law),
            ptime_ms: format.map(|f| f.step / 8),
            channels: format.map_or(1, |f| f.channels),
            frames: self.audio.frames,
            bytes: self.audio.bytes,
            audio_ms: sent * u64::from(format.map_or(0, |f| f.step / 8)),
            lost: sent.saturating_sub(self.unique),
            duplicates: self.duplicates,
            reordered: self.reordered,
            pacing: self.pacing.as_ref().map(Pacing::stats).unwrap_or_default(),
            level_dbfs: self.audio.levels(),
            window,
            wav: self.audio.wav_path(),
            violations: self
                .violations
                .kept()
                .iter()
                .map(ToString::to_string)
                .collect(),
            violation_count: self.violations.total(),
            notes: self.notes.clone(),
            start: None,
            stop: None,
            close_code: None,
            ended: self.ended,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rtp::{Header, PayloadType, RtpTime, SeqNo, Ssrc};

    use super::*;

    /// Packet `n` of a contract stream: seq and timestamp from odd starting points.
    fn packet(n: u16, step: u32, payload: &[u8], marker: bool, pt: PayloadType) -> Vec<u8> {
        let header = Header {
            marker,
            payload_type: pt,
            seq: SeqNo(65530u16.wrapping_add(n)),
            timestamp: RtpTime(u32::MAX - 100).wrapping_add(u32::from(n) * step),
            ssrc: Ssrc(0x1234_5678),
        };
        let mut buf = vec![0; 12 + payload.len()];
        let len = Packet::write(&header, payload, &mut buf).expect("fits");
        buf.truncate(len);
        buf
    }

    /// Runs packets arrived at their `(slot)·20 ms`.
    fn run(packets: &[(u16, Vec<u8>)], expect: Expect) -> StreamReport {
        let t0 = Instant::now();
        let at = |slot: u16| t0 + Duration::from_millis(20 * u64::from(slot));
        let src = SocketAddr::from(([127, 0, 0, 1], 4000));
        let (n0, first) = &packets[0];
        let p = Packet::parse(first).expect("RTP");
        let mut s = RtpStream::new(1, src, expect, at(*n0), &p, true, None);
        for (n, bytes) in &packets[1..] {
            let p = Packet::parse(bytes).expect("RTP");
            s.handle_packet(at(*n), &p, bytes[0] & 0x3F == 0);
        }
        s.finish()
    }

    #[test]
    fn a_contract_stream_across_the_wraps_has_no_findings() {
        let payload = [Law::Ulaw.encode(1000); 160];
        let packets: Vec<_> = (0..20)
            .map(|n| (n, packet(n, 160, &payload, n == 0, PayloadType::PCMU)))
            .collect();
        let r = run(&packets, Expect::default());
        assert_eq!(r.violations, Vec::<String>::new());
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        assert_eq!((r.frames, r.lost, r.duplicates, r.reordered), (20, 0, 0, 0));
        assert_eq!((r.ptime_ms, r.channels, r.audio_ms), (Some(20), 1, 400));
        assert_eq!(r.pacing.max_ms, 0.0);
    }

    #[test]
    fn stereo_is_read_from_the_timestamps() {
        let payload = [Law::Alaw.encode(1000); 320];
        let packets: Vec<_> = (0..5)
            .map(|n| (n, packet(n, 160, &payload, n == 0, PayloadType::PCMA)))
            .collect();
        let r = run(&packets, Expect::default());
        assert_eq!(r.violations, Vec::<String>::new());
        assert_eq!(
            (r.ptime_ms, r.channels, r.codec),
            (Some(20), 2, Some(Law::Alaw))
        );
        assert_eq!(r.level_dbfs.len(), 2);
    }

    #[test]
    fn loss_duplicates_and_reordering_are_counted_not_called_violations() {
        let payload = [0xFF; 160];
        // Packet 2 arrives in packet 3's slot, 20 ms late, and again in packet 4's.
        let p = |n, slot| (slot, packet(n, 160, &payload, n == 0, PayloadType::PCMU));
        let r = run(
            &[p(0, 0), p(1, 1), p(3, 3), p(2, 3), p(2, 4), p(5, 5)],
            Expect::default(),
        );
        assert_eq!(r.violations, Vec::<String>::new());
        assert_eq!((r.lost, r.duplicates, r.reordered), (1, 1, 1));
        assert_eq!(r.frames, 6);
        assert!((r.pacing.max_ms - 20.0).abs() < 0.001, "{:?}", r.pacing);
    }

    #[test]
    fn each_break_of_the_contract_is_named() {
        let payload = [0xFF; 160];
        let mut bad_ts = packet(2, 160, &payload, false, PayloadType::PCMU);
        bad_ts[7] ^= 1;
        let mut with_csrc = packet(5, 160, &payload, false, PayloadType::PCMU);
        with_csrc[0] |= 0x20; // padding bit: the last byte says how much
        let last = with_csrc.len() - 1;
        with_csrc[last] = 1;
        let pt = PayloadType::new(96).expect("7 bits");
        let packets = vec![
            (0, packet(0, 160, &payload, true, PayloadType::PCMU)),
            (1, packet(1, 160, &payload, true, PayloadType::PCMU)),
            (2, bad_ts),
            (3, packet(3, 160, &payload[..80], false, PayloadType::PCMU)),
            (4, packet(4, 160, &payload, false, pt)),
            (5, with_csrc),
        ];
        let r = run(&packets, Expect::default());
        let all = r.violations.join("\n");
        assert_eq!(r.violation_count, 6, "{all}");
        assert!(all.contains("marker bit set"), "{all}");
        assert!(all.contains("timestamp"), "{all}");
        assert!(all.contains("80 bytes, expected 160"), "{all}");
        assert!(all.contains("payload type 96, the stream's is 0"), "{all}");
        assert!(all.contains("CSRCs, an extension or padding"), "{all}");
    }

    #[test]
    fn a_ptime_outside_the_contract_is_a_violation() {
        let payload = [0xFF; 200];
        let packets: Vec<_> = (0..3)
            .map(|n| (n, packet(n, 200, &payload, n == 0, PayloadType::PCMU)))
            .collect();
        let r = run(&packets, Expect::default());
        assert_eq!(
            r.violations,
            vec!["frames of 200 samples (25 ms): not 10 to 120 ms in steps of 10"]
        );
    }

    #[test]
    fn a_sequence_running_ahead_of_the_clock_is_a_jump_not_a_file_of_silence() {
        let dir = std::env::temp_dir().join(format!("earshot-rtp-jump-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let path = dir.join("jump.wav");
        let payload = [0xFF; 160];
        let t0 = Instant::now();
        let src = SocketAddr::from(([127, 0, 0, 1], 4000));
        let first = packet(0, 160, &payload, true, PayloadType::PCMU);
        let p = Packet::parse(&first).expect("RTP");
        let mut s = RtpStream::new(1, src, Expect::default(), t0, &p, true, Some(&path));
        // 600 packets ahead after 40 ms, then 2000 more after 60 ms.
        for (n, ms) in [(1u16, 20u64), (601, 40), (2601, 60)] {
            let bytes = packet(n, 160, &payload, false, PayloadType::PCMU);
            let p = Packet::parse(&bytes).expect("RTP");
            s.handle_packet(t0 + Duration::from_millis(ms), &p, true);
        }
        let r = s.finish();
        assert_eq!(r.violation_count, 2, "{:?}", r.violations);
        assert!(
            r.violations[0].contains("jumped 599 packets ahead"),
            "{:?}",
            r.violations
        );
        // The file holds four packets' worth, not 2602.
        let audio = crate::wav::read(&path).expect("the file");
        assert_eq!(audio.samples.len(), 4 * 160);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_packet_from_before_the_first_is_late_not_a_duplicate() {
        let payload = [0xFF; 160];
        let p = |n, slot| (slot, packet(n, 160, &payload, n == 0, PayloadType::PCMU));
        let r = run(&[p(1, 1), p(0, 1), p(2, 2)], Expect::default());
        assert_eq!((r.duplicates, r.reordered, r.frames), (0, 1, 3));
    }

    #[test]
    fn a_stream_joined_late_says_so() {
        let payload = [0xFF; 160];
        let packets: Vec<_> = (3..6)
            .map(|n| (n, packet(n, 160, &payload, false, PayloadType::PCMU)))
            .collect();
        let r = run(&packets, Expect::default());
        assert!(r.violations.is_empty());
        assert!(r.notes[0].contains("no marker bit"), "{:?}", r.notes);
    }
}
