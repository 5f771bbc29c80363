//! RTP (RFC 3550 §5.1) packets as earshot reads and writes them.
//!
//! - [`Packet::parse`] reads any RTP version-2 packet: the CSRC list (§5.1), a header extension
//!   (§5.3.1) and padding (§5.1, `P` bit) are accepted and skipped, leaving the payload. It never
//!   panics and never allocates; every malformed input is a [`ParseError`] naming what was wrong.
//! - [`Header::write`] writes the 12-byte fixed header earshot sends: no CSRC, no extension, no
//!   padding.
//! - [`SeqNo`] and [`RtpTime`] are the 16- and 32-bit wrapping counters; [`SeqUnwrapper`] and
//!   [`TimeUnwrapper`] extend them to 64 bits across wrap-around (RFC 3550 Appendix A.1).
//! - [`fuzz`] holds the bodies of fuzz targets for the parser.

pub mod fuzz;
mod header;
mod packet;
mod unwrap;

pub use header::{HEADER_LEN, Header, PayloadType, RtpTime, SeqNo, Ssrc};
pub use packet::{Packet, ParseError, WriteError};
pub use unwrap::{SeqUnwrapper, TimeUnwrapper};
