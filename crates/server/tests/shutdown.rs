//! Graceful shutdown end to end: a call with an RTP tap and a WebSocket tap is up; the node
//! drains (OPTIONS and `/ready` answer 503, the call goes on), then shuts down: the caller
//! gets a BYE, both taps finish with `call_ended`, and the shutdown returns only once every
//! `finished` event has been delivered, one of them after a retry.

mod peer;
#[path = "peers/python.rs"]
mod python;

use std::time::Duration;

use peer::sipp::{Sipp, SippRun};
use peer::{DEADLINE, Ports, next_report, node_config, scenario, start, swml_flow};
use serde_json::Value;
use server::Listen;
use server::api::{Api, ApiOptions};

fn body(line: &Value) -> Value {
    serde_json::from_str(line["body"].as_str().expect("a body")).expect("a JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_then_ends_calls_and_delivers_every_finished() {
    let ports = Ports::block(29);
    let tap_port = ports.sipp_media() + 50;
    let _receiver = std::net::UdpSocket::bind(("127.0.0.1", tap_port)).expect("the tap's receiver");
    // The RTP tap's receiver refuses its first `finished` with 503: delivery must retry.
    let mut rtp_status = python::PythonPeer::start("status_server.py", &["200,503,200"]).await;
    let mut ws_status = python::PythonPeer::start("status_server.py", &["200"]).await;
    let mut ws = python::PythonPeer::start("ws_server.py", &["receive"]).await;
    let dir = std::env::temp_dir().join(format!("earshot-shutdown-{}", std::process::id()));
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{tap_port}
        control_id: rtp-tap
        status_url: http://127.0.0.1:{}/events
    - tap:
        uri: ws://127.0.0.1:{}/audio
        control_id: ws-tap
        direction: both
        status_url: http://127.0.0.1:{}/events
    - play:
        url: silence:60
",
        rtp_status.port, ws.port, ws_status.port
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
    let node = start(config).await;
    let mut reports = node.reports();
    let api = Api::bind(
        &node,
        ApiOptions {
            listen: Listen::Addr("127.0.0.1:0".parse().expect("an address")),
            ops_listen: Listen::OnApi,
            project_id: "p".into(),
            token: "t".into(),
        },
    )
    .await
    .expect("the API binds");
    server::sink::tls::install_crypto_provider();
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client");
    let ready = || async {
        let url = format!("http://{}/ready", api.addr().expect("the API listens"));
        http.get(url)
            .send()
            .await
            .expect("/ready answers")
            .status()
            .as_u16()
    };
    let target = node.sip_udp_addr().to_string();
    let caller = Sipp::spawn(&SippRun {
        name: "shutdown-call",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(40),
        args: &[
            "-sf",
            &scenario("uac_pcap_until_bye.xml"),
            "-s",
            "tap",
            &target,
        ],
    });

    // Both taps are tapping: the call is up.
    let rtp_tapping = body(&rtp_status.next(DEADLINE).await);
    let ws_tapping = body(&ws_status.next(DEADLINE).await);
    assert_eq!(rtp_tapping["params"]["state"], "tapping", "{rtp_tapping}");
    assert_eq!(ws_tapping["params"]["state"], "tapping", "{ws_tapping}");
    assert_eq!(ready().await, 200);

    // Draining: no new calls (OPTIONS 503 with Retry-After, /ready 503), the call goes on.
    node.drain();
    assert_eq!(ready().await, 503);
    let options = Sipp::spawn(&SippRun {
        name: "shutdown-options",
        local_port: ports.sipp() + 1,
        media_port: ports.sipp_media() + 20,
        calls: 1,
        timeout: Duration::from_secs(10),
        args: &[
            "-sf",
            &scenario("uac_options_503.xml"),
            "-s",
            "any",
            &target,
        ],
    });
    options.expect_one_call().await;
    assert_eq!(node.active_calls(), 1);

    // Shutdown: BYE, both taps finished with call_ended, every event delivered before it
    // returns.
    let left = tokio::time::timeout(DEADLINE, node.shutdown_gracefully(Duration::from_secs(10)))
        .await
        .expect("the shutdown keeps its own deadline");
    assert!(left.is_clean(), "{left:?}");
    assert_eq!(node.active_calls(), 0);
    // Everything below had arrived before the shutdown returned: reading it is immediate.
    let now = Duration::from_millis(100);
    let refused = rtp_status.next(now).await;
    let retried = rtp_status.next(now).await;
    assert_eq!(
        (refused["code"].as_u64(), retried["code"].as_u64()),
        (Some(503), Some(200))
    );
    let (refused, retried) = (body(&refused), body(&retried));
    assert_eq!(refused, retried, "the retry carries the same event");
    assert_eq!(retried["params"]["state"], "finished", "{retried}");
    assert_eq!(retried["params"]["reason"], "call_ended");
    assert_eq!(retried["params"]["control_id"], "rtp-tap");
    assert!(
        retried["params"]["stats"]["frames_sent"].as_u64() > Some(0),
        "{retried}"
    );
    let ws_finished = body(&ws_status.next(now).await);
    assert_eq!(ws_finished["params"]["state"], "finished", "{ws_finished}");
    assert_eq!(ws_finished["params"]["reason"], "call_ended");
    assert_eq!(ws_finished["params"]["control_id"], "ws-tap");
    let connection = ws.next(now).await;
    assert_eq!(connection["close_code"], 1000, "{connection}");
    assert_eq!(
        connection["binary"].as_u64(),
        ws_finished["params"]["stats"]["frames_sent"].as_u64(),
        "every frame the tap counted arrived"
    );
    assert_eq!(ready().await, 503);

    caller.expect_one_call().await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "node shut down", "{report:?}");
}
