//! Taps on live calls, end to end: SIPp calls in with known audio, the call's SWML document
//! taps it, and receivers we did not write (tcpdump for RTP, Python's http.server for status
//! events, Python websockets for WebSocket) check what arrives.

mod peer;
#[path = "peers/python.rs"]
mod python;

use std::time::Duration;

use g711::Law;
use peer::capture::Capture;
use peer::sipp::{Sipp, SippRun};
use peer::stream::{assert_continuous, audio, longest_common_run, rtp_packets, sipp_pcap};
use peer::{Ports, next_report, node_config, start};
use server::{CallFlow, load_routes};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtp_tap_of_what_the_caller_says_with_status_events() {
    let ports = Ports::block(15);
    let tap_port = ports.sipp_media() + 50;
    // Something listens on the tap's port, so that no ICMP comes back.
    let _receiver = std::net::UdpSocket::bind(("127.0.0.1", tap_port)).expect("the tap's receiver");
    let mut status = python::PythonPeer::start("status_server.py", &["200"]).await;
    let dir = std::env::temp_dir().join(format!("earshot-tap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let doc_path = dir.join("tap.yaml");
    std::fs::write(
        &doc_path,
        format!(
            "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{tap_port}
        control_id: t1
        direction: speak
        codec: PCMU
        status_url: http://127.0.0.1:{}/events
    - play:
        url: silence:30
",
            status.port
        ),
    )
    .expect("the document");
    let mut config = node_config(ports.rtp(20));
    config.flow = CallFlow::Swml(std::sync::Arc::new(
        load_routes(Some(&doc_path), &[]).expect("a valid document"),
    ));
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start("tap-rtp", &format!("dst port {tap_port}")).await;
    let target = node.sip_udp_addr().to_string();
    let caller = Sipp::spawn(&SippRun {
        name: "tap-rtp",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sn", "uac_pcap", "-s", "tap", &target],
    });
    caller.expect_success().await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "caller hung up", "{report:?}");
    let tapping = status.next(Duration::from_secs(5)).await;
    let finished = status.next(Duration::from_secs(10)).await;
    let packets = rtp_packets(&capture.stop().await);

    // The stream: PCMU, one SSRC, continuous numbering and timestamps, 20 ms each.
    assert!(packets.len() > 200, "{} tap packets", packets.len());
    assert_continuous(&packets, 0, 20);
    // What the caller said, A-law → µ-law by the G.711 tables, unbroken.
    let said: Vec<u8> = audio(&sipp_pcap("g711a.pcap"))
        .iter()
        .map(|&a| Law::Ulaw.transcode_from(Law::Alaw, a))
        .collect();
    let run = longest_common_run(&audio(&packets), &said, Law::Ulaw.silence());
    assert!(
        run * 100 >= said.len() * 95,
        "{run} of {} bytes arrived in one piece",
        said.len()
    );

    // The status events, in order, with the fields of the contract.
    let body = |e: &serde_json::Value| -> serde_json::Value {
        serde_json::from_str(e["body"].as_str().expect("a body")).expect("JSON")
    };
    let (tapping, finished) = (body(&tapping), body(&finished));
    assert_eq!(tapping["event_type"], "calling.call.tap");
    assert_eq!(tapping["params"]["state"], "tapping", "{tapping}");
    assert_eq!(tapping["params"]["control_id"], "t1");
    assert_eq!(tapping["params"]["tap"]["params"]["direction"], "speak");
    assert_eq!(tapping["params"]["device"]["type"], "rtp");
    assert_eq!(tapping["params"]["device"]["params"]["port"], tap_port);
    assert_eq!(tapping["params"]["device"]["params"]["codec"], "PCMU");
    assert_eq!(tapping["params"]["device"]["params"]["ptime"], 20);
    assert_eq!(finished["params"]["state"], "finished", "{finished}");
    assert_eq!(finished["params"]["reason"], "call_ended");
    assert_eq!(finished["params"]["stats"]["frames_sent"], packets.len());
    assert_eq!(finished["params"]["stats"]["frames_dropped"], 0);
}
