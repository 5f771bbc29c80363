//! SIP: a real INVITE edited by the input, through the screening.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sip::fuzz::invite(data));
