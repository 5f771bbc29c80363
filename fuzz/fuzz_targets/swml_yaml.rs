//! SWML: any YAML document through the complete validation, checked against its JSON form.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| swml::fuzz::yaml(data));
