//! The WebSocket sink on loopback against a server we did not write (python3-websockets):
//! frames, handshake headers, `announce`, the close; a server that never reads (bounded
//! memory, exact counters); a refused port, a denied destination, a silent server
//! (`connect_failed`); a lost connection, with and without `reconnect`.

#[path = "peers/python.rs"]
mod python;

use std::sync::Arc;
use std::time::{Duration, Instant};

use g711::Law;
use python::PythonPeer;
use server::sink::policy::DestinationPolicy;
use server::sink::uri::TapUri;
use server::sink::ws::{
    Announce, HandshakeHeaders, Reconnect, USER_AGENT, WsEnd, WsEvent, WsSink, WsSinkConfig,
    WsTarget,
};
use server::sink::{Reason, tls};
use tap::{Direction, Output, Ptime, RtpStart, Tap, TapConfig};

const DEADLINE: Duration = Duration::from_secs(10);

fn target(uri: &str) -> WsTarget {
    WsTarget {
        uri: TapUri::parse(uri).expect("a valid ws uri"),
        headers: HandshakeHeaders::default(),
        ptime: Ptime::DEFAULT,
        announce: None,
        reconnect: None,
    }
}

fn start(target: WsTarget, policy: DestinationPolicy, config: WsSinkConfig) -> WsSink {
    tls::install_crypto_provider();
    let tls = tls::client_config(None).expect("TLS configuration");
    WsSink::start(target, policy, Arc::clone(&tls), config)
}

async fn event(sink: &mut WsSink) -> WsEvent {
    tokio::time::timeout(DEADLINE, sink.next_event())
        .await
        .expect("a sink event before the deadline")
        .expect("the sink reports until it ends")
}

async fn ended(sink: &mut WsSink) -> WsEnd {
    loop {
        if let WsEvent::Ended(end) = event(sink).await {
            return end;
        }
    }
}

/// A tap core on virtual time: `frames` frames pushed into `sink`.
struct Producer {
    tap: Tap,
    start: Instant,
    n: u32,
}

impl Producer {
    fn new() -> Producer {
        let start = Instant::now();
        let tap = Tap::new(
            TapConfig::new(Direction::Speak),
            start,
            RtpStart::random(&mut rand::rng()),
        )
        .expect("valid tap");
        Producer { tap, start, n: 0 }
    }

    fn push(&mut self, sink: &WsSink, frames: u32) {
        for _ in 0..frames {
            self.tap.handle_input(tap::Input::Timeout(
                self.start + Duration::from_millis(20) * self.n,
            ));
            self.n += 1;
            while let Output::Transmit(frame) = self.tap.poll_output() {
                sink.push(&frame);
            }
        }
    }

    fn produced(&self) -> u64 {
        self.tap.stats().frames_produced
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_headers_announce_and_close_reach_a_real_server() {
    let mut peer = PythonPeer::start("ws_server.py", &["receive"]).await;
    let mut t = target(&format!("ws://127.0.0.1:{}/tap?id=7", peer.port));
    t.headers = HandshakeHeaders::new(&[("X-Token".into(), "abc".into())], Some("sekrit"))
        .expect("valid headers");
    t.announce = Some(Announce {
        call_id: "call-1".into(),
        control_id: "tap-1".into(),
        direction: Direction::Speak,
        codec: Law::Ulaw,
        channels: 1,
        params: vec![("customer".into(), "42".into())],
    });
    let mut sink = start(t, DestinationPolicy::allow_all(), WsSinkConfig::default());
    assert_eq!(event(&mut sink).await, WsEvent::Open);

    let mut producer = Producer::new();
    // One queue's worth (1000 / 20 ms): none can be dropped, however slow the consumer.
    producer.push(&sink, 50);
    sink.stop(Reason::Stopped);
    let end = ended(&mut sink).await;
    assert_eq!(end.reason, Reason::Stopped, "{end:?}");
    assert_eq!(end.stats.frames_sent, 50);
    assert_eq!(end.stats.frames_dropped, 0);
    assert_eq!(end.stats.bytes_sent, 50 * 160);
    assert_eq!(end.stats.frames_produced(), producer.produced());

    let report = peer.next(DEADLINE).await;
    assert_eq!(report["event"], "connection");
    assert_eq!(report["path"], "/tap?id=7");
    assert_eq!(report["binary"], 50);
    assert_eq!(report["sizes"], serde_json::json!([160]));
    assert_eq!(
        report["byte_values"],
        serde_json::json!([0xFF]),
        "µ-law silence"
    );
    assert_eq!(report["close_code"], 1000);
    let headers = &report["headers"];
    assert_eq!(headers["user-agent"], USER_AGENT);
    assert_eq!(headers["authorization"], "Bearer sekrit");
    assert_eq!(headers["x-token"], "abc");
    assert!(
        headers.get("sec-websocket-protocol").is_none(),
        "no subprotocol"
    );
    assert_eq!(
        report["texts"],
        serde_json::json!([
            r#"{"event":"start","version":1,"call_id":"call-1","control_id":"tap-1","direction":"speak","codec":"PCMU","rate":8000,"channels":1,"ptime":20,"params":{"customer":"42"}}"#,
            r#"{"event":"stop","reason":"stopped","stats":{"frames_sent":50,"frames_dropped":0,"bytes_sent":8000}}"#,
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_reads_costs_bounded_memory_and_exact_counts() {
    let mut peer = PythonPeer::start("ws_server.py", &["stall"]).await;
    let config = WsSinkConfig {
        close_wait: Duration::from_millis(300),
        ..WsSinkConfig::default()
    };
    let mut sink = start(
        target(&format!("ws://127.0.0.1:{}/", peer.port)),
        DestinationPolicy::allow_all(),
        config,
    );
    assert_eq!(event(&mut sink).await, WsEvent::Open);
    assert_eq!(peer.next(DEADLINE).await["event"], "handshake");

    // 20 MB of audio offered at once: far past what the socket buffers hold.
    let mut producer = Producer::new();
    for _ in 0..250 {
        producer.push(&sink, 500);
        tokio::task::yield_now().await;
        let s = sink.stats();
        // Queued = produced - sent - dropped never exceeds the queue (50) and the one frame
        // in flight.
        assert!(producer.produced() - s.frames_produced() <= 51);
    }
    let began = Instant::now();
    sink.stop(Reason::CallEnded);
    let end = ended(&mut sink).await;
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "the end is bounded by twice close_wait"
    );
    assert_eq!(end.reason, Reason::CallEnded);
    assert_eq!(end.stats.frames_produced(), producer.produced());
    assert_eq!(producer.produced(), 125_000);
    assert!(end.stats.frames_dropped > 100_000, "{:?}", end.stats);
    assert_eq!(end.stats.bytes_sent, end.stats.frames_sent * 160);
}

#[tokio::test]
async fn a_refused_port_is_connect_failed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut sink = start(
        target(&format!("ws://127.0.0.1:{port}/")),
        DestinationPolicy::allow_all(),
        WsSinkConfig::default(),
    );
    let mut producer = Producer::new();
    producer.push(&sink, 3);
    let end = ended(&mut sink).await;
    assert_eq!(end.reason, Reason::ConnectFailed, "{end:?}");
    // Frames produced before and after the failure are counted as dropped.
    producer.push(&sink, 2);
    assert_eq!(sink.stats().frames_produced(), 5);
    assert_eq!(sink.stats().frames_sent, 0);
}

#[tokio::test]
async fn a_denied_destination_is_never_contacted() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut sink = start(
        target(&format!("ws://127.0.0.1:{port}/")),
        DestinationPolicy::deny_private(vec![]),
        WsSinkConfig::default(),
    );
    let end = ended(&mut sink).await;
    assert_eq!(end.reason, Reason::DestinationDenied, "{end:?}");
    let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
    assert!(accepted.is_err(), "no connection was made");
}

#[tokio::test]
async fn a_silent_server_is_connect_failed_at_the_timeout() {
    // Accepts TCP, never answers the handshake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let (conn, _) = listener.accept().await.expect("accept");
        std::future::pending::<()>().await;
        drop(conn);
    });
    let config = WsSinkConfig {
        connect_timeout: Duration::from_millis(300),
        ..WsSinkConfig::default()
    };
    let began = Instant::now();
    let mut sink = start(
        target(&format!("ws://127.0.0.1:{port}/")),
        DestinationPolicy::allow_all(),
        config,
    );
    let end = ended(&mut sink).await;
    assert_eq!(end.reason, Reason::ConnectFailed);
    assert!(began.elapsed() >= Duration::from_millis(300));
    hold.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_is_connection_lost_without_reconnect() {
    let mut peer = PythonPeer::start("ws_server.py", &["drop_after", "5"]).await;
    let mut sink = start(
        target(&format!("ws://127.0.0.1:{}/", peer.port)),
        DestinationPolicy::allow_all(),
        WsSinkConfig::default(),
    );
    assert_eq!(event(&mut sink).await, WsEvent::Open);
    let mut producer = Producer::new();
    producer.push(&sink, 5);
    assert_eq!(peer.next(DEADLINE).await["binary"], 5);
    // Keep producing (paced) until the sink notices the loss.
    let end = loop {
        producer.push(&sink, 1);
        match tokio::time::timeout(Duration::from_millis(20), sink.next_event()).await {
            Ok(Some(WsEvent::Ended(end))) => break end,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(_) => assert!(producer.produced() < 500, "the loss is noticed"),
        }
    };
    assert_eq!(end.reason, Reason::ConnectionLost, "{end:?}");
    // A frame pushed while the sink was ending is counted too, as dropped: the live counters,
    // read once the producer has stopped, account for every frame.
    assert!(
        end.stats.frames_produced() <= producer.produced(),
        "{end:?}"
    );
    assert_eq!(sink.stats().frames_produced(), producer.produced());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_resumes_with_a_gap_and_announces_it() {
    let mut peer = PythonPeer::start("ws_server.py", &["drop_after", "5"]).await;
    let mut t = target(&format!("ws://127.0.0.1:{}/", peer.port));
    t.reconnect = Some(Reconnect {
        attempts: 3,
        max_gap: Duration::from_secs(5),
    });
    t.announce = Some(Announce {
        call_id: "c".into(),
        control_id: "t".into(),
        direction: Direction::Speak,
        codec: Law::Ulaw,
        channels: 1,
        params: vec![],
    });
    let mut sink = start(t, DestinationPolicy::allow_all(), WsSinkConfig::default());
    assert_eq!(event(&mut sink).await, WsEvent::Open);
    let mut producer = Producer::new();
    producer.push(&sink, 5);
    let first = peer.next(DEADLINE).await;
    assert_eq!(first["binary"], 5);
    let reopened = loop {
        producer.push(&sink, 1);
        match tokio::time::timeout(Duration::from_millis(20), sink.next_event()).await {
            Ok(Some(e)) => break e,
            Ok(None) => panic!("the sink ended"),
            Err(_) => assert!(producer.produced() < 500, "the reconnect happens"),
        }
    };
    assert_eq!(reopened, WsEvent::Reopened { attempt: 1 });
    producer.push(&sink, 10);
    sink.stop(Reason::Stopped);
    let end = ended(&mut sink).await;
    assert_eq!(end.reason, Reason::Stopped);
    assert_eq!(end.stats.frames_produced(), producer.produced());
    assert!(end.stats.frames_sent >= 15, "{:?}", end.stats);
    let second = peer.next(DEADLINE).await;
    assert_eq!(second["index"], 2);
    let texts = second["texts"].as_array().expect("texts");
    let start: serde_json::Value =
        serde_json::from_str(texts[0].as_str().expect("text")).expect("start JSON");
    assert_eq!(start["event"], "start");
    let resumed_at = start["resumed_at"]
        .as_u64()
        .expect("resumed_at on a resume");
    assert!(
        resumed_at >= 5 * 20,
        "resumed at {resumed_at} ms, after the 5 frames sent"
    );
    assert_eq!(resumed_at % 20, 0, "on the frame grid");
    assert_eq!(second["close_code"], 1000);
}
