//! [`ReceiverError`]: why a receiver could not start or write its files.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a receiver could not start, or could not write or read its files. What a sender gets
/// wrong is never an error: it is a [`crate::Violation`] in the stream's report.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// The URI to listen on is not one this receiver takes.
    #[error("cannot listen on {uri:?}: {reason}")]
    BadUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The system's reason.
        source: std::io::Error,
    },
    /// A WAV file could not be created or written.
    #[error("cannot write {path}: {source}")]
    WavWrite {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// A WAV file could not be read back.
    #[error("cannot read {path}: {what}")]
    WavRead {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
}
