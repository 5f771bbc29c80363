//! Errors of the node.

/// What went wrong starting the node or placing a call.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The SIP endpoint could not start.
    #[error("SIP endpoint: {source}")]
    Sip {
        /// The boundary's error.
        #[from]
        source: sip::SipError,
    },
    /// The RTP port pool or a leg could not start.
    #[error("RTP media: {source}")]
    Media {
        /// The media crate's error.
        #[from]
        source: media::MediaError,
    },
    /// Our own SDP could not be made, or the peer's was unusable.
    #[error("SDP: {source}")]
    Sdp {
        /// The SDP crate's error.
        #[from]
        source: sdp::SdpError,
    },
    /// TLS could not be set up.
    #[error("TLS: {source}")]
    Tls {
        /// What went wrong.
        #[from]
        source: crate::sink::tls::TlsError,
    },
    /// The HTTP client for call flows could not be built.
    #[error("HTTP client: {reason}")]
    Http {
        /// Why.
        reason: String,
    },
    /// An outbound call was not answered.
    #[error("call to {to} failed: {reason}")]
    DialFailed {
        /// Who was called.
        to: String,
        /// What the far end or the stack said.
        reason: String,
    },
    /// The configuration is not usable.
    #[error("configuration: {reason}")]
    Config {
        /// Which key, and what is wrong with it.
        reason: String,
    },
}
