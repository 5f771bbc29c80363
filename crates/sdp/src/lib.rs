//! SDP offer/answer for earshot's audio calls (RFC 3264 over RFC 4566/8866), on top of
//! ezk-sdp-types' field grammars and printers.
//!
//! The call layer keeps one [`SdpSession`] per call leg and feeds it SDP bodies:
//! [`SdpSession::answer_offer`] for a peer's offer, [`SdpSession::create_offer`] for ours
//! (outbound calls, re-INVITEs, the 200 OK to an INVITE without SDP) and
//! [`SdpSession::handle_answer`] for the peer's answer. Each returns a [`NegotiatedMedia`]:
//! where to send RTP, the G.711 law and payload type, telephone-event, ptime, direction, hold.
//! [`Description::parse`] gives the parsed model on its own. No IO, no clock, no randomness.
//!
//! Supported:
//! - `c=` IPv4 and IPv6, media level overriding session level;
//! - the first usable `m=audio … RTP/AVP` line; other m-lines (video, T.38 `image`,
//!   `application`, SRTP audio, further audio) rejected in place with port 0;
//! - PCMU and PCMA, static (PT 0/8, with or without `a=rtpmap`) or on a dynamic PT with rtpmap;
//! - RFC 4733 `telephone-event/8000` with the offerer's PT; we offer PT 101 and events `0-15`;
//! - `a=ptime` (honoured when offered) and `a=maxptime` (caps ours when no ptime is offered);
//! - `a=sendrecv|sendonly|recvonly|inactive`, media level overriding session level, and RFC 2543
//!   hold (`c=0.0.0.0`, or `::`);
//! - `o=` session id and a version incremented for every SDP written after the first.
//!
//! Deliberately not supported: SRTP (`RTP/SAVP`, DTLS), `RTP/AVPF`, ICE, RTCP attributes
//! (`a=rtcp`, `rtcp-mux`), codecs other than G.711, more than one active audio stream,
//! multicast (TTL and address count are ignored), host names in `c=` (an error: we do not
//! resolve), `b=` bandwidth, SDP capability negotiation (RFC 5939), ANAT.
//!
//! Errors are [`SdpError`]s; nothing in a peer's SDP panics. [`fuzz::parse_and_answer`] is the
//! body of the SDP fuzz target.

mod answer;
mod description;
mod direction;
mod error;
pub mod fuzz;
mod local_media;
mod negotiated_media;
mod offer;
mod ptime;
mod render;
#[cfg(test)]
mod samples;
mod session;

pub use description::{Description, MediaKind, MediaLine, Origin, PayloadFormat};
pub use direction::Direction;
pub use error::SdpError;
pub use g711::Law;
pub use local_media::{CodecPolicy, DEFAULT_TELEPHONE_EVENT_PT, LocalMedia};
pub use negotiated_media::NegotiatedMedia;
pub use ptime::Ptime;
pub use rtp::PayloadType;
pub use session::{Answer, SdpSession};
