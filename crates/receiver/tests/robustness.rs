//! Whatever a sender sends, the streams count and report it and never panic: arbitrary
//! datagrams into an RTP stream, arbitrary messages into a WebSocket stream.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use receiver::{Expect, RtpStream, WsStream};

fn source() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4000))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_rtp_never_panics(
        datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), 1..40),
        gaps in prop::collection::vec(0u64..100, 40),
    ) {
        let t0 = Instant::now();
        let mut stream: Option<RtpStream> = None;
        let mut at = t0;
        let mut accepted = 0u64;
        for (d, gap) in datagrams.iter().zip(&gaps) {
            at += Duration::from_millis(*gap);
            let Ok(p) = rtp::Packet::parse(d) else { continue };
            let plain = d[0] & 0x3F == 0;
            accepted += 1;
            match &mut stream {
                None => stream = Some(RtpStream::new(1, source(), Expect::default(), at, &p, plain, None)),
                Some(s) => s.handle_packet(at, &p, plain),
            }
        }
        if let Some(mut s) = stream {
            let live = s.poll_report();
            let r = s.finish();
            prop_assert_eq!(r.frames, accepted);
            prop_assert!(live.frames <= accepted);
            prop_assert!(r.violations.len() as u64 <= r.violation_count);
        }
    }

    #[test]
    fn arbitrary_websocket_messages_never_panic(
        messages in prop::collection::vec(
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..700).prop_map(Ok),
                "\\PC{0,120}".prop_map(Err),
                Just(Err(r#"{"event":"start","version":1,"call_id":"c","control_id":"t","direction":"both","codec":"PCMA","rate":8000,"channels":2,"ptime":30,"params":{}}"#.to_string())),
                Just(Err(r#"{"event":"stop","reason":"stopped","stats":{"frames_sent":1,"frames_dropped":0,"bytes_sent":2}}"#.to_string())),
            ],
            0..40,
        ),
        close in prop::option::of(any::<u16>()),
    ) {
        let mut s = WsStream::new(1, source(), "/".into(), Expect::default(), None);
        let t0 = Instant::now();
        let mut binaries = 0u64;
        for (i, m) in messages.iter().enumerate() {
            match m {
                Ok(b) => {
                    binaries += 1;
                    s.handle_binary(t0 + Duration::from_millis(20 * i as u64), b);
                }
                Err(t) => s.handle_text(t),
            }
        }
        if let Some(code) = close {
            s.handle_close(Some(code));
        }
        let r = s.finish();
        prop_assert_eq!(r.frames, binaries);
    }
}
