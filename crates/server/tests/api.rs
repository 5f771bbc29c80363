//! The control API against a live node: SIPp places (or takes) real calls, the test drives
//! them through `POST /api/calling/calls` as a client would, and receivers we did not write
//! (tcpdump for the tap's RTP, Python's http.server for status events and requests, SIPp for
//! the calls themselves) check what the node did. Every command, the authentication failure
//! and each error class are exercised.

mod peer;
#[path = "peers/python.rs"]
mod python;

use std::net::SocketAddr;
use std::time::Duration;

use g711::Law;
use peer::pcap::Datagram;
use peer::sipp::{Sipp, SippRun};
use peer::stream::{assert_continuous, audio, longest_common_run, rtp_packets, sipp_said_as_ulaw};
use peer::{DEADLINE, Ports, next_report, node_config, scenario, start};
use serde_json::{Value, json};
use server::api::{Api, ApiOptions};
use server::{Listen, Node};

const USER: &str = "project-1";
const TOKEN: &str = "secret-token-1";

/// An API client: plain reqwest over loopback.
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(addr: SocketAddr) -> Client {
        server::sink::tls::install_crypto_provider();
        Client {
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
            base: format!("http://{addr}"),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = tokio::time::timeout(DEADLINE, request.send())
            .await
            .expect("the API answers in time")
            .expect("the API answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .basic_auth(USER, Some(TOKEN));
        self.send(request).await
    }

    async fn get_text(&self, path: &str) -> (u16, String) {
        let (status, body) = self
            .send(self.http.get(format!("{}{path}", self.base)))
            .await;
        (status, body.as_str().map(str::to_owned).unwrap_or_default())
    }

    async fn post(&self, body: &Value) -> (u16, Value) {
        self.post_raw(body.to_string()).await
    }

    async fn post_raw(&self, body: String) -> (u16, Value) {
        let request = self
            .http
            .post(format!("{}/api/calling/calls", self.base))
            .basic_auth(USER, Some(TOKEN))
            .header("content-type", "application/json")
            .body(body);
        self.send(request).await
    }

    /// Polls `/metrics` until `series` reads `value` (a delivery is counted once its answer
    /// is back, just after the receiver has reported it), within [`DEADLINE`].
    async fn metric_until(&self, series: &str, value: u64) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let mut every = tokio::time::interval(Duration::from_millis(20));
        loop {
            every.tick().await;
            let page = self.get_text("/metrics").await.1;
            if sample(&page, series) == value {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {series} = {value}:\n{page}"
            );
        }
    }

    /// Polls `GET path` until `done` holds for its body, within [`DEADLINE`]: the way a client
    /// watches a call, bounded in time.
    async fn until(&self, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        let mut every = tokio::time::interval(Duration::from_millis(20));
        loop {
            every.tick().await;
            let (status, body) = self.get(path).await;
            if status == 200 && done(&body) {
                return body;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {status} {body}"
            );
        }
    }
}

/// The tap's receiver: a plain UDP socket read by a thread of its own (a busy machine's
/// packet capture may drop packets; a socket with a large buffer does not).
struct Receiver {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Datagram>>,
}

impl Receiver {
    fn start(port: u16) -> Receiver {
        let socket = std::net::UdpSocket::bind(("127.0.0.1", port)).expect("the tap's receiver");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("a read timeout");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let local = match socket.local_addr().expect("its address") {
                SocketAddr::V4(v4) => v4,
                SocketAddr::V6(_) => unreachable!("bound on 127.0.0.1"),
            };
            let mut datagrams = Vec::new();
            let mut buf = [0u8; 2048];
            let mut read = |socket: &std::net::UdpSocket| match socket.recv_from(&mut buf) {
                Ok((n, SocketAddr::V4(src))) => {
                    datagrams.push(Datagram {
                        at: started.elapsed(),
                        src,
                        dst: local,
                        payload: buf[..n].to_vec(),
                    });
                    true
                }
                _ => false,
            };
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                read(&socket);
            }
            // What is still queued in the socket arrived before the stop.
            socket.set_nonblocking(true).expect("non-blocking");
            while read(&socket) {}
            datagrams
        });
        Receiver { stop, thread }
    }

    /// Everything received so far, once the socket has been drained.
    fn stop(self) -> Vec<Datagram> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("the receiver thread")
    }
}

async fn api(node: &Node) -> Api {
    Api::bind(
        node,
        ApiOptions {
            listen: Listen::Addr("127.0.0.1:0".parse().expect("an address")),
            ops_listen: Listen::OnApi,
            project_id: USER.into(),
            token: TOKEN.into(),
        },
    )
    .await
    .expect("the API binds on loopback")
}

/// The one error of an error body, with its HTTP status.
fn error(answer: &(u16, Value)) -> (u16, &str, Option<&str>) {
    let errors = answer.1["errors"].as_array().expect("an errors list");
    assert_eq!(errors.len(), 1, "{}", answer.1);
    let e = &errors[0];
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
    (
        answer.0,
        e["code"].as_str().expect("a code"),
        e["attribute"].as_str(),
    )
}

/// The value of one sample line of a Prometheus page.
fn sample(page: &str, series: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {series} in\n{page}"))
        .parse()
        .expect("an integer sample")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_are_required_and_a_failure_reveals_nothing() {
    let ports = Ports::block(26);
    let node = start(node_config(ports.rtp(4))).await;
    let api = api(&node).await;
    let client = Client::new(api.addr().expect("the API listens"));
    let url = format!("{}/api/calling/calls", client.base);
    let anonymous = client.send(client.http.get(&url)).await;
    let wrong = client
        .send(client.http.get(&url).basic_auth(USER, Some("wrong")))
        .await;
    let wrong_user = client
        .send(client.http.get(&url).basic_auth("someone", Some(TOKEN)))
        .await;
    let bearer = client
        .send(client.http.post(&url).bearer_auth(TOKEN).body("{}"))
        .await;
    for answer in [&anonymous, &wrong, &wrong_user, &bearer] {
        assert_eq!(error(answer), (401, "unauthorized", None));
        assert_eq!(answer.1["errors"][0]["message"], "Unauthorized");
    }
    let response = client.http.get(&url).send().await.expect("an answer");
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"earshot\""
    );
    // Paths and methods that do not exist get error bodies too.
    let put = client
        .send(client.http.put(&url).basic_auth(USER, Some(TOKEN)))
        .await;
    assert_eq!(error(&put), (405, "method_not_allowed", None));
    let nowhere = client.get("/api/calling/nowhere").await;
    assert_eq!(error(&nowhere), (404, "not_found", None));
    // With them, an empty list; the operations endpoints need none.
    assert_eq!(
        client.get("/api/calling/calls").await,
        (200, json!({"data": []}))
    );
    assert_eq!(client.get_text("/health").await, (200, "ok\n".into()));
    assert_eq!(client.get_text("/ready").await, (200, "ready\n".into()));
    node.drain();
    assert_eq!(client.get_text("/ready").await, (503, "draining\n".into()));
    // A dial while draining is refused, not failed.
    let refused = client
        .post(&json!({"command": "dial", "params": {"to": "sip:x@127.0.0.1:9", "swml": {"version": "1.0.0", "sections": {"main": ["hangup"]}}}}))
        .await;
    assert_eq!(error(&refused), (503, "draining", None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_command_on_a_live_call() {
    let ports = Ports::block(27);
    let tap_port = ports.sipp_media() + 50;
    let receiver = Receiver::start(tap_port);
    let mut status = python::PythonPeer::start("status_server.py", &["200"]).await;
    let mut ws = python::PythonPeer::start("ws_server.py", &["receive"]).await;
    let node = start(node_config(ports.rtp(20))).await;
    let mut reports = node.reports();
    let api = api(&node).await;
    let client = Client::new(api.addr().expect("the API listens"));
    let target = node.sip_udp_addr().to_string();
    let caller = Sipp::spawn(&SippRun {
        name: "api-commands",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(40),
        args: &[
            "-sf",
            &scenario("uac_pcap_until_bye.xml"),
            "-s",
            "echo",
            &target,
        ],
    });

    // The call appears in the list, answered, with its caller's audio arriving.
    let list = client
        .until("/api/calling/calls", "an answered call with media", |b| {
            b["data"][0]["state"] == "answered"
                && b["data"][0]["rtp"]["packets_in"].as_u64() > Some(0)
        })
        .await;
    let call = &list["data"][0];
    let id = call["id"].as_str().expect("an id").to_owned();
    assert_eq!(call["direction"], "inbound");
    assert!(
        call["from"].as_str().is_some_and(|f| f.contains("sipp@")),
        "{call}"
    );
    assert_eq!(call["taps"], json!([]));

    // calling.tap: an RTP tap of what the caller says, with status events.
    let status_url = format!("http://127.0.0.1:{}/events", status.port);
    let tap = json!({
        "command": "calling.tap",
        "id": id,
        "params": {
            "control_id": "api-1",
            "tap": {"type": "audio", "params": {"direction": "speak"}},
            "device": {"type": "rtp", "params": {"addr": "127.0.0.1", "port": tap_port, "codec": "PCMU", "ptime": 20}},
            "status_url": status_url,
        },
    });
    let (code, started) = client.post(&tap).await;
    assert_eq!(code, 200, "{started}");
    assert_eq!(started["code"], "200");
    assert_eq!(started["message"], "Tapping call");
    assert_eq!(started["call_id"], id.as_str());
    assert_eq!(started["control_id"], "api-1");
    let source = &started["source_device"];
    assert_eq!(source["type"], "rtp", "{started}");
    assert_eq!(source["params"]["addr"], "127.0.0.1");
    assert_eq!(source["params"]["codec"], "PCMU");
    assert_eq!(source["params"]["ptime"], 20);
    assert_eq!(source["params"]["rate"], 8000);
    let source_port = source["params"]["port"].as_u64().expect("a port") as u16;
    assert_ne!(source_port, 0);
    let tapping = status.next(Duration::from_secs(5)).await;
    let tapping: Value =
        serde_json::from_str(tapping["body"].as_str().expect("a body")).expect("JSON");
    assert_eq!(tapping["params"]["state"], "tapping", "{tapping}");
    assert_eq!(tapping["params"]["control_id"], "api-1");
    assert_eq!(tapping["params"]["call_id"], id.as_str());

    // 409: the control id is taken.
    assert_eq!(
        error(&client.post(&tap).await),
        (409, "conflict", Some("params.control_id"))
    );
    // 422: values that cannot be used, each named by its attribute.
    let with_device = |device: Value| {
        json!({"command": "calling.tap", "id": id, "params": {
            "tap": {"type": "audio", "params": {"direction": "speak"}}, "device": device}})
    };
    for (device, attribute) in [
        (
            json!({"type": "rtp", "params": {"addr": "127.0.0.1", "port": 70000}}),
            "params.device.params.port",
        ),
        (
            json!({"type": "rtp", "params": {"addr": "127.0.0.1", "port": 4000, "ptime": 25}}),
            "params.device.params.ptime",
        ),
        (
            json!({"type": "rtp", "params": {"addr": "127.0.0.1", "port": 4000, "codec": "G729"}}),
            "params.device.params.codec",
        ),
        (
            json!({"type": "ws", "params": {"uri": "ftp://127.0.0.1/"}}),
            "params.device.params.uri",
        ),
        (json!({"type": "sctp", "params": {}}), "params.device.type"),
    ] {
        assert_eq!(
            error(&client.post(&with_device(device)).await),
            (422, "invalid_parameter", Some(attribute))
        );
    }
    let sideways = json!({"command": "calling.tap", "id": id, "params": {
        "tap": {"type": "audio", "params": {"direction": "sideways"}},
        "device": {"type": "rtp", "params": {"addr": "127.0.0.1", "port": 4000}}}});
    assert_eq!(
        error(&client.post(&sideways).await),
        (
            422,
            "invalid_parameter",
            Some("params.tap.params.direction")
        )
    );
    assert_eq!(
        error(
            &client
                .post(&json!({"command": "calling.hold", "id": id}))
                .await
        ),
        (422, "invalid_parameter", Some("command"))
    );
    assert_eq!(
        error(
            &client
                .post(&json!({"command": "calling.end", "id": id, "params": {"reason": 7}}))
                .await
        ),
        (422, "invalid_parameter", Some("params.reason"))
    );
    // 400: bodies that are not commands.
    assert_eq!(
        error(&client.post_raw("{\"command\": ".into()).await),
        (400, "malformed_request", None)
    );
    assert_eq!(
        error(&client.post(&json!(["calling.end"])).await),
        (400, "malformed_request", None)
    );
    assert_eq!(
        error(&client.post(&json!({"command": "calling.end"})).await),
        (400, "malformed_request", Some("id"))
    );
    assert_eq!(
        error(&client.post(&json!({"command": 5, "id": id})).await),
        (400, "malformed_request", Some("command"))
    );
    // 404: no such call, no such tap.
    let nobody = json!({"command": "calling.end", "id": "no-such-call"});
    assert_eq!(
        error(&client.post(&nobody).await),
        (404, "not_found", Some("id"))
    );
    assert_eq!(
        error(&client.get("/api/calling/calls/no-such-call").await),
        (404, "not_found", Some("id"))
    );
    let no_tap = json!({"command": "calling.tap.stop", "id": id, "params": {"control_id": "nope"}});
    assert_eq!(
        error(&client.post(&no_tap).await),
        (404, "not_found", Some("params.control_id"))
    );

    // Show: the tap runs and counts its frames; wait for two seconds of them, and of speech.
    let shown = client
        .until(&format!("/api/calling/calls/{id}"), "100 tap frames", |b| {
            b["taps"][0]["frames_sent"].as_u64() >= Some(100)
                && b["rtp"]["packets_in"].as_u64() >= Some(150)
        })
        .await;
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["taps"][0]["control_id"], "api-1");
    assert_eq!(shown["taps"][0]["state"], "tapping");
    assert_eq!(shown["taps"][0]["direction"], "speak");
    assert_eq!(shown["taps"][0]["device"]["params"]["port"], tap_port);
    let page = client.get_text("/metrics").await.1;
    assert_eq!(sample(&page, "earshot_calls_active"), 1);
    assert_eq!(sample(&page, "earshot_taps_active{transport=\"rtp\"}"), 1);
    assert_eq!(
        sample(&page, "earshot_taps_started_total{transport=\"rtp\"}"),
        1
    );
    assert_eq!(
        sample(&page, "earshot_sip_requests_total{method=\"INVITE\"}"),
        1
    );
    assert_eq!(
        sample(
            &page,
            "earshot_sip_answers_total{method=\"INVITE\",code=\"2xx\"}"
        ),
        1
    );

    // calling.tap.stop: the tap ends with `stopped`, every frame it counted arrived, from the
    // address the answer named, and it is what the caller said.
    let stop = json!({"command": "calling.tap.stop", "id": id, "params": {"control_id": "api-1"}});
    assert_eq!(
        client.post(&stop).await,
        (
            200,
            json!({"code": "200", "message": "Stopping tap", "call_id": id, "control_id": "api-1"})
        )
    );
    let finished = status.next(Duration::from_secs(10)).await;
    let finished: Value =
        serde_json::from_str(finished["body"].as_str().expect("a body")).expect("JSON");
    assert_eq!(finished["params"]["state"], "finished", "{finished}");
    assert_eq!(finished["params"]["reason"], "stopped");
    let packets = rtp_packets(&receiver.stop());
    assert_eq!(finished["params"]["stats"]["frames_sent"], packets.len());
    assert!(packets.len() >= 100, "{} packets", packets.len());
    assert!(
        packets
            .iter()
            .all(|p| p.src.port() == source_port && p.src.ip().is_loopback())
    );
    assert_continuous(&packets, 0, 20);
    let said = sipp_said_as_ulaw();
    let heard = audio(&packets);
    let run = longest_common_run(&heard, &said, Law::Ulaw.silence());
    assert!(
        run * 100 >= heard.len() * 90,
        "{run} of {} tapped bytes are one piece of what the caller said",
        heard.len()
    );
    let page = client.get_text("/metrics").await.1;
    assert_eq!(sample(&page, "earshot_taps_active{transport=\"rtp\"}"), 0);
    assert_eq!(
        sample(&page, "earshot_tap_frames_sent_total"),
        packets.len() as u64
    );
    client
        .metric_until("earshot_status_events_total{outcome=\"ok\"}", 2)
        .await;

    // A WebSocket tap of both directions: answered once its handshake is done.
    let ws_tap = json!({
        "command": "calling.tap",
        "id": id,
        "params": {
            "control_id": "api-ws",
            "tap": {"type": "audio", "params": {"direction": "both"}},
            "device": {"type": "ws", "params": {"uri": format!("ws://127.0.0.1:{}/audio", ws.port), "codec": "PCMA"}},
            "status_url": status_url,
        },
    });
    let (code, started) = client.post(&ws_tap).await;
    assert_eq!(code, 200, "{started}");
    assert_eq!(started["control_id"], "api-ws");
    assert_eq!(
        started["source_device"],
        json!({"type": "ws", "params": {"codec": "PCMA", "rate": 8000}})
    );
    let tapping = status.next(Duration::from_secs(5)).await;
    let tapping: Value =
        serde_json::from_str(tapping["body"].as_str().expect("a body")).expect("JSON");
    assert_eq!(tapping["params"]["state"], "tapping", "{tapping}");
    assert_eq!(tapping["params"]["control_id"], "api-ws");
    client
        .until(&format!("/api/calling/calls/{id}"), "ws tap frames", |b| {
            b["taps"][0]["control_id"] == "api-ws"
                && b["taps"][0]["frames_sent"].as_u64() >= Some(25)
        })
        .await;

    // calling.end: the node hangs up; SIPp answers the BYE and counts one good call.
    assert_eq!(
        client
            .post(&json!({"command": "calling.end", "id": id, "params": {"reason": "hangup"}}))
            .await,
        (
            200,
            json!({"code": "200", "message": "Ending call", "call_id": id})
        )
    );
    caller.expect_one_call().await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "ended by the API: hangup", "{report:?}");
    // The WebSocket tap ended with the call: finished, Close 1000, every frame delivered.
    let finished = status.next(Duration::from_secs(10)).await;
    let finished: Value =
        serde_json::from_str(finished["body"].as_str().expect("a body")).expect("JSON");
    assert_eq!(finished["params"]["control_id"], "api-ws", "{finished}");
    assert_eq!(finished["params"]["reason"], "call_ended");
    let connection = ws.next(Duration::from_secs(10)).await;
    assert_eq!(connection["close_code"], 1000, "{connection}");
    assert_eq!(
        connection["binary"],
        finished["params"]["stats"]["frames_sent"]
    );
    assert!(connection["binary"].as_u64() >= Some(25), "{connection}");
    assert_eq!(
        client.get("/api/calling/calls").await,
        (200, json!({"data": []}))
    );
    let page = client.get_text("/metrics").await.1;
    assert_eq!(sample(&page, "earshot_calls_active"), 0);
    assert_eq!(
        sample(&page, "earshot_calls_total{direction=\"inbound\"}"),
        1
    );
    assert_eq!(
        sample(&page, "earshot_taps_started_total{transport=\"ws\"}"),
        1
    );
    assert_eq!(
        sample(&page, "earshot_taps_failed_total{transport=\"ws\"}"),
        0
    );
    client
        .metric_until("earshot_status_events_total{outcome=\"ok\"}", 4)
        .await;
    assert!(
        sample(&page, "earshot_rtp_packets_total{direction=\"in\"}") >= report.stats.packets_in
    );
    assert!(report.stats.packets_in >= 150, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_places_a_call_that_runs_its_document() {
    let ports = Ports::block(28);
    let mut server = python::PythonPeer::start("status_server.py", &["200"]).await;
    let node = start(node_config(ports.rtp(8))).await;
    let mut reports = node.reports();
    let api = api(&node).await;
    let client = Client::new(api.addr().expect("the API listens"));
    let callee = Sipp::spawn(&SippRun {
        name: "api-dial",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sn", "uas"],
    });
    let to = format!("sip:callee@127.0.0.1:{}", ports.sipp());
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - request:
        url: http://127.0.0.1:{}/ran
        method: POST
        body:
          call_id: '%{{call.call_id}}'
          direction: '%{{call.direction}}'
          to: '%{{call.to}}'
    - play:
        url: silence:1
    - hangup
",
        server.port
    );

    // Bad dials first: each refused with the attribute at fault, and no call placed.
    for (params, attribute) in [
        (json!({"swml": document}), "params.to"),
        (
            json!({"to": "callee@nowhere", "swml": document}),
            "params.to",
        ),
        (json!({"to": to}), "params.swml"),
        (
            json!({"to": to, "swml": "version: 1.0.0\nsections:\n  main:\n    - sleep: soon\n"}),
            "params.swml",
        ),
        (
            json!({"to": to, "swml": document, "url": "http://127.0.0.1:9/"}),
            "params.url",
        ),
        (
            json!({"to": to, "url": "ftp://127.0.0.1/doc"}),
            "params.url",
        ),
        (
            json!({"to": to, "swml": document, "timeout": 0}),
            "params.timeout",
        ),
        (
            json!({"to": to, "swml": document, "ring": 5}),
            "params.ring",
        ),
    ] {
        let answer = client
            .post(&json!({"command": "dial", "params": params}))
            .await;
        assert_eq!(
            error(&answer),
            (422, "invalid_parameter", Some(attribute)),
            "{params}"
        );
    }

    let (code, call) = client
        .post(&json!({"command": "dial", "params": {"to": to, "swml": document, "timeout": 10}}))
        .await;
    assert_eq!(code, 201, "{call}");
    let id = call["id"].as_str().expect("an id").to_owned();
    assert_eq!(call["direction"], "outbound");
    assert_eq!(call["to"], to.as_str());
    assert_eq!(call["state"], "ringing");
    assert!(
        call["from"]
            .as_str()
            .is_some_and(|f| f.starts_with("sip:earshot@")),
        "{call}"
    );

    // The document ran once answered: its request arrived with the call's own scope.
    let ran = server.next(DEADLINE).await;
    assert_eq!(ran["path"], "/ran");
    let body: Value = serde_json::from_str(ran["body"].as_str().expect("a body")).expect("JSON");
    assert_eq!(
        body,
        json!({"call_id": id, "direction": "outbound", "to": to})
    );
    // Then it played a second of silence and hung up: SIPp's UAS saw one whole call.
    callee.expect_one_call().await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.call_id, id);
    assert_eq!(report.ended, "hung up by the script", "{report:?}");
    assert!(report.answered);
    assert!(report.stats.packets_out >= 45, "{report:?}");
    let page = client.get_text("/metrics").await.1;
    assert_eq!(
        sample(&page, "earshot_calls_total{direction=\"outbound\"}"),
        1
    );
    assert_eq!(sample(&page, "earshot_calls_active"), 0);
}
