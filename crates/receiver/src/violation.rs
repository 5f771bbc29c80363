//! [`Violation`]: a way a stream broke the tap contract, and [`Findings`], the record of them.
//!
//! A violation is something the sender did: a header field, a size, a timestamp or a message
//! the contract (`tap.md` §3, §4, §7) rules out. What the network may have done — loss,
//! duplicates, reordering, jitter — is counted in the stream's report, not listed here: a
//! receiver cannot tell a packet the sender never sent from one the network lost.

use std::fmt;

/// One break of the tap contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// A datagram from the stream's source that is not RTP version 2.
    NotRtp {
        /// The parser's reason.
        reason: String,
    },
    /// A header with CSRCs, an extension or padding (the contract's header is 12 bytes).
    HeaderNotPlain {
        /// The packet's sequence number.
        seq: u16,
    },
    /// A payload type other than 0 (PCMU) or 8 (PCMA), or a change of it.
    PayloadType {
        /// The packet's sequence number.
        seq: u16,
        /// The stream's payload type (its first packet's), if it was valid.
        expected: Option<u8>,
        /// What the packet carried.
        found: u8,
    },
    /// The source changed its SSRC while its stream was running.
    SsrcChanged {
        /// The SSRC before.
        from: u32,
        /// The SSRC now.
        to: u32,
    },
    /// The marker bit on a packet other than the first.
    MarkerAfterFirst {
        /// The packet's sequence number.
        seq: u16,
    },
    /// A timestamp that is not the first one plus `samples × packets since`.
    Timestamp {
        /// The packet's sequence number.
        seq: u16,
        /// The timestamp the packet's sequence number implies.
        expected: u32,
        /// The timestamp it carried.
        found: u32,
    },
    /// A packet or message whose payload is not one ptime of audio.
    PayloadSize {
        /// The packet's or message's number in the stream (0 = first).
        index: u64,
        /// The size one ptime takes.
        expected: usize,
        /// The size found.
        found: usize,
    },
    /// A stream whose frames are not 10 to 120 ms, a multiple of 10.
    Ptime {
        /// The samples per channel in one frame.
        samples: u32,
    },
    /// A frame size that fits no channel count the stream could have.
    Channels {
        /// The frame size in bytes.
        bytes: usize,
        /// The samples per channel the ptime implies.
        samples: u32,
    },
    /// A sequence number far ahead of the stream (more than a minute of packets).
    SequenceJump {
        /// The number of packets skipped.
        skipped: i64,
    },
    /// A WebSocket text message that is not a well-formed `start` or `stop` announcement.
    BadText {
        /// What is wrong.
        what: String,
    },
    /// Announcements out of order: a second `start`, `start` after audio, audio after `stop`.
    AnnounceOrder {
        /// What came when it should not.
        what: &'static str,
    },
    /// A field of `start` that contradicts the stream or the listener's expectations.
    AnnounceMismatch {
        /// The field.
        field: &'static str,
        /// The value announced.
        announced: String,
        /// What the stream or the listener says.
        seen: String,
    },
    /// `stop`'s `stats` disagree with what arrived over the connection (TCP loses nothing).
    StopStats {
        /// The field (`frames_sent` or `bytes_sent`).
        field: &'static str,
        /// What `stop` says.
        announced: u64,
        /// What arrived.
        received: u64,
    },
    /// A Close frame whose code is not 1000 (normal closure).
    CloseCode {
        /// The code.
        code: u16,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::NotRtp { reason } => write!(f, "a datagram that is not RTP: {reason}"),
            Violation::HeaderNotPlain { seq } => write!(
                f,
                "packet {seq}: the header has CSRCs, an extension or padding (expected 12 bytes)"
            ),
            Violation::PayloadType {
                seq,
                expected: Some(pt),
                found,
            } => write!(
                f,
                "packet {seq}: payload type {found}, the stream's is {pt}"
            ),
            Violation::PayloadType { seq, found, .. } => {
                write!(f, "packet {seq}: payload type {found} (expected 0 or 8)")
            }
            Violation::SsrcChanged { from, to } => {
                write!(f, "the source changed SSRC from {from:08x} to {to:08x}")
            }
            Violation::MarkerAfterFirst { seq } => {
                write!(
                    f,
                    "packet {seq}: marker bit set on a packet other than the first"
                )
            }
            Violation::Timestamp {
                seq,
                expected,
                found,
            } => write!(f, "packet {seq}: timestamp {found}, expected {expected}"),
            Violation::PayloadSize {
                index,
                expected,
                found,
            } => write!(f, "frame {index}: {found} bytes, expected {expected}"),
            Violation::Ptime { samples } => write!(
                f,
                "frames of {samples} samples ({} ms): not 10 to 120 ms in steps of 10",
                f64::from(*samples) / 8.0
            ),
            Violation::Channels { bytes, samples } => write!(
                f,
                "frames of {bytes} bytes hold no whole number of {samples}-sample channels"
            ),
            Violation::SequenceJump { skipped } => {
                write!(f, "the sequence number jumped {skipped} packets ahead")
            }
            Violation::BadText { what } => write!(f, "text message: {what}"),
            Violation::AnnounceOrder { what } => write!(f, "announce: {what}"),
            Violation::AnnounceMismatch {
                field,
                announced,
                seen,
            } => write!(f, "announce: start says {field} {announced}, but {seen}"),
            Violation::StopStats {
                field,
                announced,
                received,
            } => write!(
                f,
                "announce: stop says {field} {announced}, but {received} arrived"
            ),
            Violation::CloseCode { code } => {
                write!(f, "Close code {code} (expected 1000, normal closure)")
            }
        }
    }
}

/// How many distinct findings a stream keeps; past it they are only counted.
const KEPT: usize = 32;

/// A bounded record of findings: every one is counted, the first few are kept.
#[derive(Debug, Clone)]
pub struct Findings<T> {
    kept: Vec<T>,
    total: u64,
}

impl<T> Default for Findings<T> {
    fn default() -> Self {
        Findings {
            kept: Vec::new(),
            total: 0,
        }
    }
}

impl<T> Findings<T> {
    /// Records one.
    pub fn push(&mut self, finding: T) {
        self.total += 1;
        if self.kept.len() < KEPT {
            self.kept.push(finding);
        }
    }

    /// The first ones recorded.
    pub fn kept(&self) -> &[T] {
        &self.kept
    }

    /// How many were recorded in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether there were none.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}
