//! The reference tap receiver: what a customer runs to take earshot's taps and check them.
//!
//! [`Receiver`] listens on `rtp://` (one UDP socket, streams split by source and SSRC) or
//! `ws://` (each connection one stream); [`StatusReceiver`] takes the status-event POSTs.
//! Each stream is checked against the tap contract (`tap.md` §3, §4, §7) by a sans-IO
//! [`RtpStream`] or [`WsStream`]: header fields, numbering, timestamps, frame sizes, the
//! `announce` messages, the Close. It measures loss, duplicates, reordering and the arrival
//! pacing against the steady grid ([`Pacing`]), the RMS level per channel ([`Level`]), and
//! writes the audio to a WAV file ([`WavWriter`]: 8 kHz 16-bit PCM, placed by packet number).
//! [`tone_share`] finds tones in the result. What breaks the contract is a [`Violation`] in
//! the stream's [`StreamReport`]; what only the network can have done is counted, not
//! blamed.

mod audio;
mod error;
mod level;
mod listener;
mod pacing;
mod report;
mod rtp_stream;
mod status;
mod tone;
mod uri;
mod violation;
pub mod wav;
mod ws_stream;

pub use error::ReceiverError;
pub use level::Level;
pub use listener::{Receiver, ReceiverConfig, ReceiverEvent};
pub use pacing::{Pacing, PacingStats};
pub use report::{StreamKind, StreamReport, Window};
pub use rtp_stream::RtpStream;
pub use status::{StatusEvent, StatusReceiver};
pub use tone::{tone_share, tone_shares};
pub use uri::{Expect, ListenUri, Transport, valid_ptime};
pub use violation::{Findings, Violation};
pub use wav::WavWriter;
pub use ws_stream::WsStream;
