//! [`Source`]: what a leg plays to its party, one frame per ptime.
//!
//! - [`Source::Silence`]: digital silence of the leg's law. The stream never stops while the
//!   leg sends, so NAT bindings stay open and taps of what the party hears stay continuous.
//! - [`Source::Play`]: G.711 samples, played once from the start, transcoded when its law is
//!   not the leg's; silence and tones are repeated patterns, made as each frame is due; the
//!   last frame is padded with silence, then [`crate::LegEvent::PlaybackFinished`] and
//!   silence.
//! - [`Source::Echo`]: what the party says, played back to it.
//! - [`Source::Relay`]: audio of a bridged leg, fed with [`crate::LegCore::handle_relay`] and
//!   forwarded as it arrives (see [`crate::LegCore`]); the player only plays what stands in
//!   for it: silence, or a bridged stream of another ptime re-framed.
//!
//! Echo audio, and relayed audio of another ptime than the leg's, goes through a
//! [`tap::Tap`] that carries one direction: it places each packet by its RTP timestamp on the
//! leg's own frame grid, one playout window behind, and hands back exactly one ptime per
//! frame. So jitter inside the window, reordering, a sender ptime that differs from the
//! leg's, and µ-law ↔ A-law all come out right, and audio of the leg's own law passes byte
//! for byte.

use std::sync::Arc;
use std::time::Instant;

use g711::Law;
use rtp::{Packet, PayloadType, RtpTime, SeqNo, Ssrc};
use tap::{Input, Output, RtpStart, Stream, Tap, TapConfig};

/// What a leg plays to its party.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Source {
    /// Digital silence.
    #[default]
    Silence,
    /// A buffer of samples, played once.
    Play(Playback),
    /// The party's own audio, played back to it.
    Echo,
    /// Audio relayed from a bridged leg.
    Relay,
}

/// G.711 samples to play, in one law: a sequence of parts, each either samples held once or
/// a pattern repeated for a length (silence is a pattern of one sample, a ring-back tone one
/// cadence). An hour of silence or ring-back therefore costs the pattern's bytes, not the
/// hour's, and is ready at once: samples are produced as each frame is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playback {
    law: Law,
    parts: Vec<Part>,
    len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Samples(Arc<[u8]>),
    /// `len` samples of `pattern` from its start, over and over.
    Repeat {
        pattern: Arc<[u8]>,
        len: u64,
    },
}

impl Part {
    fn len(&self) -> u64 {
        match self {
            Part::Samples(samples) => samples.len() as u64,
            Part::Repeat { len, .. } => *len,
        }
    }

    fn sample(&self, at: u64) -> u8 {
        match self {
            Part::Samples(samples) => samples[at as usize],
            Part::Repeat { pattern, .. } => pattern[(at % pattern.len() as u64) as usize],
        }
    }
}

impl Playback {
    /// Samples of `law`, 8000 per second.
    pub fn new(law: Law, samples: impl Into<Box<[u8]>>) -> Playback {
        let mut playback = Playback::empty(law);
        playback.push_samples(samples);
        playback
    }

    /// Nothing to play yet, in `law`.
    pub fn empty(law: Law) -> Playback {
        Playback {
            law,
            parts: Vec::new(),
            len: 0,
        }
    }

    /// Appends `samples` (of this playback's law).
    pub fn push_samples(&mut self, samples: impl Into<Box<[u8]>>) {
        let samples: Arc<[u8]> = Arc::from(samples.into());
        if !samples.is_empty() {
            self.len += samples.len() as u64;
            self.parts.push(Part::Samples(samples));
        }
    }

    /// Appends `len` samples of `pattern` repeated from its start (of this playback's law).
    pub fn push_repeated(&mut self, pattern: impl Into<Box<[u8]>>, len: u64) {
        let pattern: Arc<[u8]> = Arc::from(pattern.into());
        if !pattern.is_empty() && len > 0 {
            self.len += len;
            self.parts.push(Part::Repeat { pattern, len });
        }
    }

    /// Appends `len` samples of the law's silence.
    pub fn push_silence(&mut self, len: u64) {
        self.push_repeated(vec![self.law.silence()], len);
    }

    /// Appends `other`, transcoded to this playback's law if its law differs.
    pub fn append(&mut self, other: Playback) {
        if other.law == self.law {
            self.len += other.len;
            self.parts.extend(other.parts);
        } else {
            let law = self.law;
            self.push_samples(
                other
                    .samples()
                    .iter()
                    .map(|&s| law.transcode_from(other.law, s))
                    .collect::<Vec<u8>>(),
            );
        }
    }

    /// The law of the samples.
    pub fn law(&self) -> Law {
        self.law
    }

    /// How many samples it plays.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it plays nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes of samples it holds in memory (patterns once each).
    pub fn held_bytes(&self) -> usize {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Samples(samples) => samples.len(),
                Part::Repeat { pattern, .. } => pattern.len(),
            })
            .sum()
    }

    /// Every sample, made into one buffer: for short playbacks and checks.
    pub fn samples(&self) -> Vec<u8> {
        let mut out = vec![0; usize::try_from(self.len).unwrap_or(usize::MAX)];
        let n = self.read(0, self.law, &mut out);
        out.truncate(n);
        out
    }

    /// Writes the samples from `from` on into `out`, in `law`, and says how many there were
    /// (fewer than `out.len()` only at the end).
    fn read(&self, from: u64, law: Law, out: &mut [u8]) -> usize {
        let mut written = 0;
        let mut start = 0u64;
        for part in &self.parts {
            let end = start + part.len();
            let at = from + written as u64;
            if at < end {
                let k = (end - at).min((out.len() - written) as u64) as usize;
                for (i, o) in out[written..written + k].iter_mut().enumerate() {
                    *o = law.transcode_from(self.law, part.sample(at - start + i as u64));
                }
                written += k;
                if written == out.len() {
                    break;
                }
            }
            start = end;
        }
        written
    }
}

/// The running state of a [`Source`].
#[derive(Debug)]
pub(crate) enum Player {
    Silence,
    Play {
        playback: Playback,
        pos: u64,
    },
    /// Echo or relay: a one-direction tap on the leg's grid.
    Placed {
        echo: bool,
        tap: Box<Tap>,
    },
}

/// What [`Player::fill`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    Audio,
    /// The playback ended with this frame; the player is silent from now on.
    Finished,
}

impl Player {
    /// The player of `source` for a leg of `law` and `ptime` whose next frame is due at
    /// `next_due`.
    pub(crate) fn new(
        source: Source,
        law: Law,
        ptime: tap::Ptime,
        window_ms: u32,
        next_due: Instant,
    ) -> Player {
        match source {
            // Relayed audio is forwarded by the leg; the re-framing player is made when a
            // packet needs it.
            Source::Silence | Source::Relay => Player::Silence,
            Source::Play(playback) => Player::Play { playback, pos: 0 },
            Source::Echo => Player::placed(true, law, ptime, window_ms, next_due),
        }
    }

    /// The player that re-frames relayed audio of another ptime on the leg's grid.
    pub(crate) fn relay(law: Law, ptime: tap::Ptime, window_ms: u32, next_due: Instant) -> Player {
        Player::placed(false, law, ptime, window_ms, next_due)
    }

    fn placed(
        echo: bool,
        law: Law,
        ptime: tap::Ptime,
        window_ms: u32,
        next_due: Instant,
    ) -> Player {
        let config = TapConfig {
            codec: law,
            ptime,
            window_ms: window_ms.min(tap::MAX_WINDOW_MS),
            ..TapConfig::new(tap::Direction::Speak)
        };
        // The header the tap writes is not used: the leg numbers its own stream.
        let numbering = RtpStart {
            ssrc: Ssrc(0),
            seq: SeqNo(0),
            timestamp: RtpTime(0),
        };
        match Tap::new(config, next_due, numbering) {
            Ok(tap) => Player::Placed {
                echo,
                tap: Box::new(tap),
            },
            Err(error) => {
                // The ptime and window are brought into the tap's range by construction.
                tracing::error!(%error, "playout tap refused its configuration; playing silence");
                Player::Silence
            }
        }
    }

    /// The source this player plays, for rebuilding it after a codec or ptime change.
    pub(crate) fn source(&self) -> Source {
        match self {
            Player::Silence => Source::Silence,
            Player::Play { playback, .. } => Source::Play(playback.clone()),
            Player::Placed { echo: true, .. } => Source::Echo,
            Player::Placed { echo: false, .. } => Source::Relay,
        }
    }

    pub(crate) fn is_echo(&self) -> bool {
        matches!(self, Player::Placed { echo: true, .. })
    }

    pub(crate) fn is_relay(&self) -> bool {
        matches!(self, Player::Placed { echo: false, .. })
    }

    /// Feeds audio of `law` received at `now` to an echo or relay player.
    pub(crate) fn feed(&mut self, now: Instant, law: Law, packet: &Packet<'_>) {
        if let Player::Placed { tap, .. } = self {
            let mut packet = *packet;
            // The tap reads the law from the static payload type; the peer may use a
            // dynamic one.
            packet.header.payload_type = match law {
                Law::Ulaw => PayloadType::PCMU,
                Law::Alaw => PayloadType::PCMA,
            };
            tap.handle_input(Input::Rtp {
                now,
                stream: Stream::Speak,
                packet,
            });
        }
    }

    /// Writes the frame due at `due` into `out` (one ptime of `law`).
    pub(crate) fn fill(&mut self, due: Instant, law: Law, out: &mut [u8]) -> Fill {
        match self {
            Player::Silence => {
                out.fill(law.silence());
                Fill::Audio
            }
            Player::Play { playback, pos } => {
                let n = playback.read(*pos, law, out);
                out[n..].fill(law.silence());
                *pos += n as u64;
                if *pos >= playback.len() {
                    *self = Player::Silence;
                    Fill::Finished
                } else {
                    Fill::Audio
                }
            }
            Player::Placed { tap, .. } => {
                tap.handle_input(Input::Timeout(due));
                match tap.poll_output() {
                    Output::Transmit(frame) if frame.payload.len() == out.len() => {
                        out.copy_from_slice(frame.payload);
                    }
                    _ => out.fill(law.silence()),
                }
                Fill::Audio
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays `playback` through a player frame by frame; returns the frames until it finished.
    fn play_out(playback: Playback, law: Law) -> Vec<u8> {
        let mut player = Player::Play { playback, pos: 0 };
        let mut out = Vec::new();
        loop {
            let mut frame = [0u8; 160];
            let fill = player.fill(Instant::now(), law, &mut frame);
            out.extend_from_slice(&frame);
            if fill == Fill::Finished {
                return out;
            }
        }
    }

    #[test]
    fn an_hour_of_silence_holds_one_byte_and_plays_every_frame() {
        let mut playback = Playback::empty(Law::Alaw);
        playback.push_silence(3600 * 8000);
        assert_eq!(playback.len(), 28_800_000);
        assert_eq!(
            playback.held_bytes(),
            1,
            "one sample of silence, not an hour's"
        );
        let played = play_out(playback, Law::Alaw);
        assert_eq!(played.len(), 28_800_000, "exactly 180 000 frames");
        assert!(played.iter().all(|&b| b == Law::Alaw.silence()));
    }

    #[test]
    fn parts_play_in_order_across_frames_and_laws() {
        let mut playback = Playback::new(Law::Ulaw, vec![1u8; 100]);
        playback.push_repeated(vec![7u8, 8, 9], 200);
        playback.push_silence(30);
        let mut tail = Playback::new(Law::Alaw, vec![0x2A; 10]);
        tail.push_silence(5);
        playback.append(tail);
        assert_eq!(playback.len(), 100 + 200 + 30 + 15);
        let mut expected = vec![1u8; 100];
        expected.extend((0..200).map(|i| [7u8, 8, 9][i % 3]));
        expected.extend([Law::Ulaw.silence(); 30]);
        expected.extend([Law::Ulaw.transcode_from(Law::Alaw, 0x2A); 10]);
        expected.extend([Law::Ulaw.transcode_from(Law::Alaw, Law::Alaw.silence()); 5]);
        assert_eq!(playback.samples(), expected);
        // Played out in 160-sample frames, in the other law, padded with silence at the end.
        let played = play_out(playback, Law::Alaw);
        assert_eq!(played.len(), 3 * 160);
        let transcoded: Vec<u8> = expected
            .iter()
            .map(|&s| Law::Alaw.transcode_from(Law::Ulaw, s))
            .collect();
        assert_eq!(&played[..expected.len()], &transcoded[..]);
        assert!(
            played[expected.len()..]
                .iter()
                .all(|&b| b == Law::Alaw.silence())
        );
    }

    #[test]
    fn an_empty_playback_finishes_at_its_first_frame() {
        assert_eq!(
            play_out(Playback::empty(Law::Ulaw), Law::Ulaw),
            vec![0xFF; 160]
        );
    }
}
