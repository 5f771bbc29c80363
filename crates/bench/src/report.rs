//! The figures of one run, as one JSON object per run (`--out` appends them to a JSONL
//! file) and as text.

use serde::{Deserialize, Serialize};

use crate::stats::Summary;

/// Tap figures over the measurement window.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TapReport {
    /// Tap streams seen.
    pub streams: u64,
    /// Frames received in the window.
    pub frames_received: u64,
    /// Frames the node numbered but that never arrived (gaps in the RTP sequence numbers);
    /// for WebSocket taps, the node's own `frames_dropped` over the taps' lives.
    pub frames_missing: u64,
    /// For WebSocket taps: the node's `frames_sent` over the taps' lives.
    pub node_frames_sent: Option<u64>,
    /// Frames that carried no source packet (silence: audio that did not reach the tap).
    pub frames_silent: u64,
    /// Source packet sent → tap frame received.
    pub latency: Summary,
    /// Latency of frames whose newest audio is the caller's (`speak`).
    pub latency_speak: Summary,
    /// Latency of frames whose newest audio is the far end's, relayed to the caller
    /// (`listen`).
    pub latency_listen: Summary,
    /// Deviation of arrivals from each stream's `start + n·ptime` grid.
    pub pacing: Summary,
}

/// Call setup figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetupReport {
    /// Calls placed.
    pub calls: usize,
    /// Calls up (with media) while these were placed.
    pub while_up: usize,
    /// Calls that failed.
    pub failed: usize,
    /// Answered calls per second over the whole batch.
    pub per_second: f64,
    /// INVITE → 200 per call.
    pub setup_ms_p50: f64,
    /// INVITE → 200 per call, 99th percentile.
    pub setup_ms_p99: f64,
}

/// One run's figures.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `earshot` for the node under test.
    pub target: String,
    /// Taps per call: rtp2, both, ws.
    pub variant: String,
    /// Calls up during the window.
    pub calls: usize,
    /// When the window started (UTC, RFC 3339).
    pub started_utc: String,
    /// The command that produced this run.
    pub command: String,
    /// The measurement window, s.
    pub window_s: f64,
    /// The taps' alignment window given to the node, ms; `None`: the node's defaults (20 ms
    /// for `speak`/`listen`, 40 ms for `both`).
    #[serde(default)]
    pub tap_window_ms: Option<u64>,
    /// Source packets the tool sent in the window, per second (both directions).
    pub in_pps: f64,
    /// Node CPU (utime+stime, all threads) in the window, % of one core.
    pub node_cpu_pct: f64,
    /// Node CPU per input packet, µs.
    pub us_per_in_pkt: f64,
    /// Node CPU per call (relay of both directions and its taps), % of one core.
    pub cpu_pct_per_call: f64,
    /// Calls one core would carry at this cost per call.
    pub calls_per_core: f64,
    /// Node RSS before the calls, bytes.
    pub rss_idle_bytes: u64,
    /// Node RSS with the calls up, bytes.
    pub rss_bytes: u64,
    /// (RSS with the calls − RSS before) / calls, bytes.
    pub rss_per_call_bytes: f64,
    /// Source packets the tool sent in the window: the relayed packets expected.
    pub relay_sent: u64,
    /// Relayed packets the tool received in the window (the window's edges shift the two
    /// counts by up to one packet per stream).
    pub relay_received: u64,
    /// Packets the tool's sockets refused to send.
    pub tool_send_refused: u64,
    /// How late the tool's send slots ran, ms (its own health: p99 above a few ms means
    /// the tool, not the node, was short of CPU).
    pub tool_slot_lag: Summary,
    /// The taps.
    pub tap: TapReport,
    /// Setting up the calls measured.
    pub setup: SetupReport,
    /// Extra calls placed after the window while the calls stayed up.
    pub setup_under_load: Option<SetupReport>,
    /// The machine's load during the window, % of all cores (100 × cores = all busy).
    pub machine_busy_pct: f64,
    /// Busy % of the node's core during the window.
    pub node_core_busy_pct: Option<f64>,
}

impl Report {
    /// A few lines for a person.
    pub fn text(&self) -> String {
        let t = &self.tap;
        let mut s = format!(
            "{} {} calls={} window={:.1}s: node cpu {:.1}% = {:.2} us/in-pkt, {:.3}%/call \
             ({:.0} calls/core); rss {:.1} KiB/call\n  tap: {} streams, {} frames, {} missing, \
             {} silent; latency p50/p99/max {:.2}/{:.2}/{:.2} ms (speak p99 {:.2}, listen p99 {:.2}); pacing p50/p99/max \
             {:.3}/{:.3}/{:.3} ms\n  relay {} of {} received; setup {:.0}/s ({} failed)",
            self.target,
            self.variant,
            self.calls,
            self.window_s,
            self.node_cpu_pct,
            self.us_per_in_pkt,
            self.cpu_pct_per_call,
            self.calls_per_core,
            self.rss_per_call_bytes / 1024.0,
            t.streams,
            t.frames_received,
            t.frames_missing,
            t.frames_silent,
            t.latency.p50_ms,
            t.latency.p99_ms,
            t.latency.max_ms,
            t.latency_speak.p99_ms,
            t.latency_listen.p99_ms,
            t.pacing.p50_ms,
            t.pacing.p99_ms,
            t.pacing.max_ms,
            self.relay_received,
            self.relay_sent,
            self.setup.per_second,
            self.setup.failed,
        );
        if let Some(u) = &self.setup_under_load {
            s.push_str(&format!(
                "; {} more while {} up: {:.0}/s ({} failed)",
                u.calls, u.while_up, u.per_second, u.failed
            ));
        }
        if let Some(w) = self.tap_window_ms {
            s.push_str(&format!(
                "\n  tap alignment window {w} ms (node default: 20, both 40)"
            ));
        }
        s.push_str(&format!(
            "\n  tool slot lag p99 {:.2} ms, send refused {}; machine busy {:.0}%, node core {:?}%",
            self.tool_slot_lag.p99_ms,
            self.tool_send_refused,
            self.machine_busy_pct,
            self.node_core_busy_pct
        ));
        s
    }
}
