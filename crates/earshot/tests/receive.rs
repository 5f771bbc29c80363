//! `earshot receive` against the node's own taps: a node runs a tapping SWML document, a
//! second node calls it with `earshot dial`'s tone sequence, and `earshot receive` (the
//! binary, in its own process) takes the tap and its status events. The tests check what a
//! user of the receiver would: its exit code, its JSON summary, and that the WAV file holds
//! the audio the caller sent, sample for sample.
//!
//! Ports: the receivers and SIP bind port 0; the nodes' RTP ranges are in port blocks 31 and
//! 32 (`crates/server/tests/peer/mod.rs`).

use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use g711::Law;
use media::PortPoolConfig;
use server::{DialOptions, Node, NodeConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Child;
use tokio::task::JoinHandle;

const DEADLINE: Duration = Duration::from_secs(20);

/// An `earshot receive` process.
struct Receive {
    child: Child,
    addr: SocketAddr,
    stdout: JoinHandle<String>,
    stderr: JoinHandle<String>,
    /// Its stderr lines as they come.
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Receive {
    /// Starts `earshot receive ARGS` and waits for the address it listens on.
    async fn spawn(args: &[&str]) -> Receive {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
            .arg("receive")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("earshot receive starts");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
        let first = tokio::time::timeout(DEADLINE, lines.next_line())
            .await
            .expect("earshot receive says where it listens")
            .expect("its stderr")
            .expect("a line");
        let addr = first
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("an address in {first:?}"));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stderr = tokio::spawn(async move {
            let mut all = first + "\n";
            while let Ok(Some(line)) = lines.next_line().await {
                all += &line;
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        let stdout = tokio::spawn(async move {
            let mut all = String::new();
            let _ = stdout.read_to_string(&mut all).await;
            all
        });
        Receive {
            child,
            addr,
            stdout,
            stderr,
            lines: rx,
        }
    }

    /// Waits for a line of stderr that contains `what`.
    async fn wait_for(&mut self, what: &str) {
        let found = async {
            while let Some(line) = self.lines.recv().await {
                if line.contains(what) {
                    return;
                }
            }
            panic!("earshot receive ended without printing {what:?}");
        };
        tokio::time::timeout(DEADLINE, found)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what:?}"));
    }

    /// Waits for it to exit; its status, stdout and stderr.
    async fn finish(mut self) -> (ExitStatus, String, String) {
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("earshot receive ends by itself")
            .expect("its exit status");
        let stdout = self.stdout.await.expect("stdout read");
        let stderr = self.stderr.await.expect("stderr read");
        (status, stdout, stderr)
    }
}

/// A node on loopback running `document` on every call, with RTP ports from `first`.
async fn node(document: &str, first: u16) -> Node {
    let mut config = NodeConfig::default();
    config.sip.udp_addr = SocketAddr::from(([127, 0, 0, 1], 0));
    config.sip.tcp_addr = None;
    config.rtp = PortPoolConfig {
        first,
        last: first + 99,
        ..PortPoolConfig::default()
    };
    if !document.is_empty() {
        let document = swml::check(document).expect("a valid document");
        config.flow = server::CallFlow::Swml(std::sync::Arc::new(server::Routes {
            default: Some(server::Route::Document(document)),
            ..server::Routes::default()
        }));
    }
    Node::start(config).await.expect("a node on loopback")
}

/// Calls `node` from `caller`, sending the tone sequence for `secs`, and hangs up.
async fn call(caller: &Node, node: &Node, secs: u64) {
    let report = tokio::time::timeout(
        Duration::from_secs(secs) + DEADLINE,
        server::dial(
            caller,
            DialOptions {
                to: format!("sip:tap@{}", node.sip_udp_addr()),
                from: format!("sip:caller@{}", caller.sip_udp_addr()),
                duration: Duration::from_secs(secs),
                ring_timeout: Duration::from_secs(5),
                credentials: None,
            },
        ),
    )
    .await
    .expect("the call ends")
    .expect("the call is answered");
    assert_eq!(report.ended, "we hung up", "{report:?}");
    assert_eq!(
        report.media.codec,
        Law::Ulaw,
        "the caller offers PCMU first"
    );
}

/// The one JSON summary line of a `--once --json` run.
fn summary(stdout: &str) -> serde_json::Value {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one stream's summary: {stdout}");
    serde_json::from_str(lines[0]).expect("a JSON summary")
}

/// How many samples of `want` appear unbroken in `got`, around the middle of `got`.
fn common_run(got: &[i16], want: &[i16]) -> usize {
    let probe = 400;
    let mid = got.len() / 2;
    let needle = &got[mid..mid + probe];
    let Some(at) = want.windows(probe).position(|w| w == needle) else {
        return 0;
    };
    let back = (1..=mid.min(at))
        .take_while(|&k| got[mid - k] == want[at - k])
        .count();
    let ahead = (0..(got.len() - mid).min(want.len() - at))
        .take_while(|&k| got[mid + k] == want[at + k])
        .count();
    back + ahead
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_tap_in_pcma_at_30_ms_with_announce_and_status_events() {
    let out = std::env::temp_dir().join(format!("earshot-receive-ws-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_arg = out.to_string_lossy().into_owned();
    let ws = Receive::spawn(&["ws://127.0.0.1:0", "--once", "--json", "--out", &out_arg]).await;
    let status = Receive::spawn(&["http://127.0.0.1:0", "--once", "--json"]).await;
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: ws://{}/audio?customer=acme
        control_id: t-ws
        direction: speak
        codec: PCMA
        rtp_ptime: 30
        announce: true
        status_url: http://{}/events
    - play:
        url: silence:20
",
        ws.addr, status.addr
    );
    let node = node(&document, 55700).await;
    let caller = node_for_calling(55800).await;
    call(&caller, &node, 3).await;

    let (exit, stdout, stderr) = ws.finish().await;
    assert!(exit.success(), "{exit:?}\n{stdout}\n{stderr}");
    let s = summary(&stdout);
    assert_eq!(s["kind"], "ws");
    assert_eq!(s["path"], "/audio?customer=acme");
    assert_eq!(
        (&s["codec"], &s["ptime"], &s["channels"]),
        (&"PCMA".into(), &30.into(), &1.into()),
        "{s}"
    );
    assert_eq!(s["violation_count"], 0, "{s}");
    assert_eq!(s["close_code"], 1000, "{s}");
    assert_eq!(s["start"]["control_id"], "t-ws", "{s}");
    assert_eq!(s["stop"]["reason"], "call_ended", "{s}");
    assert_eq!(s["stop"]["stats"]["frames_sent"], s["frames"], "{s}");
    assert_eq!(s["stop"]["stats"]["bytes_sent"], s["bytes"], "{s}");
    let frames = s["frames"].as_u64().expect("a count");
    assert!((95..=110).contains(&frames), "3 s at 30 ms: {frames}");
    assert!(stderr.contains("frames/s"), "live lines: {stderr}");

    // The file holds what the caller sent, µ-law → A-law by the G.711 tables, decoded.
    let wav = receiver::wav::read(std::path::Path::new(s["wav"].as_str().expect("a WAV path")))
        .expect("the WAV file");
    assert_eq!(wav.channels, 1);
    let want: Vec<i16> = server::tone_sequence(Law::Ulaw, Duration::from_secs(3))
        .iter()
        .map(|&u| Law::Alaw.decode(Law::Alaw.transcode_from(Law::Ulaw, u)))
        .collect();
    let run = common_run(&wav.samples, &want);
    assert!(
        run * 100 >= want.len() * 90,
        "{run} of {} samples in one piece",
        want.len()
    );

    // The status events, as the receiver printed them.
    let (exit, events, stderr) = status.finish().await;
    assert!(exit.success(), "{exit:?}\n{events}\n{stderr}");
    let events: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["path"], "/events");
    assert_eq!(events[0]["content_type"], "application/json");
    assert_eq!(events[0]["body"]["params"]["state"], "tapping");
    assert_eq!(events[0]["body"]["params"]["device"]["type"], "ws");
    assert_eq!(events[1]["body"]["params"]["state"], "finished");
    assert_eq!(events[1]["body"]["params"]["stats"]["frames_sent"], frames);
    let _ = std::fs::remove_dir_all(&out);
}

/// A node with no flow of its own, to place calls from.
async fn node_for_calling(first: u16) -> Node {
    node("", first).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stereo_rtp_tap_is_recognised_from_its_timestamps() {
    let out = std::env::temp_dir().join(format!("earshot-receive-rtp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_arg = out.to_string_lossy().into_owned();
    let rtp = Receive::spawn(&[
        "rtp://127.0.0.1:0",
        "--once",
        "--json",
        "--idle",
        "1",
        "--out",
        &out_arg,
    ])
    .await;
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://{}
        direction: both
        stereo: true
    - play:
        url: silence:20
",
        rtp.addr
    );
    let node = node(&document, 56400).await;
    let caller = node_for_calling(56500).await;
    call(&caller, &node, 3).await;

    let (exit, stdout, stderr) = rtp.finish().await;
    assert!(exit.success(), "{exit:?}\n{stdout}\n{stderr}");
    let s = summary(&stdout);
    assert_eq!(s["kind"], "rtp");
    assert_eq!(
        (&s["codec"], &s["ptime"], &s["channels"]),
        (&"PCMU".into(), &20.into(), &2.into()),
        "{s}"
    );
    assert_eq!(s["violation_count"], 0, "{s}");
    assert_eq!(
        (&s["lost"], &s["duplicates"], &s["reordered"]),
        (&0.into(), &0.into(), &0.into()),
        "{s}"
    );
    assert!(
        s["notes"][0].as_str().is_some_and(|n| n.contains("stereo")),
        "{s}"
    );
    let frames = s["frames"].as_u64().expect("a count");
    assert!((145..=160).contains(&frames), "3 s at 20 ms: {frames}");
    // On loopback, the grid holds: half the packets within a millisecond of it.
    assert!(s["pacing_ms"]["p50"].as_f64().expect("p50") < 1.0, "{s}");

    // Left: what the caller said, exactly; right: what it heard, silence.
    let wav = receiver::wav::read(std::path::Path::new(s["wav"].as_str().expect("a WAV path")))
        .expect("the WAV file");
    assert_eq!(wav.channels, 2);
    let want: Vec<i16> = server::tone_sequence(Law::Ulaw, Duration::from_secs(3))
        .iter()
        .map(|&u| Law::Ulaw.decode(u))
        .collect();
    let run = common_run(&wav.channel(0), &want);
    assert!(
        run * 100 >= want.len() * 90,
        "{run} of {} samples in one piece",
        want.len()
    );
    assert!(
        wav.channel(1).iter().all(|&s| s == 0),
        "the right channel is silent"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_breaks_the_contract_fails_with_the_breaks_listed() {
    let rtp = Receive::spawn(&[
        "rtp://127.0.0.1:0",
        "--once",
        "--json",
        "--idle",
        "0.5",
        "--no-wav",
    ])
    .await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("a socket");
    for n in 0u16..10 {
        let mut packet = vec![0x80, 0x80, 0, 0, 0, 0, 0, 0, 0xAB, 0xCD, 0xEF, 0x01];
        // The marker on every packet; packet 5's timestamp off by one.
        packet[2..4].copy_from_slice(&(1000 + n).to_be_bytes());
        let ts = 160 * u32::from(n) + u32::from(n == 5);
        packet[4..8].copy_from_slice(&ts.to_be_bytes());
        packet.extend([0xFF; 160]);
        socket.send_to(&packet, rtp.addr).await.expect("sent");
    }
    let (exit, stdout, stderr) = rtp.finish().await;
    assert_eq!(exit.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("1 of 1 stream(s) broke the tap contract"),
        "{stderr}"
    );
    let s = summary(&stdout);
    assert_eq!(s["violation_count"], 10, "{s}");
    let all = s["violations"].to_string();
    assert!(
        all.contains("packet 1005: timestamp 801, expected 800"),
        "{all}"
    );
    assert!(all.contains("packet 1001: marker bit set"), "{all}");
    assert_eq!(s["frames"], 10);

    let bad = tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["receive", "udp://127.0.0.1:4000"])
        .output()
        .await
        .expect("earshot runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("unknown scheme \"udp\""),
        "{bad:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_ends_the_receiver_with_every_summary() {
    let out = std::env::temp_dir().join(format!("earshot-receive-int-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let out_arg = out.to_string_lossy().into_owned();
    let mut rtp = Receive::spawn(&["rtp://127.0.0.1:0", "--json", "--out", &out_arg]).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("a socket");
    for n in 0u16..5 {
        let mut packet = vec![
            0x80,
            if n == 0 { 0x88 } else { 0x08 },
            0,
            0,
            0,
            0,
            0,
            0,
            1,
            2,
            3,
            4,
        ];
        packet[2..4].copy_from_slice(&(7 + n).to_be_bytes());
        packet[4..8].copy_from_slice(&(80 * u32::from(n)).to_be_bytes());
        packet.extend([0xD5; 80]);
        socket.send_to(&packet, rtp.addr).await.expect("sent");
    }
    rtp.wait_for("+ rtp").await;
    let pid = rtp.child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let (exit, stdout, stderr) = rtp.finish().await;
    assert!(exit.success(), "{exit:?}\n{stdout}\n{stderr}");
    let s = summary(&stdout);
    assert_eq!(
        (&s["codec"], &s["ptime"], &s["frames"]),
        (&"PCMA".into(), &10.into(), &5.into()),
        "{s}"
    );
    assert_eq!(s["violation_count"], 0, "{s}");
    let wav = receiver::wav::read(std::path::Path::new(s["wav"].as_str().expect("a WAV path")))
        .expect("a complete WAV file");
    assert_eq!(wav.samples.len(), 5 * 80);
    let _ = std::fs::remove_dir_all(&out);
}
