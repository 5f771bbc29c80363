//! Secrets never reach the logs: a node at trace level runs a call whose taps carry a bearer
//! token, a handshake header token and URL credentials (`ws://user:pass@`, rejected; a status
//! URL's `user:pass@`, used) through success, a receiver that vanishes, a refused connection
//! and a status server that always fails, with a signing key set, and its control API is asked
//! with its token, with a wrong one and for calls that do not exist; every line the node logs
//! is captured, and none may hold a secret, in clear or as the Basic credentials it becomes.

mod peer;
#[path = "peers/python.rs"]
mod python;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use peer::sipp::{Sipp, SippRun};
use peer::{Ports, next_report, node_config, start, swml_flow, within};

/// Every byte the node's logs wrote.
#[derive(Clone, Default)]
struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("the log buffer is never poisoned")
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One HTTP/1.1 request to `addr` with Basic `credentials`: GET, or POST of a JSON `body`;
/// the whole answer as text.
async fn http_request(
    addr: std::net::SocketAddr,
    credentials: &str,
    path: &str,
    body: Option<&str>,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = within("the API to accept", tokio::net::TcpStream::connect(addr))
        .await
        .expect("the API accepts");
    let request = match body {
        None => format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {credentials}\r\n\
             Connection: close\r\n\r\n"
        ),
        Some(body) => format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {credentials}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    };
    stream
        .write_all(request.as_bytes())
        .await
        .expect("the request is sent");
    let mut answer = Vec::new();
    within("the API to answer", stream.read_to_end(&mut answer))
        .await
        .expect("the answer is read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// The Basic credentials `user:pass` becomes on the wire.
fn basic(user: &str, pass: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{pass}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_a_tap_or_of_the_node_appears_in_its_logs() {
    let logs = LogSink::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let ports = Ports::block(36);
    let mut ws = python::PythonPeer::start("ws_server.py", &["receive"]).await;
    let mut vanishing = python::PythonPeer::start("ws_server.py", &["vanish_after", "20"]).await;
    let mut web = python::PythonPeer::start("status_server.py", &["200"]).await;
    let failing = python::PythonPeer::start("status_server.py", &["500"]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let closed_port = closed.local_addr().expect("its address").port();
    drop(closed);
    let sink_port = ports.sipp_media() + 50;
    let _sink = std::net::UdpSocket::bind(("127.0.0.1", sink_port)).expect("a tap receiver");

    let signing_key = "SIGNING-KEY-SECRET-91c2";
    let secrets = [
        ("wsuser", "WS-PASS-SECRET-a1"),
        ("lostuser", "LOST-PASS-SECRET-b2"),
        ("refuser", "REFUSED-PASS-SECRET-c3"),
        ("statususer", "STATUS-PASS-SECRET-d4"),
        ("failuser", "FAIL-PASS-SECRET-e5"),
    ];
    let bearer = "BEARER-SECRET-f6";
    let header = "HEADER-SECRET-g7";
    let dir = std::env::temp_dir().join(format!("earshot-secrets-{}", std::process::id()));
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: ws://wsuser:WS-PASS-SECRET-a1@127.0.0.1:{}/audio
        control_id: userinfo
        status_url: http://statususer:STATUS-PASS-SECRET-d4@127.0.0.1:{}/events
    - tap:
        uri: ws://127.0.0.1:{}/audio
        control_id: good
        authorization_bearer_token: {bearer}
        headers:
          X-Api-Key: {header}
        status_url: http://statususer:STATUS-PASS-SECRET-d4@127.0.0.1:{}/events
    - tap:
        uri: ws://127.0.0.1:{}/gone
        control_id: lost
        authorization_bearer_token: {bearer}
        status_url: http://failuser:FAIL-PASS-SECRET-e5@127.0.0.1:{}/events
    - tap:
        uri: ws://127.0.0.1:{closed_port}/refused
        control_id: refused
        authorization_bearer_token: {bearer}
        headers:
          X-Api-Key: {header}
        status_url: http://statususer:STATUS-PASS-SECRET-d4@127.0.0.1:{}/events
    - tap:
        uri: rtp://127.0.0.1:{sink_port}
        control_id: plain
        status_url: http://statususer:STATUS-PASS-SECRET-d4@127.0.0.1:{}/events
    - play:
        url: silence:3
    - hangup
",
        ws.port, web.port, ws.port, web.port, vanishing.port, failing.port, web.port, web.port
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
    config.taps.signing_key = Some(signing_key.as_bytes().to_vec());
    config.taps.status_timeout = Duration::from_secs(1);
    let node = start(config).await;
    let mut reports = node.reports();
    let target = node.sip_udp_addr().to_string();
    let xml = peer::scenario("uac_vanish.xml");
    Sipp::spawn(&SippRun {
        name: "secrets",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sf", &xml, "-s", "tap", &target],
    })
    .expect_one_call()
    .await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "hung up by the script", "{report:?}");

    // Every path that logs ran to its end: the taps' events delivered (userinfo, rejected:
    // one; good: two; refused: one; plain: two) or given up (lost: its two, on the server
    // that always fails), the receivers' connections over.
    let mut delivered = 0;
    let mut reasons = std::collections::BTreeMap::new();
    while delivered < 6 {
        let line = web.next(peer::DEADLINE).await;
        let auth = line["headers"]["authorization"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(
            auth,
            format!("Basic {}", basic("statususer", "STATUS-PASS-SECRET-d4")),
            "the credentials reached the status server"
        );
        let body: serde_json::Value =
            serde_json::from_str(line["body"].as_str().expect("a body")).expect("JSON");
        if body["params"]["state"] == "finished" {
            reasons.insert(
                body["params"]["control_id"].to_string(),
                body["params"]["reason"].to_string(),
            );
        }
        delivered += 1;
    }
    assert_eq!(reasons["\"userinfo\""], "\"invalid_params\"", "{reasons:?}");
    assert_eq!(reasons["\"refused\""], "\"connect_failed\"", "{reasons:?}");
    assert_eq!(reasons["\"good\""], "\"call_ended\"", "{reasons:?}");
    let connection = ws.next(peer::DEADLINE).await;
    assert_eq!(
        connection["headers"]["authorization"],
        format!("Bearer {bearer}"),
        "{connection}"
    );
    assert_eq!(vanishing.next(peer::DEADLINE).await["event"], "vanishing");
    within("the failing server's events to be given up", async {
        while node.status_counters().failed < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // The control API, asked with its token, with a wrong one and with none, and for calls
    // that do not exist: its token never reaches the logs either.
    let api_token = "API-TOKEN-SECRET-h8";
    let mut api_config = server::Config::default();
    api_config.api.listen = "127.0.0.1:0".into();
    api_config.api.ops_listen = "api".into();
    api_config.api.token = api_token.into();
    let api = server::api::Api::start(&node, &api_config)
        .await
        .expect("the control API starts");
    let api_addr = api.addr().expect("the API listens");
    let user = api_config.api.project_id.clone();
    for (credentials, path, body, expected) in [
        (basic(&user, api_token), "/api/calling/calls", None, "200"),
        (
            basic(&user, "wrong-token"),
            "/api/calling/calls",
            None,
            "401",
        ),
        (
            basic(&user, api_token),
            "/api/calling/calls",
            Some(r#"{"command":"calling.end","id":"no-such-call","params":{}}"#),
            "404",
        ),
        (
            basic(&user, api_token),
            "/api/calling/calls",
            Some(r#"{"command":"dial","params":{"to":"not a uri"}}"#),
            "422",
        ),
    ] {
        let answer = http_request(api_addr, &credentials, path, body).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {expected}")),
            "{path} {body:?}: {answer}"
        );
    }
    api.stop();
    drop(node);

    let text = String::from_utf8(logs.0.lock().expect("the log buffer").clone())
        .expect("the logs are UTF-8");
    // The logs are there, at trace level, and tell of the failures whose lines could leak.
    assert!(text.contains("earshot node listening"), "{text}");
    assert!(text.contains("TRACE"), "trace level is on");
    assert!(text.contains("WebSocket tap lost"), "{text}");
    assert!(text.contains("user information is not accepted"), "{text}");
    assert!(text.contains("status event undeliverable"), "{text}");
    let mut leaked = Vec::new();
    let key_bytes = format!("{:?}", signing_key.as_bytes());
    let key_inner = key_bytes.trim_start_matches('[').trim_end_matches(']');
    let api_basic = basic(&user, api_token);
    for secret in [
        signing_key,
        bearer,
        header,
        key_inner,
        api_token,
        &api_basic,
    ] {
        if text.contains(secret) {
            leaked.push(secret.to_string());
        }
    }
    for (user, pass) in secrets {
        for secret in [pass.to_string(), basic(user, pass)] {
            if text.contains(&secret) {
                leaked.push(secret);
            }
        }
    }
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| leaked.iter().any(|s| l.contains(s.as_str())))
        .collect();
    assert!(
        leaked.is_empty(),
        "secrets in the logs: {leaked:?}\n{}",
        lines.join("\n")
    );
}
