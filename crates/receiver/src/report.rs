//! [`StreamReport`]: what one stream delivered, live (once a second) and at its end.

use std::net::SocketAddr;
use std::path::PathBuf;

use g711::Law;
use serde_json::{Value, json};

use crate::PacingStats;

/// How a stream arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// RTP over UDP, one SSRC from one source.
    Rtp,
    /// One WebSocket connection.
    Ws,
}

impl StreamKind {
    /// `rtp` or `ws`.
    pub fn name(self) -> &'static str {
        match self {
            StreamKind::Rtp => "rtp",
            StreamKind::Ws => "ws",
        }
    }
}

/// The figures of the last second, for live display.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    /// Frames (packets or messages) received.
    pub frames: u64,
    /// RMS level per channel, dBFS (`None`: silence or nothing).
    pub level_dbfs: Vec<Option<f64>>,
    /// The largest deviation from the steady grid, ms.
    pub off_grid_max_ms: Option<f64>,
}

/// One stream's report.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamReport {
    /// The stream's number at its listener, from 1.
    pub id: u64,
    /// RTP or WebSocket.
    pub kind: StreamKind,
    /// Where it came from.
    pub source: SocketAddr,
    /// RTP: the SSRC.
    pub ssrc: Option<u32>,
    /// WebSocket: the request's path and query.
    pub path: Option<String>,
    /// The codec, once known.
    pub codec: Option<Law>,
    /// The packetization time, once known.
    pub ptime_ms: Option<u32>,
    /// 1, or 2 for a stereo tap.
    pub channels: u16,
    /// Frames received (RTP packets with duplicates, or binary messages).
    pub frames: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// The stream's length on its own timeline (frames sent, by numbering, × ptime).
    pub audio_ms: u64,
    /// RTP: packets missing from the numbering.
    pub lost: u64,
    /// RTP: packets received twice.
    pub duplicates: u64,
    /// RTP: packets that arrived after a later one.
    pub reordered: u64,
    /// Arrival deviation from the steady grid.
    pub pacing: PacingStats,
    /// The whole stream's RMS level per channel, dBFS.
    pub level_dbfs: Vec<Option<f64>>,
    /// The last second.
    pub window: Window,
    /// The WAV file the audio went to.
    pub wav: Option<PathBuf>,
    /// The contract's breaks (the first 32).
    pub violations: Vec<String>,
    /// How many breaks there were in all.
    pub violation_count: u64,
    /// Things worth knowing that break nothing.
    pub notes: Vec<String>,
    /// WebSocket with `announce`: the `start` message.
    pub start: Option<Value>,
    /// WebSocket with `announce`: the `stop` message.
    pub stop: Option<Value>,
    /// WebSocket: the Close frame's code, if one came.
    pub close_code: Option<u16>,
    /// Whether the stream has ended.
    pub ended: bool,
}

fn db(level: &[Option<f64>]) -> String {
    let one = |l: &Option<f64>| l.map_or_else(|| "silent".to_string(), |d| format!("{d:.1} dBFS"));
    match level {
        [] => "no audio".to_string(),
        [mono] => one(mono),
        [left, right] => format!("L {} R {}", one(left), one(right)),
        many => many.iter().map(one).collect::<Vec<_>>().join(" / "),
    }
}

impl StreamReport {
    /// A short name: `rtp 127.0.0.1:4000 ssrc 1a2b3c4d` or `ws#2 127.0.0.1:50000 /audio`.
    pub fn name(&self) -> String {
        match (self.ssrc, &self.path) {
            (Some(ssrc), _) => format!("rtp {} ssrc {ssrc:08x}", self.source),
            (None, Some(path)) => format!("ws#{} {} {path}", self.id, self.source),
            (None, None) => format!("{}#{} {}", self.kind.name(), self.id, self.source),
        }
    }

    fn format(&self) -> String {
        let codec = self.codec.map_or("?", Law::name);
        let ptime = self
            .ptime_ms
            .map_or_else(|| "?".to_string(), |p| p.to_string());
        let ch = if self.channels == 2 { " stereo" } else { "" };
        format!("{codec} {ptime} ms{ch}")
    }

    /// One line of live figures: this second's frames and level, and the totals.
    pub fn live_line(&self) -> String {
        let late = self
            .window
            .off_grid_max_ms
            .map_or_else(String::new, |l| format!(", off grid ≤{l:.1} ms"));
        format!(
            "{} ({}): {} frames/s, {}{late}; total {} frames, lost {}, {} violation(s)",
            self.name(),
            self.format(),
            self.window.frames,
            db(&self.window.level_dbfs),
            self.frames,
            self.lost,
            self.violation_count
        )
    }

    /// The end-of-stream summary, several lines for people.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} ({})\n  {} frames, {} bytes, {:.2} s of audio; lost {}, duplicates {}, reordered {}\n  \
             pacing: off grid p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n  level: {}",
            self.name(),
            self.format(),
            self.frames,
            self.bytes,
            self.audio_ms as f64 / 1000.0,
            self.lost,
            self.duplicates,
            self.reordered,
            self.pacing.p50_ms,
            self.pacing.p99_ms,
            self.pacing.max_ms,
            db(&self.level_dbfs)
        );
        if let Some(start) = &self.start {
            s += &format!("\n  start: {start}");
        }
        if let Some(stop) = &self.stop {
            s += &format!("\n  stop: {stop}");
        }
        if self.kind == StreamKind::Ws {
            s += &self.close_code.map_or_else(
                || "\n  no Close frame".to_string(),
                |c| format!("\n  Close {c}"),
            );
        }
        if let Some(wav) = &self.wav {
            s += &format!("\n  wav: {}", wav.display());
        }
        for note in &self.notes {
            s += &format!("\n  note: {note}");
        }
        if self.violation_count == 0 {
            s += "\n  contract: ok";
        } else {
            s += &format!("\n  contract: {} violation(s)", self.violation_count);
            for v in &self.violations {
                s += &format!("\n    - {v}");
            }
            let more = self.violation_count - self.violations.len() as u64;
            if more > 0 {
                s += &format!("\n    - … and {more} more");
            }
        }
        s
    }

    /// The report as one JSON object (for `--json`: one line per stream).
    pub fn to_json(&self) -> Value {
        json!({
            "stream": self.id,
            "kind": self.kind.name(),
            "source": self.source.to_string(),
            "ssrc": self.ssrc,
            "path": self.path,
            "codec": self.codec.map(Law::name),
            "ptime": self.ptime_ms,
            "channels": self.channels,
            "frames": self.frames,
            "bytes": self.bytes,
            "audio_ms": self.audio_ms,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "reordered": self.reordered,
            "pacing_ms": {
                "p50": self.pacing.p50_ms,
                "p99": self.pacing.p99_ms,
                "max": self.pacing.max_ms,
            },
            "level_dbfs": self.level_dbfs,
            "window": {
                "frames": self.window.frames,
                "level_dbfs": self.window.level_dbfs,
                "off_grid_max_ms": self.window.off_grid_max_ms,
            },
            "wav": self.wav.as_ref().map(|p| p.display().to_string()),
            "violations": self.violations,
            "violation_count": self.violation_count,
            "notes": self.notes,
            "start": self.start,
            "stop": self.stop,
            "close_code": self.close_code,
            "ended": self.ended,
        })
    }
}
