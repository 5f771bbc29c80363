//! SIP: any datagram through the screening that runs before the stack.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sip::fuzz::screen(data));
