//! SWML expressions: parse, evaluate against fixed scopes, substitute.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swml::fuzz::expression(data));
