//! RTP parsing: any datagram, checked by the invariants of `rtp::fuzz::parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rtp::fuzz::parse(data));
