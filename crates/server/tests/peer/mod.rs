//! Test-only peers and tools for the node's end-to-end tests: SIPp, tcpdump, a pcap reader
//! and checks of RTP streams and their audio.
//!
//! Every test owns a block of ports (SIPp's signalling and media ports and the node's RTP
//! range), so tests can run in parallel processes without meeting; the node's SIP ports are
//! picked free by the OS.

#![allow(dead_code, reason = "each test uses its own part of this module")]

pub(crate) mod capture;
pub(crate) mod certs;
pub(crate) mod pcap;
pub(crate) mod sipp;
pub(crate) mod stream;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use media::PortPoolConfig;
use server::{CallReport, Node, NodeConfig};
use tokio::sync::broadcast;

/// How long any single wait in a test may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// The ports a test may use: `34000 + 700·index` onwards, inside 34000..=60599 (below the
/// end of Linux's ephemeral range, 60999).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ports {
    base: u16,
}

impl Ports {
    /// The block of test number `index` (0..38). Each test owns its block; the blocks in use
    /// are listed by `grep -rn 'Ports::block' crates/server/tests`.
    pub(crate) fn block(index: u16) -> Ports {
        assert!(index < 38, "thirty-eight port blocks fit in 34000..=60599");
        let ports = Ports {
            base: 34000 + 700 * index,
        };
        for port in [ports.sipp(), ports.sipp_media()] {
            std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port))
                .unwrap_or_else(|e| panic!("port {port} of this test's block is taken: {e}"));
        }
        ports
    }

    /// The node's RTP range: `len` ports from the start of the block (at most 400).
    pub(crate) fn rtp(self, len: u16) -> PortPoolConfig {
        assert!((2..=400).contains(&len));
        PortPoolConfig {
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            first: self.base,
            last: self.base + len - 1,
        }
    }

    /// SIPp's signalling port.
    pub(crate) fn sipp(self) -> u16 {
        self.base + 500
    }

    /// SIPp's media port (`-mp`); SIPp may use the next few as well.
    pub(crate) fn sipp_media(self) -> u16 {
        self.base + 600
    }
}

/// A node configuration on loopback: free SIP ports over UDP and TCP, RTP in `rtp`.
pub(crate) fn node_config(rtp: PortPoolConfig) -> NodeConfig {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let mut config = NodeConfig {
        rtp,
        ..NodeConfig::default()
    };
    config.sip.udp_addr = any;
    config.sip.tcp_addr = Some(any);
    config
}

/// Starts a node.
pub(crate) async fn start(config: NodeConfig) -> Node {
    Node::start(config)
        .await
        .expect("the node to start on loopback")
}

/// The next call report, within [`DEADLINE`].
pub(crate) async fn next_report(reports: &mut broadcast::Receiver<CallReport>) -> CallReport {
    within("a call report", reports.recv())
        .await
        .expect("the node's report channel")
}

/// Awaits `fut` for at most [`DEADLINE`].
pub(crate) async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// The path of a scenario file shipped with the tests.
pub(crate) fn scenario(name: &str) -> String {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// A WAV file: 8 kHz mono 16-bit PCM, `secs` of a sine at `hz` (amplitude 8000).
pub(crate) fn wav(hz: f64, secs: f64) -> Vec<u8> {
    let data: Vec<u8> = (0..(secs * 8000.0) as usize)
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
        .flat_map(i16::to_le_bytes)
        .collect();
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
}

/// Writes `document` into `dir` and returns the flow that runs it on every call, validated as
/// `earshot serve --swml` would.
pub(crate) fn swml_flow(dir: &std::path::Path, document: &str) -> server::CallFlow {
    std::fs::create_dir_all(dir).expect("a directory for the document");
    let path = dir.join("flow.yaml");
    std::fs::write(&path, document).expect("the document");
    let routes = server::load_routes(Some(&path), &[]).expect("a valid document");
    server::CallFlow::Swml(std::sync::Arc::new(routes))
}

/// The SWML document of the healthy call beside a fault: answer, tap what the caller says
/// (`speak`, PCMU, control id `healthy`) to `rtp://127.0.0.1:PORT` with its status events
/// to the status server on `status_port`, and play a minute of silence.
pub(crate) fn healthy_tap_document(port: u16, status_port: u16) -> String {
    format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{port}
        control_id: healthy
        direction: speak
        codec: PCMU
        status_url: http://127.0.0.1:{status_port}/events
    - play:
        url: silence:60
"
    )
}
