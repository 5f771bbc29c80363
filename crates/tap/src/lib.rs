//! The tap core: turns the two audio directions of a call leg into the exact tap stream of
//! the tap contract (`tap.md` §3 and §9), without IO.
//!
//! A [`Tap`] is a deterministic state machine in the style of sans-IO protocol crates: time
//! and randomness are inputs, and output is polled.
//!
//! ```text
//! shell ── Input::Rtp { now, stream, packet } ──▶ Tap ── Output::Transmit(Frame) ──▶ sink
//!       ── Input::Timeout(now) ─────────────────▶     ── Output::Timeout(next due) ─▶ timer
//!       ── Input::Stop(now) ────────────────────▶     ── Output::Finished
//! ```
//!
//! What it guarantees, for any input:
//! - exactly one frame per ptime on the grid `start + n·ptime`, from start until stop, each with
//!   exactly `ptime` of audio (twice the bytes when stereo);
//! - sequence numbers rising by one and timestamps by `8·ptime_ms` from a random start, the
//!   marker on the first frame only, payload type 0 or 8;
//! - incoming audio placed by its RTP timestamp on the node's clock, inside an alignment window:
//!   jitter and reordering within the window cause neither gaps nor clicks; audio later than the
//!   window is counted as late and dropped; missing audio is digital silence;
//! - `both`: the two directions aligned on the node's clock and mixed as the saturating sum of
//!   their linear samples; `stereo`: left = speak, right = listen, interleaved.
//!
//! See `docs/tap-core.md` for how incoming audio is placed on the timeline.

mod config;
mod error;
pub mod fuzz;
mod lane;
mod stats;
mod tap;

pub use config::{
    DEFAULT_WINDOW_BOTH_MS, DEFAULT_WINDOW_MS, Direction, MAX_WINDOW_MS, Ptime, Stream, TapConfig,
};
pub use error::ConfigError;
pub use stats::{LaneStats, TapStats};
pub use tap::{Frame, Input, Output, RtpStart, Tap};
