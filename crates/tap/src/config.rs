//! What a tap takes: direction, codec, ptime, stereo, alignment window.

use std::fmt;

use g711::Law;

use crate::ConfigError;

/// The default alignment window of a single-direction tap.
pub const DEFAULT_WINDOW_MS: u32 = 20;
/// The default alignment window of a `both` tap (`tap.md` §9).
pub const DEFAULT_WINDOW_BOTH_MS: u32 = 40;
/// The longest alignment window accepted.
pub const MAX_WINDOW_MS: u32 = 1000;

/// Which audio a tap carries, relative to the party of the call leg (`tap.md` §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// What the party says: the RTP it sends to the node.
    Speak,
    /// What the party hears: the RTP the node sends to it.
    Listen,
    /// Both, mixed into one stream (or two channels with `stereo`).
    Both,
}

impl Direction {
    /// Parses `speak`, `listen` (alias `hear`) or `both`, case-insensitively.
    pub fn from_name(name: &str) -> Result<Direction, ConfigError> {
        let n = name.trim();
        if n.eq_ignore_ascii_case("speak") {
            Ok(Direction::Speak)
        } else if n.eq_ignore_ascii_case("listen") || n.eq_ignore_ascii_case("hear") {
            Ok(Direction::Listen)
        } else if n.eq_ignore_ascii_case("both") {
            Ok(Direction::Both)
        } else {
            Err(ConfigError::UnknownDirection {
                found: name.to_owned(),
            })
        }
    }

    /// The canonical name, as reported in status events.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Speak => "speak",
            Direction::Listen => "listen",
            Direction::Both => "both",
        }
    }

    /// Whether this direction carries `stream`.
    pub const fn carries(self, stream: Stream) -> bool {
        matches!(
            (self, stream),
            (Direction::Both, _)
                | (Direction::Speak, Stream::Speak)
                | (Direction::Listen, Stream::Listen)
        )
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One of the two media streams of a call leg, as fed to a tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// RTP received from the party.
    Speak,
    /// RTP sent to the party.
    Listen,
}

/// Packetization time: 10 to 120 ms, a multiple of 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ptime(u32);

impl Ptime {
    /// The default, 20 ms.
    pub const DEFAULT: Ptime = Ptime(20);

    /// A ptime of `ms` milliseconds, if it is 10 to 120 and a multiple of 10.
    pub const fn from_ms(ms: u32) -> Result<Ptime, ConfigError> {
        if ms >= 10 && ms <= 120 && ms.is_multiple_of(10) {
            Ok(Ptime(ms))
        } else {
            Err(ConfigError::BadPtime { ms })
        }
    }

    /// Milliseconds.
    pub const fn ms(self) -> u32 {
        self.0
    }

    /// Samples (bytes of G.711) per channel in one frame.
    pub const fn samples(self) -> usize {
        (self.0 * 8) as usize
    }

    /// The duration.
    pub const fn duration(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.0 as u64)
    }
}

impl Default for Ptime {
    fn default() -> Self {
        Ptime::DEFAULT
    }
}

/// The parameters of one tap that shape its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapConfig {
    /// Which audio the tap carries.
    pub direction: Direction,
    /// The codec of the tap stream.
    pub codec: Law,
    /// The audio duration of every frame.
    pub ptime: Ptime,
    /// Two channels (left = speak, right = listen) instead of a mix; `both` only.
    pub stereo: bool,
    /// How late incoming audio may be and still be placed (`tap.md` §9), in ms.
    pub window_ms: u32,
}

impl TapConfig {
    /// A configuration with the defaults for `direction`: PCMU, 20 ms, mono, and the default
    /// alignment window of that direction.
    pub const fn new(direction: Direction) -> TapConfig {
        TapConfig {
            direction,
            codec: Law::Ulaw,
            ptime: Ptime::DEFAULT,
            stereo: false,
            window_ms: match direction {
                Direction::Both => DEFAULT_WINDOW_BOTH_MS,
                _ => DEFAULT_WINDOW_MS,
            },
        }
    }

    /// Checks the combination of parameters.
    pub fn validate(&self) -> Result<(), ConfigError> {
        Ptime::from_ms(self.ptime.ms())?;
        if self.stereo && self.direction != Direction::Both {
            return Err(ConfigError::StereoNeedsBoth {
                direction: self.direction,
            });
        }
        if self.window_ms > MAX_WINDOW_MS {
            return Err(ConfigError::WindowTooLong {
                ms: self.window_ms,
                max_ms: MAX_WINDOW_MS,
            });
        }
        Ok(())
    }

    /// Audio channels in each frame.
    pub const fn channels(&self) -> usize {
        if self.stereo { 2 } else { 1 }
    }

    /// Payload bytes of each frame.
    pub const fn frame_bytes(&self) -> usize {
        self.ptime.samples() * self.channels()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_parse_case_insensitively_with_the_hear_alias() {
        assert_eq!(Direction::from_name("SPEAK"), Ok(Direction::Speak));
        assert_eq!(Direction::from_name("Hear"), Ok(Direction::Listen));
        assert_eq!(Direction::from_name("listen"), Ok(Direction::Listen));
        assert_eq!(Direction::from_name("both"), Ok(Direction::Both));
        assert!(Direction::from_name("speek").is_err());
    }

    #[test]
    fn ptime_is_10_to_120_in_steps_of_10() {
        let ok: Vec<u32> = (0..=200).filter(|ms| Ptime::from_ms(*ms).is_ok()).collect();
        assert_eq!(ok, (1..=12).map(|k| k * 10).collect::<Vec<_>>());
        assert_eq!(Ptime::from_ms(30).map(Ptime::samples), Ok(240));
    }

    #[test]
    fn stereo_needs_both() {
        let mut c = TapConfig::new(Direction::Speak);
        c.stereo = true;
        assert_eq!(
            c.validate(),
            Err(ConfigError::StereoNeedsBoth {
                direction: Direction::Speak
            })
        );
        let mut c = TapConfig::new(Direction::Both);
        c.stereo = true;
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.frame_bytes(), 320);
        assert_eq!(c.window_ms, DEFAULT_WINDOW_BOTH_MS);
    }
}
