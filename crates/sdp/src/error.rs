//! [`SdpError`]: everything that can go wrong parsing or negotiating SDP.
//!
//! Parse errors name the (1-based) line and the field, so a log line says what the peer got
//! wrong. Negotiation errors ([`SdpError::is_not_acceptable`]) are the ones the SIP layer answers
//! with 488 Not Acceptable Here; the rest mean the peer sent malformed SDP (400).

use rtp::PayloadType;

/// An error from parsing an SDP body or from offer/answer negotiation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body is not UTF-8 text.
    #[error("SDP is not UTF-8 text (invalid byte at offset {valid_up_to})")]
    NotUtf8 {
        /// Offset of the first byte that is not valid UTF-8.
        valid_up_to: usize,
    },
    /// The body does not start with `v=0` (an empty body included).
    #[error("SDP does not start with v=0 (line {line})")]
    MissingVersion {
        /// The first non-empty line, or 0 for an empty body.
        line: usize,
    },
    /// A line is not of the form `<letter>=<value>`.
    #[error("line {line} is not of the form <type>=<value>")]
    MalformedLine {
        /// The offending line.
        line: usize,
    },
    /// A field we read could not be parsed.
    #[error("line {line}: invalid {field}")]
    InvalidField {
        /// The offending line.
        line: usize,
        /// Which field, as written in SDP (`o=`, `c=`, `m=`, `a=rtpmap`, …).
        field: &'static str,
    },
    /// A mandatory session-level line is absent.
    #[error("SDP has no {field} line")]
    MissingField {
        /// Which line (`o=`, `s=` or `t=`).
        field: &'static str,
    },
    /// A `c=` line names a host instead of an IP address; earshot does not resolve names.
    #[error("line {line}: connection address is not an IP address")]
    UnresolvedConnectionAddress {
        /// The offending line.
        line: usize,
    },
    /// The stream we would use has no `c=` line, neither at media nor at session level.
    #[error("media line {media_index} has no connection address (c=)")]
    MissingConnection {
        /// Index of the m-line, in order of appearance (0-based).
        media_index: usize,
    },
    /// The offer has no RTP/AVP audio stream with a non-zero port.
    #[error("no usable audio stream (m=audio with RTP/AVP and a non-zero port)")]
    NoAudioStream,
    /// The offer's audio streams share no codec with our capabilities.
    #[error("no codec in common; offered payload types {offered:?}")]
    NoCommonCodec {
        /// The payload types of the first usable audio stream of the offer.
        offered: Vec<PayloadType>,
    },
    /// Our capabilities list no codec, so there is nothing to offer.
    #[error("local capabilities list no codec to offer")]
    NoLocalCodec,
    /// Our telephone-event payload type is also one of our codecs' payload types.
    #[error("telephone-event payload type {pt:?} collides with a codec payload type")]
    TelephoneEventCollision {
        /// The configured telephone-event payload type.
        pt: PayloadType,
    },
    /// An answer arrived while no offer of ours was outstanding.
    #[error("received an answer but no offer is outstanding")]
    NoOfferPending,
    /// The answer does not have one m-line per m-line of our offer (RFC 3264 §6).
    #[error("answer has {answered} media lines, our offer had {offered}")]
    MediaCountMismatch {
        /// m-lines in our offer.
        offered: usize,
        /// m-lines in the answer.
        answered: usize,
    },
    /// The answer rejected our audio stream (port 0) or turned it into something else.
    #[error("answer rejected the audio stream")]
    AudioRejected,
    /// The answer's audio stream lists none of the codecs we offered.
    #[error("answer picked none of our codecs; answered payload types {answered:?}")]
    AnswerCodecNotOffered {
        /// The payload types of the answer's audio stream.
        answered: Vec<PayloadType>,
    },
}

impl SdpError {
    /// Whether this is a negotiation failure (488 Not Acceptable Here) rather than malformed
    /// SDP (400 Bad Request).
    pub fn is_not_acceptable(&self) -> bool {
        matches!(
            self,
            SdpError::NoAudioStream
                | SdpError::NoCommonCodec { .. }
                | SdpError::MissingConnection { .. }
                | SdpError::UnresolvedConnectionAddress { .. }
        )
    }
}
