//! Control API request bodies: any bytes as the body of `POST /api/calling/calls`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| server::api::fuzz::body(data));
