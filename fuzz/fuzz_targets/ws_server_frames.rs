//! The WebSocket sink: any bytes a server sends after the handshake, read as the sink reads them.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| server::sink::ws_inbound::fuzz(data));
