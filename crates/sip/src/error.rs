//! The one error type of the SIP boundary.
//!
//! Errors from the underlying stack are carried as text: no stack type crosses the boundary, so
//! the stack can be replaced without touching callers.

use std::net::SocketAddr;

/// What went wrong at the SIP boundary.
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    /// A listen socket could not be bound.
    #[error("cannot bind the {transport} listener on {addr}: {source}")]
    Bind {
        /// `"udp"` or `"tcp"`.
        transport: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The configuration asked for no listener at all.
    #[error("no listen address configured: at least a UDP address is needed")]
    NoListener,
    /// A SIP URI given by the caller does not parse.
    #[error("invalid SIP URI {uri:?}: {reason}")]
    InvalidUri {
        /// The text that was given.
        uri: String,
        /// The parser's reason.
        reason: String,
    },
    /// A header given by the caller cannot be put on the wire.
    #[error("invalid header {name:?}: names are tokens, values are one line")]
    InvalidHeader {
        /// The header name that was given.
        name: String,
    },
    /// A status code does not fit what it was used for.
    #[error("status code {code} cannot be used to {purpose}")]
    InvalidStatus {
        /// The code given.
        code: u16,
        /// What it was meant for, e.g. "reject a call".
        purpose: &'static str,
    },
    /// The call is in a state where this action does not apply.
    #[error("cannot {action} a call that is {state}")]
    WrongState {
        /// The action tried, e.g. "answer".
        action: &'static str,
        /// The state the call is in, e.g. "already answered".
        state: &'static str,
    },
    /// The SIP stack refused or failed an action.
    #[error("the SIP stack failed to {action}: {reason}")]
    Stack {
        /// The action, e.g. "send BYE".
        action: &'static str,
        /// The stack's reason.
        reason: String,
    },
    /// The endpoint has shut down.
    #[error("the endpoint has shut down")]
    EndpointClosed,
}

impl SipError {
    pub(crate) fn stack(action: &'static str, err: impl std::fmt::Display) -> Self {
        SipError::Stack {
            action,
            reason: err.to_string(),
        }
    }
}
