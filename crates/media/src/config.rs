//! [`LegConfig`]: the knobs of one leg that do not come from SDP.

use std::time::Duration;

/// How a leg treats its peer's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegConfig {
    /// Symmetric RTP (RFC 4961 behaviour towards NATed peers): send to where the peer's
    /// packets come from instead of the SDP address. See [`crate::LegCore`] for the rule.
    pub latching: bool,
    /// Report [`crate::LegEvent::Inactive`] after this long without RTP from the peer; `None`
    /// never reports. A leg on hold is exempt.
    pub inactivity_timeout: Option<Duration>,
    /// How late echoed audio may arrive and still be played, in ms: the playout delay of
    /// [`crate::Source::Echo`] and of relayed audio of another ptime than the leg's (at most
    /// [`tap::MAX_WINDOW_MS`]). Relayed audio of the leg's ptime is forwarded at once; the
    /// leg's own frames resume one ptime plus this window (at least
    /// [`crate::RELAY_HOLD_OFF`]) after the last of it.
    pub playout_window_ms: u32,
    /// How many overdue frames are still sent when the shell falls behind its schedule;
    /// older ones are skipped (timestamps jump, sequence numbers stay continuous).
    pub max_burst: u32,
}

impl LegConfig {
    /// The default inactivity timeout, 30 s.
    pub const DEFAULT_INACTIVITY_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default playout window, 40 ms.
    pub const DEFAULT_PLAYOUT_WINDOW_MS: u32 = 40;
    /// The default burst limit, 5 frames.
    pub const DEFAULT_MAX_BURST: u32 = 5;
}

impl Default for LegConfig {
    fn default() -> Self {
        LegConfig {
            latching: true,
            inactivity_timeout: Some(Self::DEFAULT_INACTIVITY_TIMEOUT),
            playout_window_ms: Self::DEFAULT_PLAYOUT_WINDOW_MS,
            max_burst: Self::DEFAULT_MAX_BURST,
        }
    }
}
