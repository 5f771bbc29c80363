//! Errors of the tap core.

/// Why a [`crate::TapConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The ptime is outside 10..=120 ms or not a multiple of 10.
    #[error("ptime {ms} ms: expected 10 to 120, a multiple of 10")]
    BadPtime {
        /// The requested ptime.
        ms: u32,
    },
    /// `stereo` was asked for with a single direction.
    #[error("stereo needs direction both, found {direction}")]
    StereoNeedsBoth {
        /// The requested direction.
        direction: crate::Direction,
    },
    /// The alignment window is longer than the core keeps.
    #[error("alignment window {ms} ms: expected at most {max_ms} ms")]
    WindowTooLong {
        /// The requested window.
        ms: u32,
        /// The longest window accepted.
        max_ms: u32,
    },
    /// The direction name is not one of speak, listen (hear), both.
    #[error("expected one of speak, listen, both, found {found:?}")]
    UnknownDirection {
        /// What was given.
        found: String,
    },
}
