//! The tap core: any sequence of datagrams and clock steps, checked by `tap::fuzz::run`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tap::fuzz::run(data));
