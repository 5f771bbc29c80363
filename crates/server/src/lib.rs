//! The earshot node: the only crate that owns sockets and tasks.
//!
//! [`Node::start`] binds the SIP endpoint and the RTP port pool and runs one task per call. A
//! call task owns its leg(s), its SDP session and its signalling handle, and drives them with
//! one `select!` over the leg's socket, the leg's next send deadline and the call's signalling
//! events: no locks, no channels on the media path (see `ARCHITECTURE.md`).
//!
//! An inbound call runs the node's [`CallFlow`]: the SWML document routed by the called user
//! (`script.rs`), the bridge to a fixed URI (`bridge.rs`), or, by default, the echo flow:
//! answer, play the caller's own audio back to it, hang up when it does (or when its media
//! stops for the inactivity timeout). A call's taps live in its task (`taps.rs`). [`dial`]
//! places an outbound call.
//!
//! Every call is in the node's registry (`registry.rs`) with a command queue its task selects
//! on; the control API ([`api`]) reaches calls only through it. [`Config`] is the
//! configuration file; [`Node::shutdown_gracefully`] drains, ends the calls and waits for
//! every tap's `finished` event.

pub mod api;
mod bridge;
mod call;
mod config;
mod dial;
mod error;
pub mod http;
mod metrics;
mod node;
mod party;
pub mod redact;
mod registry;
mod script;
pub mod sink;
mod taps;
pub mod wav;

pub use call::{CallFlow, CallReport};
pub use config::{
    ApiSection, Config, FlowSection, Listen, LogSection, NodeConfig, REDACTED, RtpSection,
    ShutdownSection, SipSection, TapsSection,
};
pub use dial::{DialOptions, DialReport, TONE_SEQUENCE_HZ, dial, tone_sequence};
pub use error::ServerError;
pub use node::{Node, ShutdownReport};
pub use script::{Route, Routes, load_routes};
pub use taps::TapRules;
