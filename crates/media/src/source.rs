//! [`Source`]: what a leg plays to its party, one frame per ptime.
//!
//! - [`Source::Silence`]: digital silence of the leg's law. The stream never stops while the
//!   leg sends, so NAT bindings stay open and taps of what the party hears stay continuous.
//! - [`Source::Play`]: a buffer of G.711 samples, played once from the start, transcoded when
//!   its law is not the leg's; the last frame is padded with silence, then
//!   [`crate::LegEvent::PlaybackFinished`] and silence.
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

/// G.711 samples to play, in one law.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playback {
    law: Law,
    samples: Box<[u8]>,
}

impl Playback {
    /// Samples of `law`, 8000 per second.
    pub fn new(law: Law, samples: impl Into<Box<[u8]>>) -> Playback {
        Playback {
            law,
            samples: samples.into(),
        }
    }

    /// The law of the samples.
    pub fn law(&self) -> Law {
        self.law
    }

    /// The samples.
    pub fn samples(&self) -> &[u8] {
        &self.samples
    }
}

/// The running state of a [`Source`].
#[derive(Debug)]
pub(crate) enum Player {
    Silence,
    Play {
        playback: Playback,
        pos: usize,
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
                let rest = playback.samples.get(*pos..).unwrap_or_default();
                let n = rest.len().min(out.len());
                for (o, &s) in out.iter_mut().zip(&rest[..n]) {
                    *o = law.transcode_from(playback.law, s);
                }
                out[n..].fill(law.silence());
                *pos += n;
                if *pos >= playback.samples.len() {
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
