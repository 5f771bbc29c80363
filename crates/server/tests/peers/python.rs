//! A peer written in Python (`/usr/bin/python3` and Debian's `python3-websockets`), run as a
//! child process that reports on stdout as JSON lines, and ends when its stdin closes.

#![allow(
    unreachable_pub,
    reason = "a test helper module shared by test binaries"
)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A running peer.
pub struct PythonPeer {
    _child: Child,
    _stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    /// The port it listens on.
    pub port: u16,
}

impl PythonPeer {
    /// Starts `tests/peers/<script>` with `args` and waits for its `listening` line.
    pub async fn start(script: &str, args: &[&str]) -> PythonPeer {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers/");
        let mut child = Command::new("/usr/bin/python3")
            .arg(format!("{path}{script}"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("/usr/bin/python3 runs (scripts/test installs python3-websockets)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut peer = PythonPeer {
            _child: child,
            _stdin: stdin,
            lines: BufReader::new(stdout).lines(),
            port: 0,
        };
        let first = peer.next(Duration::from_secs(10)).await;
        assert_eq!(first["event"], "listening", "{first}");
        peer.port = first["port"].as_u64().expect("a port") as u16;
        peer
    }

    /// The next JSON line, within `within`.
    pub async fn next(&mut self, within: Duration) -> serde_json::Value {
        let line = tokio::time::timeout(within, self.lines.next_line())
            .await
            .expect("the peer reports before the deadline")
            .expect("the peer's stdout reads")
            .expect("the peer is still running");
        serde_json::from_str(&line).expect("the peer prints JSON lines")
    }
}
