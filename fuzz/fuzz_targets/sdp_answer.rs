//! SDP: parse any body as an offer and answer it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sdp::fuzz::parse_and_answer(data));
