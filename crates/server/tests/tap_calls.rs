//! Taps on live calls, end to end: SIPp calls in with known audio, the call's SWML document
//! taps it, and receivers we did not write (tcpdump for RTP, Python's http.server for status
//! events, Python websockets for WebSocket) check what arrives.

mod peer;
#[path = "peers/python.rs"]
mod python;

use std::time::Duration;

use g711::Law;
use peer::capture::Capture;
use peer::certs::{self, Validity};
use peer::sipp::{Sipp, SippRun};
use peer::stream::{
    assert_carries_the_caller, assert_continuous, assert_continuous_channels, audio,
    longest_common_run, rtp_packets, sipp_pcap,
};
use peer::{Ports, next_report, node_config, start, swml_flow, wav};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtp_tap_of_what_the_caller_says_with_status_events() {
    let ports = Ports::block(15);
    let tap_port = ports.sipp_media() + 50;
    // Something listens on the tap's port, so that no ICMP comes back.
    let _receiver = std::net::UdpSocket::bind(("127.0.0.1", tap_port)).expect("the tap's receiver");
    let mut status = python::PythonPeer::start("status_server.py", &["200"]).await;
    let dir = std::env::temp_dir().join(format!("earshot-tap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let document = format!(
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
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
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
    caller.expect_one_call().await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "caller hung up", "{report:?}");
    let tapping = status.next(Duration::from_secs(5)).await;
    let finished = status.next(Duration::from_secs(10)).await;
    let packets = rtp_packets(&capture.stop().await);

    // The stream: PCMU, one SSRC, continuous numbering and timestamps, 20 ms each.
    assert!(packets.len() > 200, "{} tap packets", packets.len());
    assert_continuous(&packets, 0, 20);
    // What the caller said, A-law → µ-law by the G.711 tables, unbroken.
    assert_carries_the_caller(&packets, "the speak tap");

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_tap_with_announce_variables_and_stop_tap() {
    let ports = Ports::block(16);
    let (sipp_port, media_port) = (ports.sipp(), ports.sipp_media());
    let mut ws = python::PythonPeer::start("ws_server.py", &["receive"]).await;
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let dir = std::env::temp_dir().join(format!("earshot-tap-ws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let web_url = format!("http://127.0.0.1:{}", web.port);
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - set:
        ptime: 30
    - tap:
        uri: ws://127.0.0.1:{}/audio
        direction: both
        rtp_ptime: \"%{{vars.ptime}}\"
        announce: true
        custom_parameters:
          customer: acme
        status_url: {web_url}/events
    - request:
        url: {web_url}/vars
        method: POST
        body:
          result: \"%{{tap_result}}\"
          id: \"%{{tap_control_id}}\"
          ptime: \"%{{tap_ptime}}\"
          codec: \"%{{tap_codec}}\"
          rate: \"%{{tap_rate}}\"
          uri: \"%{{tap_uri}}\"
    - play:
        url: silence:2
    - stop_tap
    - request:
        url: {web_url}/stopped
        method: POST
        body:
          result: \"%{{stop_tap_result}}\"
    - hangup
",
        ws.port
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
    let node = start(config).await;
    let mut reports = node.reports();
    let target = node.sip_udp_addr().to_string();
    let xml = peer::scenario("uac_silent.xml");
    let caller = Sipp::spawn(&SippRun {
        name: "tap-ws",
        local_port: sipp_port,
        media_port,
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sf", &xml, "-s", "tap", &target],
    });
    caller.expect_one_call().await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "hung up by the script", "{report:?}");
    let connection = ws.next(Duration::from_secs(10)).await;
    let mut by_what = std::collections::BTreeMap::new();
    for _ in 0..4 {
        let line = web.next(Duration::from_secs(10)).await;
        let body: serde_json::Value =
            serde_json::from_str(line["body"].as_str().expect("a body")).expect("JSON");
        let what = match line["path"].as_str() {
            Some("/events") => body["params"]["state"]
                .as_str()
                .expect("a state")
                .to_string(),
            other => other.expect("a path").to_string(),
        };
        by_what.insert(what, body);
    }

    // The variables the document saw.
    let vars = &by_what["/vars"];
    assert_eq!(vars["result"], "success", "{vars}");
    assert_eq!(vars["ptime"], "30");
    assert_eq!(vars["codec"], "PCMU");
    assert_eq!(vars["rate"], "8000");
    assert_eq!(vars["uri"], format!("ws://127.0.0.1:{}/audio", ws.port));
    let control_id = vars["id"].as_str().expect("a generated control id");
    assert_eq!(control_id.len(), 36, "a UUID: {control_id}");
    assert_eq!(by_what["/stopped"]["result"], "success");

    // What the receiver got: 30 ms binary messages (240 bytes), the announce texts, Close 1000.
    assert_eq!(connection["path"], "/audio");
    assert!(
        connection["headers"]["user-agent"]
            .as_str()
            .is_some_and(|u| u.starts_with("earshot/"))
    );
    assert_eq!(
        connection["sizes"],
        serde_json::json!([240]),
        "{connection}"
    );
    let binary = connection["binary"].as_u64().expect("a count");
    assert!(
        (60..=75).contains(&binary),
        "about 2 s of 30 ms messages: {binary}"
    );
    assert_eq!(connection["close_code"], 1000);
    let texts = connection["texts"].as_array().expect("texts");
    assert_eq!(texts.len(), 2, "{texts:?}");
    let start: serde_json::Value =
        serde_json::from_str(texts[0].as_str().expect("text")).expect("JSON");
    assert_eq!(start["event"], "start");
    assert_eq!(start["control_id"], control_id);
    assert_eq!(start["direction"], "both");
    assert_eq!(start["ptime"], 30);
    assert_eq!(start["params"]["customer"], "acme");
    let stop: serde_json::Value =
        serde_json::from_str(texts[1].as_str().expect("text")).expect("JSON");
    assert_eq!(stop["event"], "stop");
    assert_eq!(stop["reason"], "stopped");

    // The status events: tapping then finished, whose counters match what arrived.
    assert_eq!(by_what["tapping"]["params"]["device"]["type"], "ws");
    let finished = &by_what["finished"];
    assert_eq!(finished["params"]["reason"], "stopped", "{finished}");
    assert_eq!(finished["params"]["stats"]["frames_sent"], binary);
    assert_eq!(finished["params"]["stats"]["frames_dropped"], 0);
    assert_eq!(finished["params"]["stats"]["bytes_sent"], binary * 240);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stereo_tap_carries_both_parties_while_a_stalled_receiver_costs_nothing() {
    let ports = Ports::block(18);
    let tap_port = ports.sipp_media() + 50;
    let _receiver = std::net::UdpSocket::bind(("127.0.0.1", tap_port)).expect("the tap's receiver");
    let mut stalled = python::PythonPeer::start("ws_server.py", &["stall"]).await;
    let mut status = python::PythonPeer::start("status_server.py", &["200"]).await;
    let dir = std::env::temp_dir().join(format!("earshot-tap-stereo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    std::fs::write(dir.join("greeting.wav"), wav(600.0, 1.0)).expect("the greeting");
    let events = format!("http://127.0.0.1:{}/events", status.port);
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{tap_port}
        control_id: stereo
        direction: both
        stereo: true
        codec: PCMA
        status_url: {events}
    - request:
        url: {events}/vars
        method: POST
        body:
          result: \"%{{tap_result}}\"
          channels: \"%{{tap_channels}}\"
          codec: \"%{{tap_codec}}\"
    - tap:
        uri: ws://127.0.0.1:{}/never-reads
        control_id: stalled
        status_url: {events}
    - play:
        url: file://greeting.wav
    - play:
        url: silence:30
",
        stalled.port
    );
    let mut config = node_config(ports.rtp(20));
    config.media_dir = dir.clone();
    config.flow = swml_flow(&dir, &document);
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start("tap-stereo", &format!("dst port {tap_port}")).await;
    let caller_capture = Capture::start(
        "tap-stereo-caller",
        &format!("dst port {}", ports.sipp_media()),
    )
    .await;
    let target = node.sip_udp_addr().to_string();
    let caller = Sipp::spawn(&SippRun {
        name: "tap-stereo",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sn", "uac_pcap", "-s", "tap", &target],
    });
    caller.expect_one_call().await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "caller hung up", "{report:?}");
    assert_eq!(
        stalled.next(Duration::from_secs(5)).await["event"],
        "handshake"
    );
    let mut finished = std::collections::BTreeMap::new();
    let mut tapping = 0;
    let mut vars = serde_json::Value::Null;
    while finished.len() < 2 || vars.is_null() {
        let line = status.next(Duration::from_secs(15)).await;
        let body: serde_json::Value =
            serde_json::from_str(line["body"].as_str().expect("a body")).expect("JSON");
        if line["path"] == "/events/vars" {
            vars = body;
            continue;
        }
        let id = body["params"]["control_id"]
            .as_str()
            .expect("an id")
            .to_string();
        match body["params"]["state"].as_str() {
            Some("tapping") => tapping += 1,
            Some("finished") => {
                finished.insert(id, body);
            }
            other => panic!("unexpected state {other:?}"),
        }
    }
    assert_eq!(tapping, 2, "each tap reported tapping before finished");
    // The stereo tap's variables, as the document saw them.
    assert_eq!(vars["result"], "success", "{vars}");
    assert_eq!(vars["channels"], "2", "{vars}");
    assert_eq!(vars["codec"], "PCMA", "{vars}");
    let packets = rtp_packets(&capture.stop().await);
    let to_caller = rtp_packets(&caller_capture.stop().await);

    // The stereo stream: PCMA, 2 × 160 bytes per 20 ms, continuous.
    assert_continuous_channels(&packets, 8, 20, 2);
    let both = audio(&packets);
    let left: Vec<u8> = both.iter().step_by(2).copied().collect();
    let right: Vec<u8> = both.iter().skip(1).step_by(2).copied().collect();
    // Left: what the caller said, byte for byte (the call and the tap are both A-law).
    let said = audio(&sipp_pcap("g711a.pcap"));
    let run = longest_common_run(&left, &said, Law::Alaw.silence());
    assert!(
        run * 100 >= said.len() * 95,
        "left: {run} of {} bytes in one piece",
        said.len()
    );
    // Right: what the caller heard, byte for byte: the leg's own stream as SIPp received it.
    let heard = audio(&to_caller);
    let run = longest_common_run(&right, &heard, Law::Alaw.silence());
    assert!(
        run >= 7_900,
        "right: the 1 s greeting the caller heard, {run} bytes in one piece"
    );

    // The stalled receiver cost the call and the other tap nothing; its frames are counted.
    let stereo = &finished["stereo"]["params"];
    assert_eq!(stereo["reason"], "call_ended");
    assert_eq!(stereo["stats"]["frames_sent"], packets.len());
    let stuck = &finished["stalled"]["params"];
    assert_eq!(stuck["reason"], "call_ended", "{stuck}");
    let sent = stuck["stats"]["frames_sent"].as_u64().expect("a count");
    let dropped = stuck["stats"]["frames_dropped"].as_u64().expect("a count");
    let produced = packets.len() as u64;
    assert!(
        sent + dropped + 2 >= produced && sent + dropped <= produced + 2,
        "{stuck}"
    );
    assert_eq!(report.stats.lost, 0);
}

/// Runs `document` on one silent SIPp call to a node with `destinations`, and returns what the
/// document reported to the web peer's `/vars` and the status events it got, by state.
async fn failing_taps(
    ports: Ports,
    name: &str,
    destinations: server::sink::policy::DestinationPolicy,
    document: impl Fn(&str) -> String,
) -> (serde_json::Value, Vec<serde_json::Value>) {
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let web_url = format!("http://127.0.0.1:{}", web.port);
    let dir = std::env::temp_dir().join(format!("earshot-{name}-{}", std::process::id()));
    let mut config = node_config(ports.rtp(20));
    config.destinations = destinations;
    config.flow = swml_flow(&dir, &document(&web_url));
    let node = start(config).await;
    let mut reports = node.reports();
    silent_call(&node, ports, name, "t", Duration::from_secs(20)).await;
    let report = next_report(&mut reports).await;
    assert_eq!(
        report.ended, "hung up by the script",
        "the call is untouched: {report:?}"
    );
    let (mut vars, mut events) = (serde_json::Value::Null, Vec::new());
    let expected_events = if document("").contains("status_url") {
        1
    } else {
        0
    };
    while vars.is_null() || events.len() < expected_events {
        let line = web.next(Duration::from_secs(10)).await;
        let body: serde_json::Value =
            serde_json::from_str(line["body"].as_str().expect("a body")).expect("JSON");
        match line["path"].as_str() {
            Some("/vars") => vars = body,
            _ => events.push(body),
        }
    }
    (vars, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_and_refused_destinations_fail_the_tap_not_the_call() {
    // What a document fetches follows the same policy as its taps.
    document_http_follows_the_destination_policy(Ports::block(19)).await;

    // A hosted node's policy: loopback is refused, before any packet or handshake. (Nothing
    // on loopback can hear from such a node, so the document reports through the call: only
    // two failed taps lead to the unanswered 480, anything else to 486.)
    let ports = Ports::block(19);
    let dir = std::env::temp_dir().join(format!("earshot-tap-denied-{}", std::process::id()));
    let document = "version: 1.0.0
sections:
  main:
    - tap:
        uri: rtp://127.0.0.1:4000
    - set:
        rtp_result: \"%{tap_result}\"
    - tap:
        uri: ws://127.0.0.2:9/denied
    - cond:
        - when: rtp_result == \"failed\" && tap_result == \"failed\"
          then:
            - hangup
        - else:
            - hangup:
                reason: busy
";
    let mut config = node_config(ports.rtp(20));
    config.destinations = server::sink::policy::DestinationPolicy::deny_private(Vec::new());
    config.flow = swml_flow(&dir, document);
    let node = start(config).await;
    let report = refused_call(&node, ports, "tap-denied", "t").await;
    assert_eq!(report.rejected, Some(480), "both taps failed: {report:?}");
    drop(node);

    // A WebSocket receiver that refuses the connection: `connect_failed`, and only `finished`.
    let refused = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = refused.local_addr().expect("its address").port();
    drop(refused);
    let (vars, events) = failing_taps(
        Ports::block(19),
        "tap-refused",
        server::sink::policy::DestinationPolicy::allow_all(),
        |web| {
            format!(
                "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: ws://127.0.0.1:{port}/refused
        control_id: r1
        status_url: {web}/events
    - request:
        url: {web}/vars
        method: POST
        body:
          ws: \"%{{tap_result}}\"
    - hangup
"
            )
        },
    )
    .await;
    assert_eq!(vars["ws"], "failed", "{vars}");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0]["params"]["state"], "finished",
        "a tap never ready sends only finished"
    );
    assert_eq!(events[0]["params"]["reason"], "connect_failed");
    assert_eq!(events[0]["params"]["control_id"], "r1");

    // Parameters invalid after substitution: nothing starts, and the failure is reported.
    let (vars, events) = failing_taps(
        Ports::block(19),
        "tap-invalid",
        server::sink::policy::DestinationPolicy::allow_all(),
        |web| {
            format!(
                "version: 1.0.0
sections:
  main:
    - answer
    - set:
        way: sideways
    - tap:
        uri: rtp://127.0.0.1:4000
        control_id: bad
        codec: PCMA
        direction: \"%{{vars.way}}\"
        status_url: {web}/events
    - request:
        url: {web}/vars
        method: POST
        body:
          result: \"%{{tap_result}}\"
          uri: \"%{{tap_uri}}\"
    - hangup
"
            )
        },
    )
    .await;
    assert_eq!(vars["result"], "failed", "{vars}");
    assert_eq!(vars["uri"], "rtp://127.0.0.1:4000");
    assert_eq!(events.len(), 1, "{events:?}");
    let params = &events[0]["params"];
    assert_eq!(params["state"], "finished", "only finished: {params}");
    assert_eq!(params["reason"], "invalid_params");
    assert_eq!(params["control_id"], "bad");
    assert_eq!(
        params["device"],
        serde_json::json!({"type": "rtp", "params": {"addr": "127.0.0.1", "port": 4000, "codec": "PCMA", "ptime": 20}})
    );
    assert_eq!(params["stats"]["frames_sent"], 0);
}

/// One call into `node` from SIPp's `uac_silent.xml` to `user`, on `ports`' SIPp ports;
/// returns once SIPp has seen the call through.
async fn silent_call(node: &server::Node, ports: Ports, name: &str, user: &str, timeout: Duration) {
    let target = node.sip_udp_addr().to_string();
    let xml = peer::scenario("uac_silent.xml");
    Sipp::spawn(&SippRun {
        name,
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout,
        args: &["-sf", &xml, "-s", user, &target],
    })
    .expect_one_call()
    .await;
}

/// One call into `node` from SIPp's `uac_expect_480.xml` to `user`, which the node must
/// refuse with 480; the call's report.
async fn refused_call(
    node: &server::Node,
    ports: Ports,
    name: &str,
    user: &str,
) -> server::CallReport {
    let mut reports = node.reports();
    let target = node.sip_udp_addr().to_string();
    let xml = peer::scenario("uac_expect_480.xml");
    Sipp::spawn(&SippRun {
        name,
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(20),
        args: &["-sf", &xml, "-s", user, &target],
    })
    .expect_one_call()
    .await;
    next_report(&mut reports).await
}

/// How many of the events received are `finished`.
fn finished_count(got: &[(serde_json::Value, serde_json::Value)]) -> usize {
    got.iter()
        .filter(|(_, b)| b["params"]["state"] == "finished")
        .count()
}

/// The status event bodies `peer` receives, until `done` says enough, with their headers.
async fn status_events(
    peer: &mut python::PythonPeer,
    mut done: impl FnMut(&[(serde_json::Value, serde_json::Value)]) -> bool,
) -> Vec<(serde_json::Value, serde_json::Value)> {
    let mut got = Vec::new();
    while !done(&got) {
        let line = peer.next(Duration::from_secs(15)).await;
        let body: serde_json::Value =
            serde_json::from_str(line["body"].as_str().expect("a body")).expect("JSON");
        got.push((line, body));
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listen_tap_carries_what_the_node_played_and_max_duration_ends_a_tap() {
    let ports = Ports::block(20);
    let heard_port = ports.sipp_media() + 50;
    let short_port = ports.sipp_media() + 52;
    let _heard = std::net::UdpSocket::bind(("127.0.0.1", heard_port)).expect("a receiver");
    let _short = std::net::UdpSocket::bind(("127.0.0.1", short_port)).expect("a receiver");
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let web_url = format!("http://127.0.0.1:{}", web.port);
    let dir = std::env::temp_dir().join(format!("earshot-tap-listen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let greeting = wav(600.0, 1.0);
    std::fs::write(dir.join("greeting.wav"), &greeting).expect("the greeting");
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{heard_port}
        control_id: heard
        direction: hear
        status_url: {web_url}/events
    - request:
        url: {web_url}/vars
        method: POST
        body:
          result: \"%{{tap_result}}\"
          id: \"%{{tap_control_id}}\"
          src_addr: \"%{{tap_rtp_src_addr}}\"
          src_port: \"%{{tap_rtp_src_port}}\"
          channels: \"%{{tap_channels}}\"
          ptime: \"%{{tap_ptime}}\"
          codec: \"%{{tap_codec}}\"
          rate: \"%{{tap_rate}}\"
          uri: \"%{{tap_uri}}\"
          node: \"%{{call.node_id}}\"
          project: \"%{{call.project_id}}\"
          space: \"%{{call.space_id}}\"
    - tap:
        uri: rtp://127.0.0.1:{short_port}
        control_id: short
        codec: pcma
        max_duration: 1
        status_url: {web_url}/events
    - play:
        url: file://greeting.wav
    - play:
        url: silence:2
    - stop_tap:
        control_id: short
    - request:
        url: {web_url}/stopped
        method: POST
        body:
          result: \"%{{stop_tap_result}}\"
    - hangup
"
    );
    let mut config = node_config(ports.rtp(20));
    config.media_dir = dir.clone();
    config.flow = swml_flow(&dir, &document);
    config.taps.project_id = "project-7".into();
    config.taps.space_id = "space-9".into();
    config.taps.node_id = "node-3".into();
    config.taps.signing_key = Some(b"receiver's key".to_vec());
    let node = start(config).await;
    let mut reports = node.reports();
    // One tcpdump for the three streams: the two taps and what the caller received.
    let capture = Capture::start(
        "tap-heard",
        &format!(
            "dst port {heard_port} or dst port {short_port} or dst port {}",
            ports.sipp_media()
        ),
    )
    .await;
    silent_call(&node, ports, "tap-listen", "tap", Duration::from_secs(30)).await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "hung up by the script", "{report:?}");
    let got = status_events(&mut web, |got| {
        finished_count(got) == 2 && got.iter().any(|(l, _)| l["path"] == "/stopped")
    })
    .await;
    let packets = rtp_packets(&capture.stop().await);
    let to = |port: u16| -> Vec<peer::stream::RtpPacket> {
        packets
            .iter()
            .filter(|p| p.dst.port() == port)
            .cloned()
            .collect()
    };
    let (heard, short, to_caller) = (to(heard_port), to(short_port), to(ports.sipp_media()));

    // The variables of an RTP tap, as the document saw them.
    let by_path = |path: &str| -> Vec<&serde_json::Value> {
        got.iter()
            .filter(|(l, _)| l["path"] == path)
            .map(|(_, b)| b)
            .collect()
    };
    let vars = by_path("/vars")[0];
    assert_eq!(vars["result"], "success", "{vars}");
    assert_eq!(vars["id"], "heard");
    assert_eq!(vars["src_addr"], "127.0.0.1");
    assert_eq!(vars["channels"], "1");
    assert_eq!(vars["ptime"], "20");
    assert_eq!(vars["codec"], "PCMU");
    assert_eq!(vars["rate"], "8000");
    assert_eq!(vars["uri"], format!("rtp://127.0.0.1:{heard_port}"));
    // The document sees the node's ids as its status events carry them.
    assert_eq!(vars["node"], "node-3");
    assert_eq!(vars["project"], "project-7");
    assert_eq!(vars["space"], "space-9");
    // The tap's packets come from the port the variable named, for the tap's whole life.
    let src_port: u16 = vars["src_port"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .expect("a port number");
    assert!(heard.iter().all(|p| p.src.port() == src_port));
    assert!(heard.iter().all(|p| p.src.ip().is_loopback()));
    // `short` had finished by itself before `stop_tap` named it.
    assert_eq!(by_path("/stopped")[0]["result"], "failed");

    // The listen stream: continuous PCMU on the node's grid, and its audio is the greeting,
    // µ-law by the G.711 table, byte for byte, as the caller heard it.
    assert_continuous(&heard, 0, 20);
    assert!(heard.len() > 150, "{} packets", heard.len());
    let first = heard[0].at;
    for (n, p) in heard.iter().enumerate() {
        let due = first + Duration::from_millis(20 * n as u64);
        let off = p.at.abs_diff(due);
        assert!(
            off < Duration::from_millis(200),
            "packet {n} is {off:?} off its slot: the schedule drifts"
        );
    }
    let played: Vec<u8> = greeting[44..]
        .chunks_exact(2)
        .map(|s| Law::Ulaw.encode(i16::from_le_bytes([s[0], s[1]])))
        .collect();
    let got_audio = audio(&heard);
    let run = longest_common_run(&got_audio, &played, Law::Ulaw.silence());
    assert!(
        run * 100 >= played.len() * 99,
        "{run} of the greeting's {} bytes in one piece",
        played.len()
    );
    let caller_heard = audio(&to_caller);
    let run = longest_common_run(&got_audio, &caller_heard, Law::Ulaw.silence());
    assert!(run >= played.len(), "the tap and the caller heard the same");

    // `max_duration: 1`: exactly one second of PCMA, then `finished` with its reason while
    // the call went on.
    assert_continuous(&short, 8, 20);
    assert_eq!(short.len(), 50, "one second of 20 ms packets");
    assert!(heard.len() > 2 * short.len());

    // The events: per tap `tapping` then `finished`, with the node's ids, each signed.
    for (line, body) in got.iter().filter(|(l, _)| l["path"] == "/events") {
        let raw = line["body"].as_str().expect("a body");
        assert_eq!(
            line["headers"]["x-earshot-signature"],
            server::sink::status::signature(b"receiver's key", raw.as_bytes()),
            "{raw}"
        );
        assert_eq!(body["project_id"], "project-7");
        assert_eq!(body["space_id"], "space-9");
        assert_eq!(body["params"]["node_id"], "node-3");
    }
    for id in ["heard", "short"] {
        let states: Vec<&serde_json::Value> = got
            .iter()
            .filter(|(_, b)| b["params"]["control_id"] == id)
            .map(|(_, b)| &b["params"])
            .collect();
        assert_eq!(states.len(), 2, "{states:?}");
        assert_eq!(states[0]["state"], "tapping");
        assert_eq!(states[1]["state"], "finished");
    }
    let finished = |id: &str| -> &serde_json::Value {
        got.iter()
            .map(|(_, b)| b)
            .find(|b| b["params"]["control_id"] == id && b["params"]["state"] == "finished")
            .expect("a finished event")
    };
    let heard_end = &finished("heard")["params"];
    assert_eq!(heard_end["reason"], "call_ended");
    assert_eq!(heard_end["tap"]["params"]["direction"], "listen");
    assert_eq!(heard_end["stats"]["frames_sent"], heard.len());
    let short_end = finished("short");
    assert_eq!(short_end["params"]["reason"], "max_duration", "{short_end}");
    assert_eq!(short_end["params"]["stats"]["frames_sent"], short.len());
    assert_eq!(
        short_end["params"]["stats"]["bytes_sent"],
        short.len() * 160
    );
    let tapping_at = got
        .iter()
        .map(|(_, b)| b)
        .find(|b| b["params"]["control_id"] == "short")
        .expect("tapping")["timestamp"]
        .as_f64()
        .expect("a timestamp");
    let lasted = short_end["timestamp"].as_f64().expect("a timestamp") - tapping_at;
    assert!(
        (0.9..2.5).contains(&lasted),
        "finished {lasted} s after tapping, with max_duration 1 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_receivers_that_vanish_or_drop_cost_the_call_and_its_other_taps_nothing() {
    let ports = Ports::block(21);
    let rtp_port = ports.sipp_media() + 50;
    let _receiver = std::net::UdpSocket::bind(("127.0.0.1", rtp_port)).expect("a receiver");
    let mut vanishing = python::PythonPeer::start("ws_server.py", &["vanish_after", "50"]).await;
    let mut dropping = python::PythonPeer::start("ws_server.py", &["drop_after", "50"]).await;
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let events = format!("http://127.0.0.1:{}/events", web.port);
    let dir = std::env::temp_dir().join(format!("earshot-tap-lost-{}", std::process::id()));
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{rtp_port}
        control_id: steady
        status_url: {events}
    - tap:
        uri: ws://127.0.0.1:{}/crashes
        control_id: lost
        status_url: {events}
    - tap:
        uri: ws://127.0.0.1:{}/drops
        control_id: again
        announce: true
        reconnect:
          attempts: 3
          max_gap_ms: 2000
        status_url: {events}
    - play:
        url: silence:4
    - hangup
",
        vanishing.port, dropping.port
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start("tap-lost", &format!("dst port {rtp_port}")).await;
    silent_call(&node, ports, "tap-lost", "tap", Duration::from_secs(30)).await;
    let report = next_report(&mut reports).await;
    // The call ran its document to the end, undisturbed.
    assert_eq!(report.ended, "hung up by the script", "{report:?}");
    assert_eq!(report.stats.lost, 0);
    let got = status_events(&mut web, |got| finished_count(got) == 3).await;
    let packets = rtp_packets(&capture.stop().await);
    let vanished = vanishing.next(Duration::from_secs(5)).await;
    let first = dropping.next(Duration::from_secs(5)).await;
    let second = dropping.next(Duration::from_secs(5)).await;

    for id in ["steady", "lost", "again"] {
        let states: Vec<&serde_json::Value> = got
            .iter()
            .filter(|(_, b)| b["params"]["control_id"] == id)
            .map(|(_, b)| &b["params"]["state"])
            .collect();
        assert_eq!(states, ["tapping", "finished"], "{id}");
    }
    let finished = |id: &str| -> &serde_json::Value {
        &got.iter()
            .map(|(_, b)| b)
            .find(|b| b["params"]["control_id"] == id && b["params"]["state"] == "finished")
            .expect("a finished event")["params"]
    };

    // The RTP tap on the same call: continuous for the whole call, every frame sent.
    assert_continuous(&packets, 0, 20);
    assert!(packets.len() >= 190, "{} packets over 4 s", packets.len());
    let steady = finished("steady");
    assert_eq!(steady["reason"], "call_ended");
    assert_eq!(steady["stats"]["frames_sent"], packets.len());
    assert_eq!(steady["stats"]["frames_dropped"], 0);

    // The receiver that crashed after 50 messages: `connection_lost`, and no reconnect.
    assert_eq!(vanished["event"], "vanishing");
    assert_eq!(vanished["binary"], 50);
    let lost = finished("lost");
    assert_eq!(lost["reason"], "connection_lost", "{lost}");
    let sent = lost["stats"]["frames_sent"].as_u64().expect("a count");
    assert!(sent >= 50, "{lost}");
    assert!(
        sent + lost["stats"]["frames_dropped"].as_u64().expect("a count") < packets.len() as u64,
        "the lost tap stopped producing at the loss: {lost}"
    );

    // The receiver that dropped the first connection: the tap came back, said where its audio
    // resumes on the timeline, and ended normally with the call.
    assert_eq!(first["index"], 1);
    assert_eq!(first["binary"], 50);
    let start = |text: &serde_json::Value| -> serde_json::Value {
        serde_json::from_str(text.as_str().expect("a text")).expect("JSON")
    };
    let texts = first["texts"].as_array().expect("texts");
    assert_eq!(texts.len(), 1, "{first}");
    let opening = start(&texts[0]);
    assert_eq!(opening["event"], "start");
    assert!(opening.get("resumed_at").is_none(), "{opening}");
    assert_eq!(second["index"], 2);
    assert_eq!(second["close_code"], 1000, "{second}");
    assert_eq!(second["sizes"], serde_json::json!([160]));
    let texts = second["texts"].as_array().expect("texts");
    assert_eq!(texts.len(), 2, "{second}");
    let resumed = start(&texts[0]);
    assert_eq!(resumed["event"], "start");
    assert_eq!(resumed["control_id"], "again");
    let resumed_at = resumed["resumed_at"].as_u64().expect("resumed_at, in ms");
    assert!(
        resumed_at >= 50 * 20,
        "the audio resumes after the 50 frames the first connection took: {resumed_at} ms"
    );
    let stop = start(&texts[1]);
    assert_eq!(stop["event"], "stop");
    assert_eq!(stop["reason"], "call_ended");
    let again = finished("again");
    assert_eq!(again["reason"], "call_ended", "{again}");
    let sent = again["stats"]["frames_sent"].as_u64().expect("a count");
    let second_binary = second["binary"].as_u64().expect("a count");
    assert!(sent >= 50 + second_binary, "{again} {second}");
    // The second connection's audio begins where `resumed_at` says: what came before it on
    // the timeline and what it carried add up to the tap's frames, the gap's dropped ones
    // included.
    let produced = sent + again["stats"]["frames_dropped"].as_u64().expect("a count");
    assert_eq!(
        resumed_at / 20 + second_binary,
        produced,
        "{resumed} {again} {second}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_taps_verify_the_receiver_against_the_node_ca_file() {
    let ports = Ports::block(22);
    let dir = std::env::temp_dir().join(format!("earshot-tap-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    // Two CAs, each with a server certificate for 127.0.0.1: the node trusts only the first.
    for name in ["trusted", "rogue"] {
        certs::authority(&dir, name);
        certs::server(&dir, name, name, Validity::Today);
    }
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let (pem, key) = (path("trusted.pem"), path("trusted.key"));
    let mut good =
        python::PythonPeer::start("ws_server.py", &["receive", "0", "--tls", &pem, &key]).await;
    let (pem, key) = (path("rogue.pem"), path("rogue.key"));
    let rogue_server =
        python::PythonPeer::start("ws_server.py", &["receive", "0", "--tls", &pem, &key]).await;
    // A server that takes the TCP connection (the kernel's backlog) and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let silent_port = silent.local_addr().expect("its address").port();
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let web_url = format!("http://127.0.0.1:{}", web.port);
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: wss://127.0.0.1:{}/secure
        control_id: secure
        headers:
          X-Customer: acme
        authorization_bearer_token: tok-123
        status_url: {web_url}/events
    - set:
        secure: \"%{{tap_result}}\"
    - tap:
        uri: wss://127.0.0.1:{}/rogue
        control_id: rogue
        status_url: {web_url}/events
    - set:
        rogue: \"%{{tap_result}}\"
    - tap:
        uri: wss://127.0.0.1:{silent_port}/silent
        control_id: silent
        status_url: {web_url}/events
    - request:
        url: {web_url}/vars
        method: POST
        body:
          secure: \"%{{secure}}\"
          rogue: \"%{{rogue}}\"
          silent: \"%{{tap_result}}\"
    - play:
        url: silence:2
    - hangup
",
        good.port, rogue_server.port
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
    config.taps.ca_file = Some(dir.join("trusted-ca.pem"));
    config.taps.connect_timeout = Duration::from_secs(1);
    let node = start(config).await;
    let mut reports = node.reports();
    silent_call(&node, ports, "tap-wss", "tap", Duration::from_secs(30)).await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "hung up by the script", "{report:?}");
    let got = status_events(&mut web, |got| {
        finished_count(got) == 3 && got.iter().any(|(l, _)| l["path"] == "/vars")
    })
    .await;
    let connection = good.next(Duration::from_secs(5)).await;

    let vars = &got
        .iter()
        .find(|(l, _)| l["path"] == "/vars")
        .expect("the variables")
        .1;
    assert_eq!(vars["secure"], "success", "{vars}");
    assert_eq!(vars["rogue"], "failed", "{vars}");

    // The trusted receiver: TLS verified against the CA file, the extension headers in the
    // handshake, 20 ms messages for the whole call, Close 1000.
    assert_eq!(connection["path"], "/secure");
    assert_eq!(connection["headers"]["x-customer"], "acme");
    assert_eq!(connection["headers"]["authorization"], "Bearer tok-123");
    assert_eq!(connection["sizes"], serde_json::json!([160]));
    assert_eq!(connection["close_code"], 1000, "{connection}");
    let binary = connection["binary"].as_u64().expect("a count");
    // The call lasts the silent tap's 1 s wait and the 2 s of silence.
    assert!(
        (140..=170).contains(&binary),
        "about 3 s of messages: {binary}"
    );
    let states = |id: &str| -> Vec<&serde_json::Value> {
        got.iter()
            .filter(|(_, b)| b["params"]["control_id"] == id)
            .map(|(_, b)| &b["params"])
            .collect()
    };
    let secure = states("secure");
    assert_eq!(secure.len(), 2);
    assert_eq!(secure[0]["state"], "tapping");
    assert_eq!(secure[0]["device"]["type"], "ws");
    assert_eq!(
        secure[0]["device"]["params"]["uri"],
        format!("wss://127.0.0.1:{}/secure", good.port)
    );
    assert_eq!(secure[1]["reason"], "call_ended");
    assert_eq!(secure[1]["stats"]["frames_sent"], binary);

    // The receiver whose certificate no trusted CA signed: the handshake never happened.
    let rogue = states("rogue");
    assert_eq!(
        rogue.len(),
        1,
        "a tap never ready sends only finished: {rogue:?}"
    );
    assert_eq!(rogue[0]["state"], "finished");
    assert_eq!(rogue[0]["reason"], "connect_failed");
    assert_eq!(rogue[0]["stats"]["frames_sent"], 0);

    // The receiver that never answers the handshake: `connect_failed` at the node's connect
    // timeout (1 s here), and the document went on.
    assert_eq!(vars["silent"], "failed", "{vars}");
    let silent_events = states("silent");
    assert_eq!(silent_events.len(), 1, "{silent_events:?}");
    assert_eq!(silent_events[0]["reason"], "connect_failed");
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tap_limits_per_call_and_per_node_fail_the_tap_with_limit_reached() {
    let ports = Ports::block(23);
    let rtp_port = ports.sipp_media() + 50;
    let _receiver = std::net::UdpSocket::bind(("127.0.0.1", rtp_port)).expect("a receiver");
    let tap = format!("uri: rtp://127.0.0.1:{rtp_port}");

    // Two taps per call: a third fails, and once one is stopped, another may start.
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let web_url = format!("http://127.0.0.1:{}", web.port);
    let dir = std::env::temp_dir().join(format!("earshot-tap-limit-{}", std::process::id()));
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap: {{{tap}, control_id: a}}
    - tap: {{{tap}, control_id: b}}
    - tap: {{{tap}, control_id: c, status_url: {web_url}/events}}
    - set:
        third: \"%{{tap_result}}\"
    - stop_tap:
        control_id: a
    - tap: {{{tap}, control_id: d}}
    - request:
        url: {web_url}/vars
        method: POST
        body:
          third: \"%{{third}}\"
          after_stop: \"%{{tap_result}}\"
    - hangup
"
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
    config.taps.per_call = 2;
    let node = start(config).await;
    let mut reports = node.reports();
    silent_call(
        &node,
        ports,
        "tap-limit-call",
        "tap",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        next_report(&mut reports).await.ended,
        "hung up by the script"
    );
    let got = status_events(&mut web, |got| got.len() == 2).await;
    let vars = &got
        .iter()
        .find(|(l, _)| l["path"] == "/vars")
        .expect("vars")
        .1;
    assert_eq!(vars["third"], "failed", "{vars}");
    assert_eq!(vars["after_stop"], "success", "{vars}");
    let event = &got
        .iter()
        .find(|(l, _)| l["path"] == "/events")
        .expect("an event")
        .1;
    assert_eq!(event["params"]["control_id"], "c");
    assert_eq!(
        event["params"]["state"], "finished",
        "only finished: {event}"
    );
    assert_eq!(event["params"]["reason"], "limit_reached");
    drop(node);

    // One tap per node, two calls at once: the call that comes second gets `limit_reached`
    // while the first one's tap runs, and both calls go on to their end.
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let web_url = format!("http://127.0.0.1:{}", web.port);
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap: {{{tap}, status_url: {web_url}/events}}
    - request:
        url: {web_url}/vars
        method: POST
        body:
          call: \"%{{call.call_id}}\"
          result: \"%{{tap_result}}\"
    - play:
        url: silence:3
    - hangup
"
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
    config.taps.per_node = Some(1);
    let node = start(config).await;
    let mut reports = node.reports();
    let target = node.sip_udp_addr().to_string();
    let xml = peer::scenario("uac_silent.xml");
    let outcome = Sipp::spawn(&SippRun {
        name: "tap-limit-node",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 2,
        timeout: Duration::from_secs(20),
        args: &["-sf", &xml, "-s", "tap", "-r", "10", &target],
    })
    .expect_success()
    .await;
    assert_eq!(outcome.counter("SuccessfulCall(C)"), 2);
    for _ in 0..2 {
        assert_eq!(
            next_report(&mut reports).await.ended,
            "hung up by the script"
        );
    }
    let got = status_events(&mut web, |got| {
        got.iter().filter(|(l, _)| l["path"] == "/vars").count() == 2 && finished_count(got) == 2
    })
    .await;
    let mut results: Vec<&str> = got
        .iter()
        .filter(|(l, _)| l["path"] == "/vars")
        .map(|(_, b)| b["result"].as_str().expect("a result"))
        .collect();
    results.sort_unstable();
    assert_eq!(results, ["failed", "success"], "{got:?}");
    let mut reasons: Vec<&str> = got
        .iter()
        .filter(|(_, b)| b["params"]["state"] == "finished")
        .map(|(_, b)| b["params"]["reason"].as_str().expect("a reason"))
        .collect();
    reasons.sort_unstable();
    assert_eq!(reasons, ["call_ended", "limit_reached"], "{got:?}");
    let calls: std::collections::BTreeSet<&str> = got
        .iter()
        .filter(|(l, _)| l["path"] == "/vars")
        .map(|(_, b)| b["call"].as_str().expect("a call id"))
        .collect();
    assert_eq!(calls.len(), 2, "two calls: {calls:?}");
}

/// On a node that denies private destinations, a document's `request` and `execute` to a
/// loopback URL fail and reach nothing.
async fn document_http_follows_the_destination_policy(ports: Ports) {
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let web_url = format!("http://127.0.0.1:{}", web.port);
    let dir = std::env::temp_dir().join(format!("earshot-http-denied-{}", std::process::id()));
    // Only a failed `request` followed by a failed `execute` ends the script unanswered (480);
    // a `request` that got through would lead to 603, an `execute` that did to its document.
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - request:
        url: {web_url}/request
        method: POST
        body:
          secret: leaked
    - switch:
        variable: request_result
        case:
          failed:
            - execute:
                dest: {web_url}/document
        default:
          - hangup:
              reason: decline
"
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
    config.destinations = server::sink::policy::DestinationPolicy::deny_private(Vec::new());
    let node = start(config).await;
    let report = refused_call(&node, ports, "http-denied", "flow").await;
    assert_eq!(report.rejected, Some(480), "{report:?}");

    // Nothing reached the server: the first request it saw is the test's own, sent now.
    use tokio::io::AsyncWriteExt;
    let mut probe = tokio::net::TcpStream::connect(("127.0.0.1", web.port))
        .await
        .expect("the web peer listens");
    probe
        .write_all(b"POST /probe HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
        .await
        .expect("the probe is sent");
    let first = web.next(Duration::from_secs(5)).await;
    assert_eq!(first["path"], "/probe", "the node sent {first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rtp_destination_that_refuses_every_packet_fails_its_tap_with_send_failed() {
    let ports = Ports::block(25);
    let alive_port = ports.sipp_media() + 50;
    // Nothing listens here: every packet draws an ICMP port unreachable.
    let dead_port = ports.sipp_media() + 60;
    let _alive = std::net::UdpSocket::bind(("127.0.0.1", alive_port)).expect("a receiver");
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let events = format!("http://127.0.0.1:{}/events", web.port);
    let dir = std::env::temp_dir().join(format!("earshot-tap-refused-{}", std::process::id()));
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{dead_port}
        control_id: dead
        status_url: {events}
    - tap:
        uri: rtp://127.0.0.1:{alive_port}
        control_id: alive
        status_url: {events}
    - play:
        url: silence:4
    - hangup
"
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
    config.taps.rtp_refused_fatal_after = Duration::from_secs(1);
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start("tap-alive", &format!("dst port {alive_port}")).await;
    silent_call(&node, ports, "tap-refused", "tap", Duration::from_secs(20)).await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "hung up by the script", "{report:?}");
    assert_eq!(report.stats.lost, 0);
    let got = status_events(&mut web, |got| finished_count(got) == 2).await;
    let alive = rtp_packets(&capture.stop().await);
    let params = |id: &str| -> Vec<&serde_json::Value> {
        got.iter()
            .filter(|(_, b)| b["params"]["control_id"] == id)
            .map(|(_, b)| b)
            .collect()
    };

    let dead = params("dead");
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0]["params"]["state"], "tapping");
    let end = &dead[1]["params"];
    assert_eq!(end["reason"], "send_failed", "{end}");
    // It failed after a second of refusals, well before the call's 4 s were over.
    let lasted = dead[1]["timestamp"].as_f64().expect("a timestamp")
        - dead[0]["timestamp"].as_f64().expect("a timestamp");
    assert!((0.9..3.5).contains(&lasted), "failed after {lasted} s");
    assert!(
        end["stats"]["frames_dropped"].as_u64().expect("a count") > 0,
        "{end}"
    );

    // The other tap on the call: continuous to the end, every frame sent.
    assert_continuous(&alive, 0, 20);
    assert!(alive.len() >= 190, "{} packets over 4 s", alive.len());
    let alive_end = &params("alive")[1]["params"];
    assert_eq!(alive_end["reason"], "call_ended");
    assert_eq!(alive_end["stats"]["frames_sent"], alive.len());
    assert_eq!(alive_end["stats"]["frames_dropped"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taps_live_across_execute_and_connect_and_listen_then_carries_the_far_party() {
    let ports = Ports::block(24);
    // The far end's ports, inside this test's block.
    let (far_sip, far_media) = (ports.sipp() + 50, ports.sipp_media() + 50);
    let (said_port, heard_port) = (ports.sipp_media() + 70, ports.sipp_media() + 72);
    let _said = std::net::UdpSocket::bind(("127.0.0.1", said_port)).expect("a receiver");
    let _heard = std::net::UdpSocket::bind(("127.0.0.1", heard_port)).expect("a receiver");
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let events = format!("http://127.0.0.1:{}/events", web.port);
    let dir = std::env::temp_dir().join(format!("earshot-tap-connect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let greeting = wav(600.0, 1.0);
    std::fs::write(dir.join("greeting.wav"), &greeting).expect("the greeting");
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{said_port}
        control_id: said
        codec: PCMA
        status_url: {events}
    - tap:
        uri: rtp://127.0.0.1:{heard_port}
        control_id: heard
        direction: listen
        codec: PCMA
        status_url: {events}
    - play:
        url: file://greeting.wav
    - execute:
        dest: bridge
    - hangup
  bridge:
    - connect:
        to: sip:far@127.0.0.1:{far_sip}
"
    );
    let mut config = node_config(ports.rtp(20));
    config.media_dir = dir.clone();
    config.flow = swml_flow(&dir, &document);
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start(
        "tap-connect",
        &format!(
            "dst port {said_port} or dst port {heard_port} or dst port {}",
            ports.sipp_media()
        ),
    )
    .await;
    // The far end answers PCMU and sends back what it receives.
    let far_end = Sipp::spawn(&SippRun {
        name: "tap-connect-far",
        local_port: far_sip,
        media_port: far_media,
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sn", "uas", "-rtp_echo"],
    });
    // The caller (PCMA) plays g711a.pcap from its ACK on, then hangs up.
    let target = node.sip_udp_addr().to_string();
    let caller = Sipp::spawn(&SippRun {
        name: "tap-connect",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sn", "uac_pcap", "-s", "tap", &target],
    });
    caller.expect_one_call().await;
    far_end.expect_one_call().await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "caller hung up", "{report:?}");
    let got = status_events(&mut web, |got| finished_count(got) == 2).await;
    let packets = rtp_packets(&capture.stop().await);
    let to = |port: u16| -> Vec<peer::stream::RtpPacket> {
        packets
            .iter()
            .filter(|p| p.dst.port() == port)
            .cloned()
            .collect()
    };
    let (said, heard, to_caller) = (to(said_port), to(heard_port), to(ports.sipp_media()));

    // One stream each for the whole call, through `execute` and `connect`.
    assert_continuous(&said, 8, 20);
    assert_continuous(&heard, 8, 20);
    // Speak: what the caller said, byte for byte (A-law both), before and during the bridge.
    let spoken = audio(&sipp_pcap("g711a.pcap"));
    let run = longest_common_run(&audio(&said), &spoken, Law::Alaw.silence());
    assert!(
        run * 100 >= spoken.len() * 95,
        "speak: {run} of {} bytes in one piece",
        spoken.len()
    );
    // Listen: first the greeting the node played, by the A-law table...
    let heard_audio = audio(&heard);
    let played: Vec<u8> = greeting[44..]
        .chunks_exact(2)
        .map(|s| Law::Alaw.encode(i16::from_le_bytes([s[0], s[1]])))
        .collect();
    let run = longest_common_run(&heard_audio, &played, Law::Alaw.silence());
    assert!(
        run * 100 >= played.len() * 99,
        "listen: the greeting, {run} of {} bytes in one piece",
        played.len()
    );
    // ...then the far party: its echo of the caller, relayed µ-law → A-law, as the caller
    // heard it.
    let echoed: Vec<u8> = spoken
        .iter()
        .map(|&a| Law::Alaw.transcode_from(Law::Ulaw, Law::Ulaw.transcode_from(Law::Alaw, a)))
        .collect();
    let run = longest_common_run(&heard_audio, &echoed, Law::Alaw.silence());
    assert!(
        run >= 16_000,
        "listen: the far party, {run} bytes in one piece"
    );
    let run = longest_common_run(&heard_audio, &audio(&to_caller), Law::Alaw.silence());
    assert!(
        run >= 16_000,
        "listen is what the caller heard: {run} bytes"
    );

    for (id, packets) in [("said", &said), ("heard", &heard)] {
        let states: Vec<&serde_json::Value> = got
            .iter()
            .filter(|(_, b)| b["params"]["control_id"] == id)
            .map(|(_, b)| &b["params"])
            .collect();
        assert_eq!(states.len(), 2, "{id}: {states:?}");
        assert_eq!(states[0]["state"], "tapping");
        assert_eq!(states[1]["reason"], "call_ended", "{id}");
        assert_eq!(states[1]["stats"]["frames_sent"], packets.len(), "{id}");
    }
}
