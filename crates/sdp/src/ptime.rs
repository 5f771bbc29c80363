//! [`Ptime`]: the packetization time of an audio stream (RFC 4566 §6 `a=ptime`, RFC 3551 §4.5).

use std::fmt;
use std::time::Duration;

/// Milliseconds of audio per RTP packet; never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ptime(u16);

impl Ptime {
    /// 20 ms, the RFC 3551 default for G.711.
    pub const DEFAULT: Ptime = Ptime(20);

    /// A ptime of `ms` milliseconds, if `ms` is not zero.
    pub const fn from_ms(ms: u16) -> Option<Ptime> {
        if ms == 0 { None } else { Some(Ptime(ms)) }
    }

    /// The ptime in milliseconds.
    pub const fn as_ms(self) -> u16 {
        self.0
    }

    /// The ptime as a [`Duration`].
    pub fn duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0))
    }

    /// Parses an attribute value such as `20`; a fractional part of zeros (`20.0`) is accepted,
    /// as some endpoints write it.
    pub(crate) fn parse(value: &str) -> Option<Ptime> {
        let value = value.trim();
        let int = match value.split_once('.') {
            Some((int, frac)) if frac.bytes().all(|b| b == b'0') => int,
            Some(_) => return None,
            None => value,
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        int.parse().ok().and_then(Ptime::from_ms)
    }
}

impl Default for Ptime {
    fn default() -> Self {
        Ptime::DEFAULT
    }
}

impl fmt::Display for Ptime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integer_and_zero_fraction() {
        assert_eq!(Ptime::parse("20"), Ptime::from_ms(20));
        assert_eq!(Ptime::parse(" 30 "), Ptime::from_ms(30));
        assert_eq!(Ptime::parse("20.00"), Ptime::from_ms(20));
    }

    #[test]
    fn rejects_zero_fractions_signs_and_overflow() {
        for bad in ["0", "", "20.5", "-20", "+20", "70000", "x", "."] {
            assert_eq!(Ptime::parse(bad), None, "{bad:?}");
        }
    }
}
