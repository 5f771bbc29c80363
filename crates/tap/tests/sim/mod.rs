//! A seeded simulated network and a driver for scenario tests of the tap core on virtual time.
//!
//! A [`Source`] packetizes a buffer of G.711 code words into RTP at its own ptime; a [`Net`]
//! delays, drops, duplicates (and thereby reorders) its packets from a seeded RNG; [`drive`]
//! feeds the arrivals and the tap's timeouts to a [`Tap`] in time order and collects its frames.

#![allow(dead_code, reason = "each test file uses a part of the simulator")]
#![allow(
    unreachable_pub,
    reason = "a test-only module; pub marks its interface to the tests"
)]

use std::time::{Duration, Instant};

use g711::Law;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rtp::{Header, Packet, PayloadType, RtpTime, SeqNo, Ssrc};
use tap::{Input, Output, Stream, Tap};

/// One sent packet: when it was sent (relative to the tap's start) and its bytes.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: Duration,
    pub stream: Stream,
    pub seq: u16,
    pub ts: u32,
    pub payload: Vec<u8>,
    pub bytes: Vec<u8>,
}

/// Packetizes `audio` at `ptime_ms`, the first packet sent at `first_at` (when its audio is
/// complete).
pub struct Source {
    pub law: Law,
    pub ptime_ms: u32,
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub stream: Stream,
}

impl Source {
    pub fn new(law: Law, ptime_ms: u32, stream: Stream, seed: u64) -> Source {
        let mut rng = StdRng::seed_from_u64(seed);
        Source {
            law,
            ptime_ms,
            ssrc: rng.random(),
            seq: rng.random(),
            ts: rng.random(),
            stream,
        }
    }

    /// The packets carrying `audio`, starting at `first_at`.
    pub fn packetize(&mut self, audio: &[u8], first_at: Duration) -> Vec<Sent> {
        let n = (self.ptime_ms * 8) as usize;
        audio
            .chunks(n)
            .enumerate()
            .map(|(k, chunk)| {
                let header = Header {
                    marker: k == 0,
                    payload_type: PayloadType::new(self.law.payload_type()).expect("7-bit"),
                    seq: SeqNo(self.seq),
                    timestamp: RtpTime(self.ts),
                    ssrc: Ssrc(self.ssrc),
                };
                let mut bytes = vec![0; 12 + chunk.len()];
                Packet::write(&header, chunk, &mut bytes).expect("buffer sized for the packet");
                let sent = Sent {
                    at: first_at + Duration::from_millis(u64::from(self.ptime_ms) * k as u64),
                    stream: self.stream,
                    seq: self.seq,
                    ts: self.ts,
                    payload: chunk.to_vec(),
                    bytes,
                };
                self.seq = self.seq.wrapping_add(1);
                self.ts = self.ts.wrapping_add(chunk.len() as u32);
                sent
            })
            .collect()
    }
}

/// An arrival at the tap.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Duration,
    pub sent: Sent,
}

/// A lossy, jittery network.
pub struct Net {
    pub rng: StdRng,
    pub base_delay: Duration,
    pub jitter: Duration,
    pub loss: f64,
    pub duplicate: f64,
}

impl Net {
    pub fn new(seed: u64) -> Net {
        Net {
            rng: StdRng::seed_from_u64(seed),
            base_delay: Duration::from_millis(5),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
        }
    }

    /// Delivers `sent`; returns the arrivals in arrival order and the sequence numbers lost.
    pub fn carry(&mut self, sent: &[Sent]) -> (Vec<Arrival>, Vec<u16>) {
        let mut arrivals = Vec::new();
        let mut lost = Vec::new();
        for s in sent {
            if self.rng.random_bool(self.loss) {
                lost.push(s.seq);
                continue;
            }
            let copies = if self.rng.random_bool(self.duplicate) {
                2
            } else {
                1
            };
            for _ in 0..copies {
                let jitter_us = self.rng.random_range(0..=self.jitter.as_micros() as u64);
                let at = s.at + self.base_delay + Duration::from_micros(jitter_us);
                arrivals.push(Arrival {
                    at,
                    sent: s.clone(),
                });
            }
        }
        arrivals.sort_by_key(|a| a.at);
        (arrivals, lost)
    }
}

/// A frame the tap produced, with the instant it was polled.
#[derive(Debug, Clone)]
pub struct Out {
    pub header: Header,
    pub payload: Vec<u8>,
    pub due: Instant,
    pub sent_at: Instant,
}

/// Runs the tap from `start` over `arrivals` (in arrival order) and stops it at `stop`.
pub fn drive(tap: &mut Tap, start: Instant, arrivals: &[Arrival], stop: Duration) -> Vec<Out> {
    let mut out = Vec::new();
    let mut next = arrivals.iter().peekable();
    let stop_at = start + stop;
    let mut now = start;
    tap.handle_input(Input::Timeout(now));
    loop {
        match tap.poll_output() {
            Output::Transmit(f) => out.push(Out {
                header: f.header,
                payload: f.payload.to_vec(),
                due: f.due,
                sent_at: now,
            }),
            Output::Finished => return out,
            Output::Timeout(t) => {
                let arrival = next
                    .peek()
                    .map(|a| start + a.at)
                    .filter(|&a| a <= t && a < stop_at);
                if let Some(at) = arrival {
                    let a = next.next().expect("peeked");
                    now = at;
                    tap.handle_input(Input::Datagram {
                        now,
                        stream: a.sent.stream,
                        bytes: &a.sent.bytes,
                    });
                } else if t <= stop_at {
                    now = t;
                    tap.handle_input(Input::Timeout(now));
                } else {
                    now = stop_at;
                    tap.handle_input(Input::Stop(now));
                }
            }
        }
    }
}

/// The concatenated payloads of `frames`.
pub fn concat(frames: &[Out]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|f| f.payload.iter().copied())
        .collect()
}

/// `secs` seconds of a sine tone at `hz`, amplitude `amp`, encoded in `law`.
pub fn tone(law: Law, hz: f64, amp: f64, secs: f64) -> Vec<u8> {
    let n = (secs * 8000.0) as usize;
    (0..n)
        .map(|i| {
            let v = amp * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin();
            law.encode(v as i16)
        })
        .collect()
}

/// Code words from a seeded RNG, never the law's silence.
pub fn noise(law: Law, samples: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..samples)
        .map(|_| {
            loop {
                let b: u8 = rng.random();
                if b != law.silence() {
                    break b;
                }
            }
        })
        .collect()
}

/// The power of `hz` in linear samples (Goertzel), normalised by the length.
pub fn goertzel(samples: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (samples.len() as f64).powi(2)
}

/// Checks the RTP numbering of a tap stream: continuous sequence numbers and timestamps, the
/// marker on the first frame only, one SSRC and payload type, each frame due on the grid.
pub fn assert_stream_rules(frames: &[Out], start: Instant, ptime_ms: u32, pt: u8, bytes: usize) {
    let first = &frames[0].header;
    for (n, f) in frames.iter().enumerate() {
        let h = &f.header;
        assert_eq!(h.marker, n == 0, "marker on frame {n}");
        assert_eq!(h.payload_type.get(), pt, "payload type on frame {n}");
        assert_eq!(h.ssrc, first.ssrc, "ssrc on frame {n}");
        assert_eq!(
            h.seq.0,
            first.seq.0.wrapping_add(n as u16),
            "sequence on frame {n}"
        );
        assert_eq!(
            h.timestamp.0,
            first.timestamp.0.wrapping_add(n as u32 * ptime_ms * 8),
            "timestamp on frame {n}"
        );
        assert_eq!(f.payload.len(), bytes, "payload size on frame {n}");
        assert_eq!(
            f.due,
            start + Duration::from_millis(n as u64 * u64::from(ptime_ms)),
            "frame {n} is due on the grid"
        );
        let stopped_at = frames.last().expect("at least one frame").sent_at;
        assert!(
            f.sent_at == f.due || (f.due > stopped_at && f.sent_at == stopped_at),
            "frame {n} left at its due time, or at once when the tap stopped"
        );
    }
}
