//! SIGTERM to `earshot serve` while it carries 100 tapped calls: every call is ended by the
//! node's BYE (which the caller answers 200), every tap's `finished` event is delivered with
//! `call_ended` after its `tapping`, every frame a tap counted as sent arrived and none was
//! dropped, and the process exits 0 within its shutdown deadline saying it stopped cleanly.
//!
//! Ports: RTP legs 61300-61599, SIPp 61900 (media 61950), the taps' receiver 61990; SIP, the
//! API and the status receiver are picked by the OS.

#[allow(
    dead_code,
    unreachable_pub,
    reason = "the node tests' SIPp helper, of which this test uses a part"
)]
#[path = "../../server/tests/peer/sipp.rs"]
mod sipp;

use std::collections::{BTreeMap, HashMap};
use std::net::UdpSocket;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use sipp::{Sipp, SippRun};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

const CALLS: usize = 100;
const TAP_PORT: u16 = 61990;
/// How long any single wait may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// The node's `[shutdown] deadline_secs`.
const SHUTDOWN_SECS: u64 = 10;

/// What the taps' receiver saw of one stream (one SSRC).
#[derive(Debug, Default)]
struct Stream {
    packets: u64,
    first_seq: u16,
    /// Packets whose sequence number was not the one after the previous packet's.
    gaps: u64,
    /// Packets after the first that carried the marker bit.
    late_markers: u64,
    first_marked: bool,
    /// Packets that were not a 12-byte header and 160 bytes of PCMU.
    misshapen: u64,
}

/// Receives every tap's packets on a thread of its own until `stop` is set and the socket has
/// been empty for a moment, then returns them by SSRC.
fn receive_taps(
    socket: UdpSocket,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<HashMap<u32, Stream>> {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a read timeout");
    std::thread::spawn(move || {
        let mut streams: HashMap<u32, Stream> = HashMap::new();
        let mut buf = [0u8; 2048];
        loop {
            match socket.recv(&mut buf) {
                Ok(len) => {
                    let packet = &buf[..len];
                    if len < 12 {
                        streams.entry(0).or_default().misshapen += 1;
                        continue;
                    }
                    let marker = packet[1] & 0x80 != 0;
                    let seq = u16::from_be_bytes([packet[2], packet[3]]);
                    let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
                    let stream = streams.entry(ssrc).or_default();
                    if stream.packets == 0 {
                        stream.first_seq = seq;
                        stream.first_marked = marker;
                    } else {
                        let expected = stream.first_seq.wrapping_add(stream.packets as u16);
                        if seq != expected {
                            stream.gaps += 1;
                        }
                        if marker {
                            stream.late_markers += 1;
                        }
                    }
                    if len != 12 + 160 || packet[1] & 0x7f != 0 {
                        stream.misshapen += 1;
                    }
                    stream.packets += 1;
                }
                // Empty for 200 ms after the node has exited: everything it sent is in.
                Err(_) if stop.load(Ordering::SeqCst) => return streams,
                Err(_) => {}
            }
        }
    })
}

/// The status receiver's next JSON line.
async fn next_status(lines: &mut mpsc::UnboundedReceiver<String>) -> Value {
    let line = tokio::time::timeout(DEADLINE, lines.recv())
        .await
        .expect("the status receiver reports within the deadline")
        .expect("it is still running");
    serde_json::from_str(&line).expect("JSON lines")
}

fn body(request: &Value) -> Value {
    serde_json::from_str(request["body"].as_str().expect("a body")).expect("a JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_100_tapped_calls_ends_every_call_and_delivers_every_finished() {
    let receiver = UdpSocket::bind(("127.0.0.1", TAP_PORT)).expect("the taps' receiver");
    let stop = Arc::new(AtomicBool::new(false));
    let taps = receive_taps(receiver, Arc::clone(&stop));

    // The status receiver: Python's http.server, answering 200, one JSON line per request.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../server/tests/peers/status_server.py"
    );
    let mut status_server = Command::new("/usr/bin/python3")
        .args([script, "200"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("/usr/bin/python3 runs");
    let _status_stdin = status_server.stdin.take().expect("piped stdin");
    // Its lines are read all along: it prints each request before answering it, and a full
    // pipe would hold the answers back.
    let (status_tx, mut status_lines) = mpsc::unbounded_channel::<String>();
    let status_stdout = status_server.stdout.take().expect("piped stdout");
    tokio::spawn(async move {
        let mut lines = BufReader::new(status_stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if status_tx.send(line).is_err() {
                break;
            }
        }
    });
    let listening = next_status(&mut status_lines).await;
    assert_eq!(listening["event"], "listening", "{listening}");
    let status_port = listening["port"].as_u64().expect("a port");

    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{TAP_PORT}
        direction: speak
        status_url: http://127.0.0.1:{status_port}/events
    - play:
        url: silence:120
"
    );
    let dir = std::env::temp_dir().join(format!("earshot-shutdown-many-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let file = dir.join("node.toml");
    let config = format!(
        "[sip]\nudp = \"127.0.0.1:0\"\ntcp = \"off\"\nrate_per_second = 2000\n\
         [rtp]\nports = \"61300-61599\"\n\
         [flow]\nmode = \"swml\"\nswml_inline = '''\n{document}'''\n\
         [api]\nlisten = \"127.0.0.1:0\"\ntoken = \"t\"\n\
         [shutdown]\ndeadline_secs = {SHUTDOWN_SECS}\n\
         [log]\nlevel = \"warn\"\n"
    );
    std::fs::write(&file, config).expect("write the configuration");
    let mut node = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .arg("serve")
        .arg("--config")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("earshot serve starts");
    // Both pipes are read all along, so that the node never blocks on a full one.
    let (said_tx, mut said) = mpsc::unbounded_channel::<String>();
    let stdout = node.stdout.take().expect("piped stdout");
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if said_tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = node.stderr.take().expect("piped stderr");
    let logs = tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut logs = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            logs.push(line);
        }
        logs
    });
    let listening = tokio::time::timeout(DEADLINE, said.recv())
        .await
        .expect("earshot says it listens within the deadline")
        .expect("earshot serve runs");
    let sip = listening
        .split("SIP udp ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no SIP address in {listening:?}"))
        .to_owned();

    // 100 callers at 50 per second, each on the call until the node hangs up.
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../server/tests/scenarios/uac_pcap_until_bye.xml"
    );
    let callers = Sipp::spawn(&SippRun {
        name: "shutdown-many",
        local_port: 61900,
        media_port: 61950,
        calls: CALLS as u32,
        timeout: Duration::from_secs(60),
        args: &[
            "-sf", scenario, "-l", "100", "-r", "50", "-rp", "1000", "-s", "tap", &sip,
        ],
    });

    // Every call's tap is up.
    let mut tapping: BTreeMap<String, Value> = BTreeMap::new();
    while tapping.len() < CALLS {
        let request = next_status(&mut status_lines).await;
        let event = body(&request);
        assert_eq!(request["code"], 200, "{request}");
        assert_eq!(event["params"]["state"], "tapping", "{event}");
        let control_id = event["params"]["control_id"]
            .as_str()
            .expect("a control id")
            .to_owned();
        assert!(
            tapping.insert(control_id, event.clone()).is_none(),
            "a second tapping for {event}"
        );
    }

    // SIGTERM, then the node ends every call and delivers every finished before it exits.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &node.id().expect("a pid").to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let termed = Instant::now();
    let exit = tokio::time::timeout(Duration::from_secs(SHUTDOWN_SECS + 10), node.wait())
        .await
        .expect("earshot exits within its shutdown deadline and some slack")
        .expect("an exit status");
    let took = termed.elapsed();
    let mut lines = Vec::new();
    while let Ok(line) = said.try_recv() {
        lines.push(line);
    }
    let logs = logs.await.expect("the log reader");
    assert!(exit.success(), "{exit}; said {lines:#?}; logged {logs:#?}");
    assert!(
        lines.iter().any(|l| l == "earshot: stopped cleanly"),
        "took {took:?}; said {lines:#?}; logged {logs:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("earshot: shutting down ({CALLS} call(s)"))),
        "{lines:#?}"
    );
    let ended_by_shutdown = lines
        .iter()
        .filter(|l| l.starts_with("call ") && l.contains(": node shut down;"))
        .count();
    assert_eq!(ended_by_shutdown, CALLS, "{lines:#?}");

    // SIPp: 100 calls, each through the node's BYE and its own 200.
    let outcome = callers.expect_success().await;
    assert_eq!(
        outcome.counter("SuccessfulCall(C)"),
        CALLS as u64,
        "{outcome:?}"
    );
    assert_eq!(outcome.counter("FailedCall(C)"), 0, "{outcome:?}");

    // Exactly one finished per tap, call_ended, after its tapping; nothing else.
    let mut finished: BTreeMap<String, Value> = BTreeMap::new();
    while finished.len() < CALLS {
        // Delivered before the node exited.
        let request = next_status(&mut status_lines).await;
        assert_eq!(request["code"], 200, "{request}");
        let event = body(&request);
        assert_eq!(event["params"]["state"], "finished", "{event}");
        assert_eq!(event["params"]["reason"], "call_ended", "{event}");
        let control_id = event["params"]["control_id"]
            .as_str()
            .expect("a control id")
            .to_owned();
        assert!(
            tapping.contains_key(&control_id),
            "a finished without its tapping first: {event}"
        );
        assert!(
            finished.insert(control_id, event.clone()).is_none(),
            "a second finished for {event}"
        );
    }
    drop(_status_stdin);
    let after = tokio::time::timeout(DEADLINE, status_server.wait())
        .await
        .expect("the status receiver exits when its stdin closes")
        .expect("its exit status");
    assert!(after.success(), "{after}");
    // It prints each request before answering it, so nothing more was POSTed.
    let mut rest = Vec::new();
    while let Some(line) = status_lines.recv().await {
        rest.push(line);
    }
    assert!(rest.is_empty(), "events after the finished ones: {rest:?}");

    // Every frame each tap counted as sent arrived, in one continuous stream per tap.
    stop.store(true, Ordering::SeqCst);
    let streams = taps.join().expect("the taps' receiver");
    assert_eq!(
        streams.len(),
        CALLS,
        "one stream per tap: {:?}",
        streams.keys()
    );
    for (ssrc, stream) in &streams {
        assert!(
            stream.first_marked,
            "stream {ssrc:08x} starts with the marker"
        );
        assert_eq!(
            (stream.gaps, stream.late_markers, stream.misshapen),
            (0, 0, 0),
            "stream {ssrc:08x}: {stream:?}"
        );
        assert!(stream.packets > 0);
    }
    let mut sent: Vec<u64> = finished
        .values()
        .map(|event| {
            let stats = &event["params"]["stats"];
            assert_eq!(stats["frames_dropped"], 0, "{event}");
            stats["frames_sent"].as_u64().expect("frames_sent")
        })
        .collect();
    let mut arrived: Vec<u64> = streams.values().map(|s| s.packets).collect();
    sent.sort_unstable();
    arrived.sort_unstable();
    assert_eq!(
        arrived.iter().sum::<u64>(),
        sent.iter().sum::<u64>(),
        "every frame the taps sent arrived"
    );
    assert_eq!(
        arrived, sent,
        "the streams' packet counts are the taps' frames_sent"
    );
}
