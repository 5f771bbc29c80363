//! What can stop a run.

/// Why a run could not be made or finished.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Sockets, the node process or the runtime could not be set up.
    #[error("setup: {0}")]
    Setup(String),
    /// A SIP step failed.
    #[error("SIP: {0}")]
    Sip(String),
    /// `/proc` could not be read.
    #[error("/proc: {0}")]
    Proc(String),
    /// Results could not be read or written.
    #[error("results: {0}")]
    Results(String),
    /// A process of the comparison failed.
    #[error("comparison: {0}")]
    Compare(String),
}
