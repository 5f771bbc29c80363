//! `earshot serve` killed with SIGKILL mid-call and started again at once on the same SIP and
//! RTP ports: the new process binds them without delay, takes a call, and its tap starts a
//! fresh stream (marker, a new SSRC, continuous numbering) with nothing left of the old one.
//!
//! Ports: SIP 58900, RTP 58800-58819, SIPp 58950 (media 58980), the tap's receiver 58990:
//! the unused upper part of the node tests' port block 35.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SIP: &str = "127.0.0.1:58900";
const TAP_PORT: u16 = 58990;
const DEADLINE: Duration = Duration::from_secs(20);

/// Starts `earshot serve` and waits for it to say that it listens.
async fn serve() -> Child {
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{TAP_PORT}
        control_id: restart
    - play:
        url: silence:60
"
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["serve", "--sip", SIP, "--rtp-ports", "58800-58819"])
        .args(["--swml-inline", &document])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("earshot serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("piped stderr")).lines();
    let mut seen = Vec::new();
    tokio::time::timeout(DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("earshot's stderr") {
            if line.contains("earshot node listening") {
                return;
            }
            seen.push(line);
        }
        panic!(
            "earshot serve exited before listening:\n{}",
            seen.join("\n")
        );
    })
    .await
    .expect("earshot serve listens within the deadline");
    // Keep reading its logs, so that it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

/// SIPp calling the node once with its shipped A-law audio, from a working directory of its
/// own.
fn call(name: &str) -> Child {
    let dir = std::env::temp_dir().join(format!("earshot-restart-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory for SIPp");
    std::os::unix::fs::symlink("/usr/share/sip-tester", dir.join("pcap")).expect("a pcap link");
    Command::new("sipp")
        .current_dir(&dir)
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-ci", "127.0.0.1"])
        .args(["-p", "58950", "-mp", "58980", "-m", "1", "-nostdin"])
        .args([
            "-timeout",
            "30s",
            "-timeout_error",
            "-sn",
            "uac_pcap",
            "-s",
            "tap",
            SIP,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("sipp starts (Debian package sip-tester)")
}

/// Marker, sequence number and SSRC of an RTP packet.
fn header(packet: &[u8]) -> (bool, u16, u32) {
    assert!(packet.len() >= 12, "an RTP packet: {packet:?}");
    (
        packet[1] & 0x80 != 0,
        u16::from_be_bytes([packet[2], packet[3]]),
        u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_call_and_restarted_at_once_on_the_same_ports_it_takes_a_call() {
    let receiver = tokio::net::UdpSocket::bind(("127.0.0.1", TAP_PORT))
        .await
        .expect("the tap's receiver");
    let mut buf = [0u8; 2048];
    let mut node = serve().await;
    let mut first_call = call("first");
    let len = tokio::time::timeout(DEADLINE, receiver.recv(&mut buf))
        .await
        .expect("the first call's tap arrives")
        .expect("a datagram");
    let (_, _, old_ssrc) = header(&buf[..len]);

    // SIGKILL mid-call, then at once the same command on the same ports.
    node.kill().await.expect("SIGKILL");
    first_call.kill().await.expect("the orphaned caller stops");
    let mut node = serve().await;
    // What the dead node had in flight is drained before the new call.
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::ZERO, receiver.recv(&mut buf)).await {}

    let mut second_call = call("second");
    let mut packets = Vec::new();
    let status = tokio::time::timeout(Duration::from_secs(40), async {
        loop {
            tokio::select! {
                status = second_call.wait() => return status.expect("sipp's exit status"),
                got = receiver.recv(&mut buf) => {
                    let len = got.expect("a datagram");
                    packets.push(buf[..len].to_vec());
                }
            }
        }
    })
    .await
    .expect("the second call ends within its deadline");
    assert!(
        status.success(),
        "the restarted node took the call: {status}"
    );
    node.kill().await.expect("the node stops");

    // One fresh stream: the marker first, a new SSRC, every sequence number in turn.
    assert!(
        packets.len() > 200,
        "{} tap packets of the second call",
        packets.len()
    );
    let (marker, first_seq, ssrc) = header(&packets[0]);
    assert!(marker, "the new stream starts with the marker");
    assert_ne!(
        ssrc, old_ssrc,
        "nothing of the killed node's stream is reused"
    );
    for (n, packet) in packets.iter().enumerate() {
        let (marker, seq, s) = header(packet);
        assert_eq!(s, ssrc, "packet {n}: one SSRC");
        assert_eq!(
            seq,
            first_seq.wrapping_add(n as u16),
            "packet {n}: sequence"
        );
        assert_eq!(marker, n == 0, "packet {n}: marker only on the first");
        assert_eq!(packet.len(), 12 + 160, "packet {n}: 20 ms of G.711");
    }
}
