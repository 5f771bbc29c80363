//! SWML: any text as a JSON or YAML document, through the complete validation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = swml::check(text);
    }
});
