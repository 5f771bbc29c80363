//! SIPp as a real peer: spawning it bounded in time and count, and reading its verdict.
//!
//! Every run is bound to loopback (`-i/-mi/-ci 127.0.0.1`), places or takes exactly the
//! calls asked for (`-m`), and stops by itself (`-timeout … -timeout_error`). Its screen goes
//! to a file that is printed when a run fails.

#![allow(
    dead_code,
    reason = "each test binary uses its own part of this module"
)]

use sip::{Endpoint, EndpointConfig, IncomingCalls};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long any single wait in a test may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(15);

/// An SDP answer/offer the tests hand out; its content is opaque to the SIP layer.
pub(crate) const SDP: &str = "v=0\r\no=earshot 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
                       t=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// A running SIPp.
pub(crate) struct Sipp {
    child: Child,
    screen: PathBuf,
}

impl Sipp {
    /// Starts `sipp` with the loopback, count and time bounds plus `args`.
    pub(crate) fn spawn(local_port: u16, args: &[&str]) -> Sipp {
        let screen = std::env::temp_dir().join(format!(
            "earshot-sipp-{}-{local_port}.log",
            std::process::id()
        ));
        let file = std::fs::File::create(&screen).expect("a temp file for the SIPp screen");
        let err = file
            .try_clone()
            .expect("a second handle on the SIPp screen file");
        let port = local_port.to_string();
        let child = Command::new("sipp")
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-ci", "127.0.0.1"])
            .args(["-p", &port, "-m", "1", "-timeout", "20s", "-timeout_error"])
            .args(["-nostdin", "-trace_err", "-error_file"])
            .arg(screen.with_extension("err"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .expect("sipp to start (Debian package sip-tester: apt-get install -y sip-tester)");
        Sipp { child, screen }
    }

    /// Waits for SIPp to exit by itself.
    pub(crate) async fn wait(mut self) -> ExitStatus {
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("sipp to exit within its own -timeout")
            .expect("sipp's exit status");
        if !status.success() {
            self.dump();
        }
        status
    }

    /// Asserts that SIPp exits 0 (all calls successful).
    pub(crate) async fn expect_success(self) {
        let status = self.wait().await;
        assert!(status.success(), "sipp failed: {status}");
    }

    fn dump(&self) {
        for path in [self.screen.clone(), self.screen.with_extension("err")] {
            if let Ok(text) = std::fs::read_to_string(&path) {
                let tail: String = text
                    .chars()
                    .rev()
                    .take(6000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                eprintln!("--- {} ---\n{tail}", path.display());
            }
        }
    }
}

/// A UDP port free on loopback right now.
pub(crate) fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|s| s.local_addr())
        .expect("a free UDP port")
        .port()
}

/// A TCP port free on loopback right now.
pub(crate) fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|s| s.local_addr())
        .expect("a free TCP port")
        .port()
}

/// The path of a scenario file shipped with the tests.
pub(crate) fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// An endpoint on loopback with free UDP and TCP ports.
pub(crate) async fn endpoint() -> (Endpoint, IncomingCalls) {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    Endpoint::bind(EndpointConfig {
        udp_addr: any,
        tcp_addr: Some(any),
        ..EndpointConfig::default()
    })
    .await
    .expect("an endpoint on loopback")
}

/// Awaits `fut` for at most [`DEADLINE`].
pub(crate) async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}
