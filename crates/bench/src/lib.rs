//! The load tool: N concurrent tapped calls through an earshot node over real SIP, measured
//! from outside the node.
//!
//! [`run`] starts the node as a child process (`earshot serve` with a generated SWML document:
//! answer, the variant's taps, `connect` to a far end), pinned to its own core, and plays both
//! ends of every call itself: a SIP UAC that places the calls, a far-end UAS that answers the
//! node's `connect`, RTP at 50 packets/s in each direction of every call (batched with
//! `sendmmsg`, calls spread over the 20 ms period), and the receivers of the relayed media
//! and of the taps (RTP with kernel receive timestamps, or WebSocket). Every source packet's
//! payload carries a tag naming it (`tag.rs`), so a tap frame is matched to the source packet
//! it came from: latency is "source packet sent → tap frame received", both stamps on the
//! same clock of the same loopback host.
//!
//! What it reports ([`Report`]): node CPU per input packet and per call (utime+stime from
//! `/proc` over the measurement window), RSS per call, tap frames received, missing (gaps
//! in the tap's sequence numbers) and silent (no source audio in them), tap latency and
//! pacing (deviation of each tap stream's arrivals from its best-fitting `start + n·ptime`
//! grid) as p50/p99/max, relayed media loss, and call setups per second, also while the
//! calls are up. Runs are bounded in time, use loopback only, and kill the node on exit.
//!
//! [`suite`] runs a list of call counts for each variant, runs the rtpengine harness for the
//! same counts, and writes the tables and the plot (`plot.rs`).

mod calls;
mod error;
mod media;
mod node;
pub mod plot;
mod report;
mod run;
mod stats;
pub mod suite;
mod tag;
mod udp;
mod ws;

pub use error::BenchError;
pub use report::{Report, SetupReport, TapReport};
pub use run::run;
pub use stats::{Histogram, Summary};

use std::path::PathBuf;
use std::time::Duration;

/// What taps every call carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// Two RTP taps, `speak` and `listen`: the same packet work as rtpengine's fork of both
    /// directions.
    Rtp2,
    /// One mixed `both` RTP tap.
    Both,
    /// One mixed `both` tap over WebSocket.
    Ws,
}

impl Variant {
    /// The variant's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Rtp2 => "rtp2",
            Variant::Both => "both",
            Variant::Ws => "ws",
        }
    }

    /// Parses a name given by [`Variant::name`].
    pub fn parse(name: &str) -> Option<Variant> {
        match name {
            "rtp2" => Some(Variant::Rtp2),
            "both" => Some(Variant::Both),
            "ws" => Some(Variant::Ws),
            _ => None,
        }
    }

    /// Taps per call.
    pub fn taps_per_call(self) -> usize {
        match self {
            Variant::Rtp2 => 2,
            Variant::Both | Variant::Ws => 1,
        }
    }
}

/// One run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The `earshot` binary that runs the node.
    pub earshot: PathBuf,
    /// Calls up during the measurement.
    pub calls: usize,
    /// Their taps.
    pub variant: Variant,
    /// Media before the measurement window.
    pub warmup: Duration,
    /// The measurement window.
    pub duration: Duration,
    /// Calls placed (as fast as the node answers, `setup_concurrency` at a time) after the
    /// window while the `calls` stay up with media: the setup rate under load.
    pub setup_extra: usize,
    /// Dials in flight at once.
    pub setup_concurrency: usize,
    /// The core the node is pinned to.
    pub node_cpu: Option<usize>,
    /// The core the tool pins itself to.
    pub tool_cpu: Option<usize>,
    /// The first of the tool's ports on 127.0.0.1 (it uses 64 from there); the node's RTP
    /// legs use 16384–32767.
    pub base_port: u16,
    /// Sockets per role (caller media, far media, tap sink).
    pub shards: usize,
    /// Where the node's log goes.
    pub log_dir: PathBuf,
    /// The taps' alignment window (`taps.window_ms` and `taps.window_both_ms` of the node);
    /// `None` leaves the node's defaults (20 and 40 ms).
    pub tap_window: Option<Duration>,
    /// A program to start the node under, given the node's command line: a profiler that
    /// runs it in the same process (`valgrind`, or a script that `exec`s one), so that the
    /// node gets the tool's signals. CPU and memory figures are then the profiler's too.
    pub node_wrapper: Option<PathBuf>,
}

impl Config {
    /// Defaults for `calls` calls of `variant` run by `earshot`.
    pub fn new(earshot: PathBuf, calls: usize, variant: Variant) -> Config {
        Config {
            earshot,
            calls,
            variant,
            warmup: Duration::from_secs(3),
            duration: Duration::from_secs(10),
            setup_extra: 0,
            setup_concurrency: 32,
            node_cpu: Some(1),
            tool_cpu: Some(0),
            base_port: 13000,
            shards: 4,
            log_dir: std::env::temp_dir().join("earshot-bench"),
            tap_window: None,
            node_wrapper: None,
        }
    }
}
