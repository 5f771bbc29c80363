//! placeholder
mod config;
mod endpoint;
mod error;
mod guarded_socket;
mod in_dialog;
mod inbound;
mod outbound;
mod rate_limit;
mod screening;
mod stats;
mod tcp_listener;

pub use config::EndpointConfig;
pub use endpoint::{Endpoint, IncomingCalls};
pub use error::SipError;
pub use in_dialog::{EndReason, ReInvite};
pub use inbound::{CallId, InboundCall, InboundEvent, IncomingCall, Rejection, SignalTransport};
pub use outbound::{Credentials, DialFailure, DialRequest, OutboundCall, OutboundEvent};
pub use rate_limit::RateLimit;
pub use stats::EndpointStats;
