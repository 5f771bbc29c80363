//! tcpdump on loopback: what a peer really received, written to a pcap file.
//!
//! [`Capture::start`] returns once tcpdump says it is listening (its filter is attached), so
//! nothing sent afterwards is missed. [`Capture::stop`] first sends a sentinel datagram to a
//! port of the capture's own and waits until the file holds it: tcpdump, which a loaded machine
//! may keep waiting, has then written everything sent before. It then ends tcpdump with SIGTERM
//! and checks that the kernel dropped nothing.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};

use crate::peer::pcap::{Datagram, udp_datagrams};

/// How long tcpdump may take to start listening or to exit.
const TCPDUMP_DEADLINE: Duration = Duration::from_secs(10);

/// A running tcpdump.
pub(crate) struct Capture {
    child: Child,
    stderr: BufReader<ChildStderr>,
    file: PathBuf,
    /// Bound for the sentinel's port; never read.
    sentinel: std::net::UdpSocket,
}

/// What the sentinel datagram says.
const SENTINEL: &[u8] = b"earshot capture sentinel";

impl Capture {
    /// Captures UDP on `lo` matching `filter` (a pcap filter expression, e.g. `dst port 4000`).
    pub(crate) async fn start(name: &str, filter: &str) -> Capture {
        let file = std::env::temp_dir().join(format!(
            "earshot-capture-{name}-{}.pcap",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&file);
        let sentinel =
            std::net::UdpSocket::bind("127.0.0.1:0").expect("a port for the capture's sentinel");
        let sentinel_port = sentinel.local_addr().expect("the sentinel's port").port();
        let mut child = Command::new("tcpdump")
            // Immediate mode hands every packet over at once, so none is left in the kernel's
            // ring when SIGTERM arrives. Its ring has one slot per snapshot length: 8 KiB
            // snapshots (the largest datagram the tests send is a few KiB of SIP) in a 64 MiB
            // ring leave room for 8,192 packets while a loaded machine keeps tcpdump waiting.
            .args([
                "-i",
                "lo",
                "--immediate-mode",
                "-U",
                "-n",
                "-s",
                "8192",
                "-B",
                "65536",
            ])
            .arg("-w")
            .arg(&file)
            .arg(format!("udp and (({filter}) or dst port {sentinel_port})"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("tcpdump to start (Debian package tcpdump: apt-get install -y tcpdump)");
        let mut stderr = BufReader::new(child.stderr.take().expect("tcpdump's piped stderr"));
        let listening = async {
            let mut said = String::new();
            loop {
                let mut line = String::new();
                let n = stderr.read_line(&mut line).await.expect("tcpdump's stderr");
                if n == 0 {
                    panic!("tcpdump exited before listening: {said}");
                }
                if line.contains("listening on") {
                    return;
                }
                said.push_str(&line);
            }
        };
        tokio::time::timeout(TCPDUMP_DEADLINE, listening)
            .await
            .expect("tcpdump to start listening");
        Capture {
            child,
            stderr,
            file,
            sentinel,
        }
    }

    /// Sends the sentinel until the file holds it.
    async fn catch_up(&self) {
        let port = self
            .sentinel
            .local_addr()
            .expect("the sentinel's port")
            .port();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("a socket for the sentinel");
        let written = async {
            loop {
                sender
                    .send_to(SENTINEL, ("127.0.0.1", port))
                    .expect("the sentinel is sent");
                tokio::time::sleep(Duration::from_millis(20)).await;
                let bytes = std::fs::read(&self.file).unwrap_or_default();
                if bytes.len() >= 24
                    && udp_datagrams(&bytes)
                        .iter()
                        .any(|d| d.dst.port() == port && d.payload == SENTINEL)
                {
                    return;
                }
            }
        };
        tokio::time::timeout(TCPDUMP_DEADLINE, written)
            .await
            .expect("tcpdump to write the sentinel");
    }

    /// Stops tcpdump and returns the UDP datagrams it captured.
    pub(crate) async fn stop(mut self) -> Vec<Datagram> {
        self.catch_up().await;
        let sentinel_port = self
            .sentinel
            .local_addr()
            .expect("the sentinel's port")
            .port();
        let pid = self.child.id().expect("tcpdump still running");
        let killed = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await
            .expect("kill to run");
        assert!(killed.success(), "kill -TERM {pid}: {killed}");
        let mut rest = String::new();
        tokio::time::timeout(TCPDUMP_DEADLINE, self.stderr.read_to_string(&mut rest))
            .await
            .expect("tcpdump to close its stderr")
            .expect("tcpdump's stderr");
        tokio::time::timeout(TCPDUMP_DEADLINE, self.child.wait())
            .await
            .expect("tcpdump to exit after SIGTERM")
            .expect("tcpdump's exit status");
        assert!(
            rest.lines()
                .any(|l| l.trim() == "0 packets dropped by kernel"),
            "tcpdump lost packets: {rest}"
        );
        let bytes = std::fs::read(&self.file).expect("tcpdump's pcap file");
        let _ = std::fs::remove_file(&self.file);
        udp_datagrams(&bytes)
            .into_iter()
            .filter(|d| d.dst.port() != sentinel_port)
            .collect()
    }
}
