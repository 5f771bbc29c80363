//! The thin boundary over the SIP stack: what a call needs, nothing more.
//!
//! earshot answers and places SIP calls (RFC 3261) through [`Endpoint`]. The stack underneath
//! is `rsipstack` 0.7.14, pinned exactly; none of its types appear in this API, so it can be
//! replaced (the fallback is `ezk-sip-ua`). SDP bodies are opaque [`bytes::Bytes`]: offer/answer
//! is the `sdp` crate's business.
//!
//! # Using it
//!
//! ```no_run
//! # async fn run() -> Result<(), sip::SipError> {
//! use sip::{Endpoint, EndpointConfig, InboundEvent};
//! let (endpoint, mut incoming) = Endpoint::bind(EndpointConfig::default()).await?;
//! while let Some(offered) = incoming.next().await {
//!     let mut call = offered.call;
//!     call.ringing()?;
//!     call.answer(bytes::Bytes::from_static(b"v=0\r\n..."))?;
//!     while let Some(event) = call.next_event().await {
//!         if let InboundEvent::Terminated { .. } = event {
//!             break;
//!         }
//!     }
//! }
//! # drop(endpoint);
//! # Ok(())
//! # }
//! ```
//!
//! # Supported
//!
//! - UDP and TCP listeners on configurable addresses (port 0 picks a free port).
//! - Inbound calls ([`IncomingCall`], [`InboundCall`]): automatic `100 Trying`, `180`, `200`
//!   with SDP, rejection with any 3xx–6xx plus `Reason` (RFC 3326) and `Retry-After`;
//!   offerless INVITE (our offer in the 200, the answer in [`InboundEvent::Acked`]); CANCEL
//!   before answer (487 + 200 by the stack, [`InboundEvent::Cancelled`]); BYE either way; the
//!   dialog ends by itself with BYE when the ACK to our 200 never comes.
//! - Outbound calls ([`Endpoint::dial`], [`OutboundCall`]): provisional responses, the 2xx
//!   (ACKed by the stack), failures with code and phrase, a ring timeout that sends CANCEL,
//!   digest authentication on 401/407 (one retry with the given [`Credentials`]), extra
//!   headers, BYE either way.
//! - In both directions: re-INVITE, or UPDATE with an offer, as a [`ReInvite`] that the call
//!   answers without the dialog dropping; UPDATE without a body and in-dialog OPTIONS get 200.
//! - Out of dialog: OPTIONS gets 200 (`503` + `Retry-After` while [draining]); new INVITEs get
//!   503 while draining or when [`IncomingCalls`] is full; REGISTER, SUBSCRIBE, PUBLISH,
//!   MESSAGE, NOTIFY, REFER get 405 with `Allow`; unknown methods get 501; a request with a To
//!   tag and no dialog gets 481. Retransmissions are absorbed by the stack's transactions.
//! - Hostile input: every UDP datagram passes a per-source-IP token bucket ([`RateLimit`])
//!   and a screening parse *before* the stack sees it (the stack queues on unbounded
//!   channels). Malformed requests that can still be answered get 400, the rest are dropped;
//!   both are counted in [`EndpointStats`]. Nothing a peer sends can panic the node: the
//!   screening parse runs the stack's parser under `catch_unwind`.
//!
//! # Deliberately not supported
//!
//! - TLS, WebSocket, SCTP; IPv6 has not been tested.
//! - REGISTER (as client or registrar), SUBSCRIBE/NOTIFY, REFER/transfer, INFO (DTMF goes in
//!   RTP, RFC 4733), MESSAGE: answered 405 or 501.
//! - PRACK/100rel (RFC 3262), session timers (RFC 4028), forking beyond what the stack does
//!   (extra 2xx branches are ACKed and BYEd), outbound proxies and DNS SRV/NAPTR (requests go
//!   to the host of the Request-URI), NAT traversal (Contact is the listen address).
//! - Offerless outbound INVITE: the 2xx would carry the peer's offer and the stack's automatic
//!   ACK cannot carry our answer.
//! - Outbound calls over TCP: dialing uses UDP.
//!
//! # Where the stack is worked around
//!
//! - rsipstack's TCP listener binds inside its own task and cannot report a port-0 address,
//!   and has no per-connection hook: earshot runs the accept loop and hands streams over.
//! - rsipstack's `reject()` cannot add headers: the rejection is sent to the transaction
//!   first and `reject()` is then called only to end the dialog.
//! - rsipstack's parser knows fourteen methods and fails on any other; the screening answers
//!   those 501 itself.
//! - Over TCP, messages are framed and parsed by the stack before the rate limit applies, and
//!   a stream whose framing breaks is closed by the stack rather than counted.
//!
//! [draining]: Endpoint::set_draining
mod config;
mod endpoint;
mod error;
pub mod fuzz;
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
pub use stats::{EndpointStats, METHODS};
