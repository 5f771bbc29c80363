//! SWML: any JSON document through the complete validation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swml::fuzz::json(data));
