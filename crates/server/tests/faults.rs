//! Faults around live calls, end to end on loopback: a receiver that never reads, status
//! servers that fail, hang or refuse, names that do not resolve, an expired certificate, a
//! caller that vanishes without BYE. Every fault runs on one call while a second, healthy
//! call runs beside it on the same node; the healthy call's tap must arrive whole (every
//! frame, in order, on its 20 ms grid, the caller's audio byte for byte) whatever the fault
//! does to the other.

mod peer;
#[path = "peers/python.rs"]
mod python;

use std::time::Duration;

use g711::Law;
use peer::capture::Capture;
use peer::certs::{self, Validity};
use peer::sipp::{Sipp, SippOutcome, SippRun};
use peer::stream::{
    RtpPacket, assert_carries_the_caller, assert_continuous, audio, longest_common_run,
    rtp_packets, sipp_pcap,
};
use peer::{DEADLINE, Ports, next_report, node_config, start, within};
use server::{CallReport, Node, NodeConfig};

/// What the faulty call came to, for the test to judge; the healthy call was checked already.
struct Faulty {
    node: Node,
    report: CallReport,
    sipp: SippOutcome,
}

/// The status event bodies a status server got, with the code it answered each with.
type Events = Vec<(serde_json::Value, u64)>;

/// Runs `faulty_document` on a call from SIPp (`uac_vanish.xml`: it talks for 6.7 s, then
/// waits for the node's BYE) while a healthy call (SIPp's `uac_pcap`, tapped over RTP as
/// PCMU) runs beside it on the same node, and checks the healthy call's tap in full.
async fn beside_a_healthy_call(
    ports: Ports,
    name: &str,
    mut config: NodeConfig,
    faulty_document: &str,
) -> Faulty {
    let dir = std::env::temp_dir().join(format!("earshot-faults-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the documents");
    let healthy_port = ports.sipp_media() + 50;
    let _receiver =
        std::net::UdpSocket::bind(("127.0.0.1", healthy_port)).expect("the healthy tap's receiver");
    let mut status = python::PythonPeer::start("status_server.py", &["200"]).await;
    let healthy_document = peer::healthy_tap_document(healthy_port, status.port);
    let (good, bad) = (dir.join("good.yaml"), dir.join("bad.yaml"));
    std::fs::write(&good, healthy_document).expect("the healthy document");
    std::fs::write(&bad, faulty_document).expect("the faulty document");
    let routes = server::load_routes(None, &[("good".into(), good), ("bad".into(), bad)])
        .expect("valid documents");
    config.flow = server::CallFlow::Swml(std::sync::Arc::new(routes));
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start(
        &format!("faults-{name}"),
        &format!("dst port {healthy_port}"),
    )
    .await;
    let target = node.sip_udp_addr().to_string();
    let xml = peer::scenario("uac_vanish.xml");
    let faulty = Sipp::spawn(&SippRun {
        name: &format!("{name}-faulty"),
        local_port: ports.sipp() + 20,
        media_port: ports.sipp_media() + 20,
        calls: 1,
        timeout: Duration::from_secs(40),
        args: &[
            "-sf",
            &xml,
            "-s",
            "bad",
            "-cid_str",
            "bad-%u-%p@%s",
            &target,
        ],
    });
    let healthy = Sipp::spawn(&SippRun {
        name: &format!("{name}-healthy"),
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &[
            "-sn",
            "uac_pcap",
            "-s",
            "good",
            "-cid_str",
            "good-%u-%p@%s",
            &target,
        ],
    });
    healthy.expect_one_call().await;
    let sipp = faulty.wait().await;
    let (first, second) = (
        next_report(&mut reports).await,
        next_report(&mut reports).await,
    );
    let (healthy_report, report) = if first.call_id.starts_with("good-") {
        (first, second)
    } else {
        (second, first)
    };
    assert!(report.call_id.starts_with("bad-"), "{report:?}");
    let events = events_until(&mut status, |got| got.len() == 2).await;
    let packets = rtp_packets(&capture.stop().await);

    // The healthy call: ended by its caller, nothing lost, its tap whole.
    assert_eq!(healthy_report.ended, "caller hung up", "{healthy_report:?}");
    assert_eq!(healthy_report.stats.lost, 0, "{healthy_report:?}");
    assert_eq!(states(&events, "healthy"), ["tapping", "finished"]);
    let finished = &events[1].0["params"];
    assert_eq!(finished["reason"], "call_ended", "{finished}");
    assert_eq!(
        finished["stats"]["frames_sent"],
        packets.len(),
        "{finished}"
    );
    assert_eq!(finished["stats"]["frames_dropped"], 0, "{finished}");
    assert_continuous(&packets, 0, 20);
    assert_paced(&packets);
    assert_carries_the_caller(&packets, "the healthy tap");
    Faulty { node, report, sipp }
}

/// Asserts that the packets arrived on their 20 ms grid: against the grid set by the stream's
/// own packets, the arrivals spread at most 200 ms (a stall of the call's task or a burst
/// would show as more; the margin is for a busy test machine).
fn assert_paced(packets: &[RtpPacket]) {
    assert!(packets.len() > 100, "{} packets", packets.len());
    let offsets: Vec<f64> = packets
        .iter()
        .enumerate()
        .map(|(n, p)| p.at.as_secs_f64() - n as f64 * 0.020)
        .collect();
    let min = offsets.iter().copied().fold(f64::INFINITY, f64::min);
    let max = offsets.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        max - min <= 0.200,
        "arrivals spread {:.0} ms around the 20 ms grid",
        (max - min) * 1000.0
    );
}

/// Status events from `peer` until `done` says so, each within [`DEADLINE`].
async fn events_until(
    peer: &mut python::PythonPeer,
    mut done: impl FnMut(&Events) -> bool,
) -> Events {
    let mut got = Vec::new();
    while !done(&got) {
        let line = peer.next(DEADLINE).await;
        let body: serde_json::Value =
            serde_json::from_str(line["body"].as_str().expect("a body")).expect("JSON");
        got.push((body, line["code"].as_u64().expect("the code answered")));
    }
    got
}

/// The states of tap `id` in `events`, in the order they arrived.
fn states<'a>(events: &'a Events, id: &str) -> Vec<&'a str> {
    events
        .iter()
        .filter(|(b, _)| b["params"]["control_id"] == id)
        .map(|(b, _)| b["params"]["state"].as_str().expect("a state"))
        .collect()
}

/// The `finished` event of tap `id`.
fn finished<'a>(events: &'a Events, id: &str) -> &'a serde_json::Value {
    &events
        .iter()
        .find(|(b, _)| b["params"]["control_id"] == id && b["params"]["state"] == "finished")
        .unwrap_or_else(|| panic!("a finished event of {id}: {events:?}"))
        .0["params"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_reads_drops_frames_and_accounts_for_every_one() {
    let ports = Ports::block(33);
    let mut stalled = python::PythonPeer::start("ws_server.py", &["stall"]).await;
    let mut status = python::PythonPeer::start("status_server.py", &["200"]).await;
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: ws://127.0.0.1:{}/never-reads
        control_id: stalled
        max_duration: 10
        status_url: http://127.0.0.1:{}/events
    - play:
        url: silence:11
    - hangup
",
        stalled.port, status.port
    );
    let mut config = node_config(ports.rtp(20));
    // 100 ms of queue and 16 KiB of send buffer: with the receiver's 4 KiB window they fill
    // within a few seconds, and from then on every frame is dropped.
    config.taps.queue_ms = 100;
    config.taps.ws_send_buffer = Some(16 * 1024);
    let faulty = beside_a_healthy_call(ports, "stall", config, &document).await;
    assert_eq!(
        faulty.report.ended, "hung up by the script",
        "{:?}",
        faulty.report
    );
    assert!(
        faulty.sipp.status.success(),
        "the faulty call's caller: {:?}",
        faulty.sipp
    );
    assert_eq!(stalled.next(DEADLINE).await["event"], "handshake");
    let events = events_until(&mut status, |got| got.len() == 2).await;
    assert_eq!(states(&events, "stalled"), ["tapping", "finished"]);

    // `max_duration: 10` at 20 ms: exactly 500 frames produced, and every one of them is
    // either sent or counted as dropped; none waits anywhere (the queue holds 5).
    let end = finished(&events, "stalled");
    assert_eq!(end["reason"], "max_duration", "{end}");
    let sent = end["stats"]["frames_sent"].as_u64().expect("a count");
    let dropped = end["stats"]["frames_dropped"].as_u64().expect("a count");
    assert_eq!(sent + dropped, 500, "{end}");
    assert!(
        dropped > 0,
        "a receiver that never reads must cost drops: {end}"
    );
    assert_eq!(end["stats"]["bytes_sent"], sent * 160, "{end}");
    drop(faulty.node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_status_servers_unresolvable_names_and_an_expired_certificate_cost_the_call_nothing()
 {
    let ports = Ports::block(34);
    let dir = std::env::temp_dir().join(format!("earshot-faults-certs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory");
    // A CA, a server certificate valid today and one valid only on 1 January 2020.
    certs::authority(&dir, "faults");
    certs::server(&dir, "faults", "valid", Validity::Today);
    certs::server(
        &dir,
        "faults",
        "expired",
        Validity::Between("20200101000000Z", "20200102000000Z"),
    );
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let (pem, key) = (path("valid.pem"), path("valid.key"));
    let mut valid =
        python::PythonPeer::start("ws_server.py", &["receive", "0", "--tls", &pem, &key]).await;
    let (pem, key) = (path("expired.pem"), path("expired.key"));
    let expired =
        python::PythonPeer::start("ws_server.py", &["receive", "0", "--tls", &pem, &key]).await;
    let mut flaky = python::PythonPeer::start("status_server.py", &["500,200"]).await;
    let mut hung = python::PythonPeer::start("status_server.py", &["0"]).await;
    let refusing = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let refused_port = refusing.local_addr().expect("its address").port();
    drop(refusing);
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let sink_port = ports.sipp_media() + 60;
    let _sink = std::net::UdpSocket::bind(("127.0.0.1", sink_port)).expect("a tap receiver");
    let events = format!("http://127.0.0.1:{}/events", web.port);
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{sink_port}
        control_id: flaky
        status_url: http://127.0.0.1:{}/events
    - tap:
        uri: rtp://127.0.0.1:{sink_port}
        control_id: hung
        status_url: http://127.0.0.1:{}/events
    - tap:
        uri: rtp://127.0.0.1:{sink_port}
        control_id: refused
        status_url: http://127.0.0.1:{refused_port}/events
    - tap:
        uri: ws://nonexistent.invalid/audio
        control_id: ws_dns
        status_url: {events}
    - set:
        ws_dns: \"%{{tap_result}}\"
    - tap:
        uri: rtp://nonexistent.invalid:40000
        control_id: rtp_dns
        status_url: {events}
    - set:
        rtp_dns: \"%{{tap_result}}\"
    - tap:
        uri: wss://127.0.0.1:{}/expired
        control_id: expired
        status_url: {events}
    - set:
        expired: \"%{{tap_result}}\"
    - tap:
        uri: wss://127.0.0.1:{}/valid
        control_id: valid
        status_url: {events}
    - request:
        url: {events}/vars
        method: POST
        body:
          ws_dns: \"%{{ws_dns}}\"
          rtp_dns: \"%{{rtp_dns}}\"
          expired: \"%{{expired}}\"
          valid: \"%{{tap_result}}\"
    - play:
        url: silence:4
    - hangup
",
        flaky.port, hung.port, expired.port, valid.port
    );
    let mut config = node_config(ports.rtp(20));
    config.taps.ca_file = Some(dir.join("faults-ca.pem"));
    config.taps.status_timeout = Duration::from_secs(1);
    let faulty = beside_a_healthy_call(ports, "status", config, &document).await;
    assert_eq!(
        faulty.report.ended, "hung up by the script",
        "{:?}",
        faulty.report
    );
    assert_eq!(faulty.report.stats.lost, 0);
    assert!(
        faulty.sipp.status.success(),
        "the faulty call's caller: {:?}",
        faulty.sipp
    );

    // What the document learnt, and the events of the failed taps, in order.
    let got = events_until(&mut web, |got| {
        got.iter()
            .filter(|(b, _)| b["params"]["state"] == "finished")
            .count()
            == 4
            && got.iter().any(|(b, _)| b.get("ws_dns").is_some())
    })
    .await;
    let vars = &got
        .iter()
        .find(|(b, _)| b.get("ws_dns").is_some())
        .expect("the document's variables")
        .0;
    assert_eq!(vars["ws_dns"], "failed", "{vars}");
    assert_eq!(vars["rtp_dns"], "failed", "{vars}");
    assert_eq!(vars["expired"], "failed", "{vars}");
    assert_eq!(vars["valid"], "success", "the CA is trusted: {vars}");
    for id in ["ws_dns", "rtp_dns", "expired"] {
        assert_eq!(states(&got, id), ["finished"], "{id}");
        assert_eq!(
            finished(&got, id)["reason"],
            "connect_failed",
            "{id}: {got:?}"
        );
    }
    assert_eq!(
        finished(&got, "ws_dns")["device"]["params"]["uri"],
        "ws://nonexistent.invalid/audio"
    );
    assert_eq!(states(&got, "valid"), ["tapping", "finished"]);
    assert_eq!(finished(&got, "valid")["reason"], "call_ended");
    let connection = valid.next(DEADLINE).await;
    assert_eq!(
        finished(&got, "valid")["stats"]["frames_sent"],
        connection["binary"],
        "{connection}"
    );

    // 500 then 200: `tapping` delivered on its second attempt, `finished` after it.
    let flaky_got = events_until(&mut flaky, |got| got.len() == 3).await;
    let seen: Vec<(&str, u64)> = flaky_got
        .iter()
        .map(|(b, code)| (b["params"]["state"].as_str().expect("a state"), *code))
        .collect();
    assert_eq!(
        seen,
        [("tapping", 500), ("tapping", 200), ("finished", 200)]
    );
    assert_eq!(
        flaky_got[0].0, flaky_got[1].0,
        "the retry carries the same event"
    );
    assert_eq!(flaky_got[2].0["params"]["reason"], "call_ended");

    // A server that never answers: each event tried four times (1 s each), `tapping` given up
    // before `finished` is tried, and both counted as given up.
    let hung_got = events_until(&mut hung, |got| got.len() == 8).await;
    let seen: Vec<&str> = hung_got
        .iter()
        .map(|(b, _)| b["params"]["state"].as_str().expect("a state"))
        .collect();
    assert_eq!(seen, [["tapping"; 4], ["finished"; 4]].concat());
    // The refused server's two events and the hung server's two: four given up in all, each
    // counted, the others delivered.
    let counters = within("the given-up events to be counted", async {
        loop {
            let counters = faulty.node.status_counters();
            if counters.failed >= 4 {
                return counters;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(counters.failed, 4, "{counters:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_that_vanishes_without_bye_is_ended_by_the_inactivity_timeout() {
    let ports = Ports::block(35);
    let mut status = python::PythonPeer::start("status_server.py", &["200"]).await;
    let sink_port = ports.sipp_media() + 60;
    let _sink = std::net::UdpSocket::bind(("127.0.0.1", sink_port)).expect("a tap receiver");
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{sink_port}
        control_id: vanished
        direction: speak
        codec: PCMA
        status_url: http://127.0.0.1:{}/events
    - play:
        url: silence:60
",
        status.port
    );
    let mut config = node_config(ports.rtp(20));
    config.leg.inactivity_timeout = Some(Duration::from_secs(3));
    let capture = Capture::start("faults-vanished", &format!("dst port {sink_port}")).await;
    let faulty = beside_a_healthy_call(ports, "vanish", config, &document).await;
    // The node ended the call itself: its BYE reached the caller, who answered it.
    assert_eq!(faulty.report.ended, "no RTP for 3 s", "{:?}", faulty.report);
    assert!(
        faulty.sipp.status.success(),
        "the caller got the node's BYE: {:?}",
        faulty.sipp
    );
    assert_eq!(faulty.sipp.counter("SuccessfulCall(C)"), 1);
    let events = events_until(&mut status, |got| got.len() == 2).await;
    let packets = rtp_packets(&capture.stop().await);
    assert_eq!(states(&events, "vanished"), ["tapping", "finished"]);
    let end = finished(&events, "vanished");
    assert_eq!(end["reason"], "call_ended", "{end}");
    assert_eq!(end["stats"]["frames_sent"], packets.len(), "{end}");
    assert_eq!(end["stats"]["frames_dropped"], 0, "{end}");
    // The tap carried what the caller said before vanishing, and silence after, unbroken,
    // until the call ended.
    assert_continuous(&packets, 8, 20);
    let said = audio(&sipp_pcap("g711a.pcap"));
    let run = longest_common_run(&audio(&packets), &said, Law::Alaw.silence());
    assert!(
        run * 100 >= said.len() * 95,
        "{run} of {} bytes in one piece",
        said.len()
    );
    let lasted = packets.len() as f64 * 0.020;
    assert!(
        (6.7 + 2.5..6.7 + 6.0).contains(&lasted),
        "the tap ran {lasted} s: the 6.7 s of audio, then the 3 s of inactivity"
    );
}
