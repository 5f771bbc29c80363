//! G.711 (ITU-T G.711, 11/88): µ-law and A-law companding of 16-bit linear PCM.
//!
//! The encoders follow the classic CCITT reference (the Sun `g711.c` formulation): µ-law works
//! on the 14 most significant bits of the sample, A-law on the 13 most significant bits. Because
//! of that truncation, every encoder is a plain table lookup on `sample >> 2` (µ-law) or
//! `sample >> 3` (A-law); all tables are built at compile time and the crate has no
//! dependencies.
//!
//! Invariants, checked exhaustively by the tests:
//! - `decode` of every one of the 256 code words, then `encode`, gives the code word back, except
//!   µ-law `0x7F` ("negative zero"), which encodes back as `0xFF`.
//! - The direct transcoding tables equal `encode(decode(code))` across laws.
//!
//! Digital silence is `0xFF` in µ-law and `0xD5` in A-law (the code words of the smallest
//! positive magnitude), as RTP receivers expect.

#![no_std]

mod alaw;
mod law;
mod ulaw;

pub use alaw::{alaw_to_ulaw, decode_alaw, encode_alaw};
pub use law::Law;
pub use ulaw::{decode_ulaw, encode_ulaw, ulaw_to_alaw};
