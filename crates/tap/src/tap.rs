//! [`Tap`]: the state machine that produces one tap stream.

use std::time::{Duration, Instant};

use g711::Law;
use rand_core::RngCore;
use rtp::{Header, Packet, PayloadType, RtpTime, SeqNo, Ssrc, WriteError};

use crate::lane::Lane;
use crate::{ConfigError, Direction, Stream, TapConfig, TapStats};

/// The first SSRC, sequence number and timestamp of a tap stream (RFC 3550 §5.1: random).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpStart {
    /// The stream's SSRC.
    pub ssrc: Ssrc,
    /// The first packet's sequence number.
    pub seq: SeqNo,
    /// The first packet's timestamp.
    pub timestamp: RtpTime,
}

impl RtpStart {
    /// Draws all three from `rng`.
    pub fn random(rng: &mut impl RngCore) -> RtpStart {
        RtpStart {
            ssrc: Ssrc(rng.next_u32()),
            seq: SeqNo((rng.next_u32() >> 16) as u16),
            timestamp: RtpTime(rng.next_u32()),
        }
    }
}

/// An input to [`Tap::handle_input`].
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Time has passed; frames due by `now` become ready.
    Timeout(Instant),
    /// An RTP packet of one of the leg's streams, already parsed, seen at `now`.
    Rtp {
        /// When the packet was received (speak) or sent (listen).
        now: Instant,
        /// Which stream it belongs to.
        stream: Stream,
        /// The packet.
        packet: Packet<'a>,
    },
    /// A datagram of one of the leg's streams, not yet parsed.
    Datagram {
        /// When the datagram was received (speak) or sent (listen).
        now: Instant,
        /// Which stream it belongs to.
        stream: Stream,
        /// Its bytes.
        bytes: &'a [u8],
    },
    /// The tap ends at `now`: frames due by then, and the audio still held in the alignment
    /// window, are produced, then [`Output::Finished`].
    Stop(Instant),
}

/// What [`Tap::poll_output`] returns.
#[derive(Debug)]
pub enum Output<'a> {
    /// A frame to send now.
    Transmit(Frame<'a>),
    /// Nothing is due before this instant: call again with [`Input::Timeout`] then.
    Timeout(Instant),
    /// The tap has stopped; nothing more will come.
    Finished,
}

/// One frame of the tap stream: exactly one ptime of audio.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The RTP header of the frame (also numbering WebSocket messages).
    pub header: Header,
    /// The codec payload: `ptime` of audio, interleaved when stereo.
    pub payload: &'a [u8],
    /// When the frame is due on the grid `start + n·ptime`.
    pub due: Instant,
}

impl Frame<'_> {
    /// Writes the frame as an RTP packet (12-byte header, then the payload) into `buf`.
    pub fn write_rtp(&self, buf: &mut [u8]) -> Result<usize, WriteError> {
        Packet::write(&self.header, self.payload, buf)
    }
}

/// The tap core for one tap: see the crate documentation.
#[derive(Debug)]
pub struct Tap {
    config: TapConfig,
    start: Instant,
    rtp: RtpStart,
    payload_type: PayloadType,
    frame_samples: usize,
    window_samples: i64,
    speak: Option<Lane>,
    listen: Option<Lane>,
    /// Index of the next frame to produce.
    next_frame: u64,
    /// The latest time the tap has been told about.
    now: Instant,
    /// Set by [`Input::Stop`]: the timeline position up to which audio is flushed.
    stop: Option<i64>,
    out: Vec<u8>,
    frames_produced: u64,
}

impl Tap {
    /// A tap whose first frame is due at `start`, numbered from `rtp`.
    pub fn new(config: TapConfig, start: Instant, rtp: RtpStart) -> Result<Tap, ConfigError> {
        config.validate()?;
        let frame_samples = config.ptime.samples();
        let window_samples = config.window_ms as usize * 8;
        let lane = || Some(Lane::new(frame_samples, window_samples));
        let (speak, listen) = match config.direction {
            Direction::Speak => (lane(), None),
            Direction::Listen => (None, lane()),
            Direction::Both => (lane(), lane()),
        };
        Ok(Tap {
            config,
            start,
            rtp,
            payload_type: match config.codec {
                Law::Ulaw => PayloadType::PCMU,
                Law::Alaw => PayloadType::PCMA,
            },
            frame_samples,
            window_samples: window_samples as i64,
            speak,
            listen,
            next_frame: 0,
            now: start,
            stop: None,
            out: vec![config.codec.silence(); config.frame_bytes()],
            frames_produced: 0,
        })
    }

    /// The configuration the tap runs with.
    pub fn config(&self) -> &TapConfig {
        &self.config
    }

    /// The first SSRC, sequence number and timestamp.
    pub fn rtp_start(&self) -> RtpStart {
        self.rtp
    }

    /// The counters.
    pub fn stats(&self) -> TapStats {
        TapStats {
            frames_produced: self.frames_produced,
            speak: self.speak.as_ref().map(Lane::stats).unwrap_or_default(),
            listen: self.listen.as_ref().map(Lane::stats).unwrap_or_default(),
        }
    }

    /// Whether [`Input::Stop`] has been handled.
    pub fn is_stopping(&self) -> bool {
        self.stop.is_some()
    }

    /// Feeds one input. Inputs after [`Input::Stop`] are ignored; a datagram that is not RTP is
    /// counted as malformed.
    pub fn handle_input(&mut self, input: Input<'_>) {
        if self.stop.is_some() {
            return;
        }
        match input {
            Input::Timeout(now) => self.advance(now),
            Input::Rtp {
                now,
                stream,
                packet,
            } => self.handle_packet(now, stream, &packet),
            Input::Datagram { now, stream, bytes } => match Packet::parse(bytes) {
                Ok(packet) => self.handle_packet(now, stream, &packet),
                Err(_) => {
                    self.advance(now);
                    if let Some(lane) = self.lane_mut(stream) {
                        lane.stats.packets_in += 1;
                        lane.stats.malformed += 1;
                    }
                }
            },
            Input::Stop(now) => {
                self.advance(now);
                self.stop = Some(self.position(self.now));
            }
        }
    }

    /// The next output. Drain it after every input until it returns [`Output::Timeout`] or
    /// [`Output::Finished`].
    pub fn poll_output(&mut self) -> Output<'_> {
        let due = self.due(self.next_frame);
        let ready = match self.stop {
            None => due <= self.now,
            // After a stop, frames go out at once until the flushed audio is covered.
            Some(stop_pos) => due <= self.now || self.read_pos(self.next_frame) < stop_pos,
        };
        if !ready {
            return match self.stop {
                None => Output::Timeout(due),
                Some(_) => Output::Finished,
            };
        }
        let n = self.next_frame;
        self.fill_frame(self.read_pos(n));
        self.next_frame += 1;
        self.frames_produced += 1;
        let header = Header {
            marker: n == 0,
            payload_type: self.payload_type,
            seq: self.rtp.seq.wrapping_add(n as u16),
            timestamp: self
                .rtp
                .timestamp
                .wrapping_add((n as u32).wrapping_mul(self.frame_samples as u32)),
            ssrc: self.rtp.ssrc,
        };
        Output::Transmit(Frame {
            header,
            payload: &self.out,
            due,
        })
    }

    fn handle_packet(&mut self, now: Instant, stream: Stream, packet: &Packet<'_>) {
        self.advance(now);
        let arrival = self.position(now);
        let read_pos = self.read_pos(self.next_frame);
        if let Some(lane) = self.lane_mut(stream) {
            lane.place(arrival, read_pos, packet);
        }
    }

    fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    fn lane_mut(&mut self, stream: Stream) -> Option<&mut Lane> {
        match stream {
            Stream::Speak => self.speak.as_mut(),
            Stream::Listen => self.listen.as_mut(),
        }
    }

    /// When frame `n` is due.
    fn due(&self, n: u64) -> Instant {
        self.start + Duration::from_millis(n * u64::from(self.config.ptime.ms()))
    }

    /// The first timeline position that frame `n` carries: it covers the ptime that ended one
    /// alignment window before it is due.
    fn read_pos(&self, n: u64) -> i64 {
        (n as i64 - 1) * self.frame_samples as i64 - self.window_samples
    }

    /// The timeline position (8 kHz samples since start) of `t`.
    fn position(&self, t: Instant) -> i64 {
        (t.saturating_duration_since(self.start).as_nanos() / 125_000) as i64
    }

    fn fill_frame(&mut self, from: i64) {
        let codec = self.config.codec;
        let silence = codec.silence();
        let samples = self.frame_samples;
        match (self.speak.as_mut(), self.listen.as_mut()) {
            (Some(one), None) | (None, Some(one)) => {
                for (i, out) in self.out.iter_mut().enumerate() {
                    *out = match one.take(from + i as i64) {
                        Some((law, code)) => codec.transcode_from(law, code),
                        None => silence,
                    };
                }
            }
            (Some(speak), Some(listen)) if self.config.stereo => {
                for i in 0..samples {
                    let pos = from + i as i64;
                    let l = speak
                        .take(pos)
                        .map_or(silence, |(law, c)| codec.transcode_from(law, c));
                    let r = listen
                        .take(pos)
                        .map_or(silence, |(law, c)| codec.transcode_from(law, c));
                    self.out[2 * i] = l;
                    self.out[2 * i + 1] = r;
                }
            }
            (Some(speak), Some(listen)) => {
                for (i, out) in self.out.iter_mut().enumerate() {
                    let pos = from + i as i64;
                    *out = match (speak.take(pos), listen.take(pos)) {
                        (None, None) => silence,
                        (Some((law, c)), None) | (None, Some((law, c))) => {
                            codec.transcode_from(law, c)
                        }
                        (Some((la, a)), Some((lb, b))) => {
                            codec.encode(la.decode(a).saturating_add(lb.decode(b)))
                        }
                    };
                }
            }
            (None, None) => unreachable!("a tap has at least one lane by construction"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u16, ts: u32, fill: u8) -> Vec<u8> {
        let header = Header {
            marker: false,
            payload_type: PayloadType::PCMU,
            seq: SeqNo(seq),
            timestamp: RtpTime(ts),
            ssrc: Ssrc(7),
        };
        let mut buf = vec![0; 172];
        Packet::write(&header, &[fill; 160], &mut buf).expect("sized");
        buf
    }

    fn speak_tap(start: Instant) -> Tap {
        let rtp = RtpStart {
            ssrc: Ssrc(1),
            seq: SeqNo(65535),
            timestamp: RtpTime(u32::MAX),
        };
        Tap::new(TapConfig::new(Direction::Speak), start, rtp).expect("valid")
    }

    fn drain(tap: &mut Tap) -> Vec<(Header, Vec<u8>)> {
        let mut out = Vec::new();
        while let Output::Transmit(f) = tap.poll_output() {
            out.push((f.header, f.payload.to_vec()));
        }
        out
    }

    #[test]
    fn numbering_wraps_and_the_marker_is_on_the_first_frame_only() {
        let start = Instant::now();
        let mut tap = speak_tap(start);
        tap.handle_input(Input::Timeout(start + Duration::from_millis(40)));
        let frames = drain(&mut tap);
        assert_eq!(frames.len(), 3);
        assert_eq!(
            frames
                .iter()
                .map(|(h, _)| (h.marker, h.seq.0, h.timestamp.0))
                .collect::<Vec<_>>(),
            vec![(true, 65535, u32::MAX), (false, 0, 159), (false, 1, 319)]
        );
        assert!(
            frames.iter().all(|(_, p)| p == &[0xFF; 160]),
            "silence before any audio"
        );
        assert!(
            matches!(tap.poll_output(), Output::Timeout(t) if t == start + Duration::from_millis(60))
        );
    }

    #[test]
    fn late_duplicate_and_malformed_packets_are_counted_and_dropped() {
        let start = Instant::now();
        let mut tap = speak_tap(start);
        let at = |ms| start + Duration::from_millis(ms);
        let p0 = packet(10, 1000, 0x11);
        tap.handle_input(Input::Datagram {
            now: at(5),
            stream: Stream::Speak,
            bytes: &p0,
        });
        tap.handle_input(Input::Datagram {
            now: at(6),
            stream: Stream::Speak,
            bytes: &p0,
        });
        tap.handle_input(Input::Datagram {
            now: at(7),
            stream: Stream::Speak,
            bytes: &[1, 2, 3],
        });
        tap.handle_input(Input::Timeout(at(200)));
        drain(&mut tap);
        // Sequence 11 belongs 20 ms after sequence 10, but arrives 195 ms late.
        let p1 = packet(11, 1160, 0x22);
        tap.handle_input(Input::Datagram {
            now: at(220),
            stream: Stream::Speak,
            bytes: &p1,
        });
        // A listen packet is not this tap's business.
        tap.handle_input(Input::Datagram {
            now: at(220),
            stream: Stream::Listen,
            bytes: &p1,
        });
        let s = tap.stats().speak;
        assert_eq!(
            (s.packets_in, s.duplicate, s.malformed, s.late, s.lost),
            (4, 1, 1, 1, 0)
        );
        assert_eq!(tap.stats().listen.packets_in, 0);
    }

    #[test]
    fn stop_flushes_the_window_then_finishes() {
        let start = Instant::now();
        let mut tap = speak_tap(start);
        let at = |ms| start + Duration::from_millis(ms);
        for k in 0..5u16 {
            let p = packet(k, u32::from(k) * 160, 0x30 + k as u8);
            let now = at(20 * u64::from(k));
            tap.handle_input(Input::Timeout(now));
            drain(&mut tap);
            tap.handle_input(Input::Datagram {
                now,
                stream: Stream::Speak,
                bytes: &p,
            });
        }
        tap.handle_input(Input::Stop(at(100)));
        let mut audio = Vec::new();
        while let Output::Transmit(f) = tap.poll_output() {
            audio.extend_from_slice(f.payload);
        }
        assert!(matches!(tap.poll_output(), Output::Finished));
        // The last packet arrived at 80 ms; with a 20 ms window its audio is due at 120 ms but
        // goes out at the stop, at 100 ms.
        assert!(audio.ends_with(&[0x34; 160]));
        assert_eq!(tap.stats().frames_produced, 7);
        tap.handle_input(Input::Timeout(at(1000)));
        assert!(matches!(tap.poll_output(), Output::Finished));
    }
}
