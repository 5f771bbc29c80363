//! G.711 (ITU-T G.711, 11/88): µ-law and A-law companding of 16-bit linear PCM.
//!
//! The encoders follow the ITU-T G.191 reference (`g711.c` of the Software Tool Library): µ-law
//! works on the 14 most significant bits of the sample, A-law on the 13 most significant bits,
//! and a negative sample's magnitude is its one's complement in both laws. Because of that
//! truncation, every encoder is a plain table lookup on `sample >> 2` (µ-law) or `sample >> 3`
//! (A-law). Transcoding between the laws uses G.711 Tables 3 and 4. All tables are built at
//! compile time and the crate has no dependencies.
//!
//! Invariants, checked exhaustively by the tests (`tests/`), against an independent
//! implementation and against golden vectors:
//! - All 65,536 linear samples encode as the G.191 reference encodes them, in both laws.
//! - `decode` of every one of the 256 code words, then `encode`, gives the code word back, except
//!   µ-law `0x7F` ("negative zero"), which encodes back as `0xFF`.
//! - The transcoding tables are G.711 Tables 3 and 4: a double conversion (µ → A → µ or
//!   A → µ → A) changes at most the least significant bit, and only for the code words the
//!   standard names.
//!
//! Digital silence is `0xFF` in µ-law and `0xD5` in A-law (the code words of the smallest
//! positive magnitude), as RTP receivers expect.

#![no_std]

mod alaw;
mod convert;
mod law;
mod ulaw;

pub use alaw::{alaw_to_ulaw, decode_alaw, encode_alaw};
pub use law::Law;
pub use ulaw::{decode_ulaw, encode_ulaw, ulaw_to_alaw};
