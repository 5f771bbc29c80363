//! [`WsStream`]: one WebSocket connection's stream checked against the tap contract.
//!
//! Sans-IO: the listener hands it each message with its arrival time. The checks are those of
//! `tap.md` §4 and §7: every binary message is one ptime of audio of the same size; text
//! messages are the `announce` extension's `start` (once, before any audio, with well-formed
//! fields that agree with the audio) and `stop` (once, last, with `stats` that match what
//! arrived: TCP loses nothing, so `frames_sent` and `bytes_sent` must equal what was
//! received); the connection ends with Close 1000. The codec, ptime and channel count come
//! from `start` when there is one, else from the listener's or the connection's URI query,
//! else the stream is taken as PCMU mono and the ptime read from the message size.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use g711::Law;
use serde_json::Value;

use crate::audio::Audio;
use crate::report::{StreamKind, StreamReport, Window};
use crate::violation::{Findings, Violation};
use crate::{Expect, Pacing, valid_ptime};

/// The reasons `stop` may give (contract §6).
const REASONS: [&str; 9] = [
    "stopped",
    "call_ended",
    "max_duration",
    "invalid_params",
    "destination_denied",
    "connect_failed",
    "connection_lost",
    "send_failed",
    "limit_reached",
];

/// One WebSocket stream.
#[derive(Debug)]
pub struct WsStream {
    id: u64,
    source: SocketAddr,
    path: String,
    expect: Expect,
    wav: Option<std::path::PathBuf>,
    audio: Option<Audio>,
    frame_len: usize,
    ptime_ms: Option<u32>,
    channels: u16,
    pacing: Option<Pacing>,
    start: Option<Value>,
    stop: Option<Value>,
    close_code: Option<u16>,
    violations: Findings<Violation>,
    notes: Vec<String>,
    ended: bool,
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_object().and_then(|o| o.get(key))
}

impl WsStream {
    /// A connection from `source` that asked for `path`; audio goes to `wav` when given.
    pub fn new(
        id: u64,
        source: SocketAddr,
        path: String,
        expect: Expect,
        wav: Option<&Path>,
    ) -> WsStream {
        WsStream {
            id,
            source,
            path,
            expect,
            wav: wav.map(Path::to_path_buf),
            audio: None,
            frame_len: 0,
            ptime_ms: None,
            channels: 1,
            pacing: None,
            start: None,
            stop: None,
            close_code: None,
            violations: Findings::default(),
            notes: Vec::new(),
            ended: false,
        }
    }

    /// A binary message arrived at `now`.
    pub fn handle_binary(&mut self, now: Instant, data: &[u8]) {
        if self.stop.is_some() {
            self.violations.push(Violation::AnnounceOrder {
                what: "audio after stop",
            });
        }
        if self.audio.is_none() {
            self.settle(data.len());
        }
        let Some(audio) = &mut self.audio else {
            return;
        };
        let index = audio.frames;
        audio.count(data.len());
        if data.len() != self.frame_len {
            self.violations.push(Violation::PayloadSize {
                index,
                expected: self.frame_len,
                found: data.len(),
            });
        }
        if let Some(p) = &mut self.pacing {
            p.handle_arrival(now, index as i64);
        }
        let mut frame = data[..data.len().min(self.frame_len)].to_vec();
        frame.resize(self.frame_len, audio.law.silence());
        audio.write(index * self.frame_len as u64, &frame);
    }

    /// Fixes the format at the first audio message, of `len` bytes.
    fn settle(&mut self, len: usize) {
        let law = self.expect.codec.unwrap_or(Law::Ulaw);
        let (ptime, channels) = match (self.expect.ptime_ms, self.expect.channels) {
            (Some(ms), Some(ch)) => (ms, ch),
            (Some(ms), None) => {
                let per_channel = ms as usize * 8;
                if len.is_multiple_of(per_channel) && matches!(len / per_channel, 1 | 2) {
                    (ms, (len / per_channel) as u16)
                } else {
                    self.violations.push(Violation::Channels {
                        bytes: len,
                        samples: ms * 8,
                    });
                    (ms, 1)
                }
            }
            (None, ch) => {
                let ch = ch.unwrap_or(1);
                let samples = (len / usize::from(ch)) as u32;
                if !samples.is_multiple_of(8) || !valid_ptime(samples / 8) {
                    self.violations.push(Violation::Ptime { samples });
                }
                ((samples / 8).max(1), ch)
            }
        };
        self.frame_len = ptime as usize * 8 * usize::from(channels);
        self.ptime_ms = Some(ptime);
        self.channels = channels;
        let mut audio = Audio::new(law, self.wav.as_deref());
        audio.set_channels(channels);
        self.notes.append(&mut audio.notes);
        self.audio = Some(audio);
        self.pacing = Some(Pacing::new(ptime));
    }

    /// A text message arrived.
    pub fn handle_text(&mut self, text: &str) {
        let bad = |what: String| Violation::BadText { what };
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let shown: String = text.chars().take(60).collect();
                self.violations
                    .push(bad(format!("not JSON ({e}): {shown:?}")));
                return;
            }
        };
        match field(&value, "event").and_then(Value::as_str) {
            Some("start") => self.handle_start(value),
            Some("stop") => self.handle_stop(value),
            _ => self
                .violations
                .push(bad("neither an announce start nor a stop event".into())),
        }
    }

    fn handle_start(&mut self, start: Value) {
        if self.start.is_some() {
            self.violations.push(Violation::AnnounceOrder {
                what: "a second start",
            });
            return;
        }
        if self.audio.is_some() {
            self.violations.push(Violation::AnnounceOrder {
                what: "start after the first audio",
            });
        }
        let mut missing = Vec::new();
        let str_of = |key: &str| field(&start, key).and_then(Value::as_str);
        let num_of = |key: &str| field(&start, key).and_then(Value::as_u64);
        if num_of("version") != Some(1) {
            missing.push("version 1");
        }
        for key in ["call_id", "control_id"] {
            if str_of(key).is_none_or(str::is_empty) {
                missing.push(key);
            }
        }
        let direction = str_of("direction");
        if !matches!(direction, Some("speak" | "listen" | "both")) {
            missing.push("direction (speak, listen or both)");
        }
        let codec = str_of("codec").and_then(Law::from_name);
        if codec.is_none() {
            missing.push("codec (PCMU or PCMA)");
        }
        if num_of("rate") != Some(8000) {
            missing.push("rate 8000");
        }
        let channels = num_of("channels").filter(|c| matches!(c, 1 | 2));
        if channels.is_none() {
            missing.push("channels (1 or 2)");
        }
        let ptime = num_of("ptime")
            .and_then(|p| u32::try_from(p).ok())
            .filter(|&p| valid_ptime(p));
        if ptime.is_none() {
            missing.push("ptime (10 to 120, a multiple of 10)");
        }
        if !field(&start, "params").is_some_and(Value::is_object) {
            missing.push("params (an object)");
        }
        if !missing.is_empty() {
            self.violations.push(Violation::BadText {
                what: format!("start lacks or has a bad {}", missing.join(", ")),
            });
        }
        if channels == Some(2) && direction.is_some_and(|d| d != "both") {
            self.violations.push(Violation::AnnounceMismatch {
                field: "channels",
                announced: "2".into(),
                seen: format!("direction is {}", direction.unwrap_or_default()),
            });
        }
        let told = self.expect;
        let mismatch = |field, announced: String, seen: String| Violation::AnnounceMismatch {
            field,
            announced,
            seen: format!("the listener was told {seen}"),
        };
        if let (Some(a), Some(t)) = (codec, told.codec)
            && a != t
        {
            self.violations
                .push(mismatch("codec", a.name().into(), t.name().into()));
        }
        if let (Some(a), Some(t)) = (ptime, told.ptime_ms)
            && a != t
        {
            self.violations
                .push(mismatch("ptime", a.to_string(), t.to_string()));
        }
        if let (Some(a), Some(t)) = (channels, told.channels)
            && a != u64::from(t)
        {
            self.violations
                .push(mismatch("channels", a.to_string(), t.to_string()));
        }
        // What start says is what the audio is checked against from here on.
        self.expect = Expect {
            codec: codec.or(told.codec),
            ptime_ms: ptime.or(told.ptime_ms),
            channels: channels.map(|c| c as u16).or(told.channels),
        };
        self.start = Some(start);
    }

    fn handle_stop(&mut self, stop: Value) {
        if self.stop.is_some() {
            self.violations.push(Violation::AnnounceOrder {
                what: "a second stop",
            });
            return;
        }
        if self.start.is_none() {
            self.violations.push(Violation::AnnounceOrder {
                what: "stop without start",
            });
        }
        let reason = field(&stop, "reason").and_then(Value::as_str);
        if !reason.is_some_and(|r| REASONS.contains(&r)) {
            self.violations.push(Violation::BadText {
                what: format!("stop has no known reason: {reason:?}"),
            });
        }
        let stats = field(&stop, "stats");
        for key in ["frames_sent", "frames_dropped", "bytes_sent"] {
            if stats
                .and_then(|s| field(s, key))
                .and_then(Value::as_u64)
                .is_none()
            {
                self.violations.push(Violation::BadText {
                    what: format!("stop's stats lack {key}"),
                });
            }
        }
        self.stop = Some(stop);
    }

    /// A Close frame arrived (`None`: without a code).
    pub fn handle_close(&mut self, code: Option<u16>) {
        let code = code.unwrap_or(1005);
        if code != 1000 {
            self.violations.push(Violation::CloseCode { code });
        }
        self.close_code = Some(code);
    }

    /// The live report: totals, and the last second's figures (which it resets).
    pub fn poll_report(&mut self) -> StreamReport {
        let (frames, level_dbfs) = self
            .audio
            .as_mut()
            .map_or((0, Vec::new()), Audio::take_window);
        let off_grid_max_ms = self.pacing.as_mut().and_then(Pacing::take_window_max);
        if let Some(a) = &mut self.audio {
            a.flush();
        }
        self.report(Window {
            frames,
            level_dbfs,
            off_grid_max_ms,
        })
    }

    /// Ends the stream (the connection is gone) and gives its final report.
    pub fn finish(&mut self) -> StreamReport {
        if self.close_code.is_none() {
            self.notes.push(
                "the connection ended without a Close frame (earshot omits it only when the \
                 connection was lost)"
                    .into(),
            );
        }
        let (frames, bytes) = self.audio.as_ref().map_or((0, 0), |a| (a.frames, a.bytes));
        if let Some(stats) = self.stop.as_ref().and_then(|s| field(s, "stats")) {
            if self
                .start
                .as_ref()
                .is_some_and(|s| field(s, "resumed_at").is_some())
            {
                self.notes.push(
                    "a resumed connection: stop's stats count the frames of earlier connections too"
                        .into(),
                );
            } else {
                for (key, received) in [("frames_sent", frames), ("bytes_sent", bytes)] {
                    if let Some(announced) = field(stats, key).and_then(Value::as_u64)
                        && announced != received
                    {
                        self.violations.push(Violation::StopStats {
                            field: key,
                            announced,
                            received,
                        });
                    }
                }
            }
        }
        self.ended = true;
        if let Some(a) = &mut self.audio {
            a.flush();
        }
        self.report(Window::default())
    }

    fn report(&mut self, window: Window) -> StreamReport {
        if let Some(a) = &mut self.audio {
            self.notes.append(&mut a.notes);
        }
        let audio = self.audio.as_ref();
        let frames = audio.map_or(0, |a| a.frames);
        StreamReport {
            id: self.id,
            kind: StreamKind::Ws,
            source: self.source,
            ssrc: None,
            path: Some(self.path.clone()),
            codec: audio.map(|a| a.law).or(self.expect.codec),
            ptime_ms: self.ptime_ms,
            channels: self.channels,
            frames,
            bytes: audio.map_or(0, |a| a.bytes),
            audio_ms: frames * u64::from(self.ptime_ms.unwrap_or(0)),
            lost: 0,
            duplicates: 0,
            reordered: 0,
            pacing: self.pacing.as_ref().map(Pacing::stats).unwrap_or_default(),
            level_dbfs: audio.map_or_else(Vec::new, Audio::levels),
            window,
            wav: audio.and_then(Audio::wav_path),
            violations: self
                .violations
                .kept()
                .iter()
                .map(ToString::to_string)
                .collect(),
            violation_count: self.violations.total(),
            notes: self.notes.clone(),
            start: self.start.clone(),
            stop: self.stop.clone(),
            close_code: self.close_code,
            ended: self.ended,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn stream(expect: Expect) -> WsStream {
        WsStream::new(
            1,
            SocketAddr::from(([127, 0, 0, 1], 50000)),
            "/audio".into(),
            expect,
            None,
        )
    }

    const START: &str = r#"{"event":"start","version":1,"call_id":"c","control_id":"t","direction":"both","codec":"PCMA","rate":8000,"channels":2,"ptime":30,"params":{"customer":"acme"}}"#;

    #[test]
    fn an_announced_stereo_stream_is_checked_against_its_start_and_stop() {
        let mut s = stream(Expect::default());
        let t0 = Instant::now();
        s.handle_text(START);
        for n in 0..10u64 {
            s.handle_binary(t0 + Duration::from_millis(30 * n), &[0xD5; 480]);
        }
        s.handle_text(r#"{"event":"stop","reason":"stopped","stats":{"frames_sent":10,"frames_dropped":0,"bytes_sent":4800}}"#);
        s.handle_close(Some(1000));
        let r = s.finish();
        assert_eq!(r.violations, Vec::<String>::new());
        assert!(r.notes.is_empty(), "{:?}", r.notes);
        assert_eq!(
            (r.codec, r.ptime_ms, r.channels),
            (Some(Law::Alaw), Some(30), 2)
        );
        assert_eq!((r.frames, r.bytes, r.audio_ms), (10, 4800, 300));
        assert_eq!(
            r.level_dbfs,
            vec![Some(20.0 * (8.0f64 / 32768.0).log10()); 2]
        );
    }

    #[test]
    fn without_announce_the_ptime_comes_from_the_size() {
        let mut s = stream(Expect::default());
        let t0 = Instant::now();
        for n in 0..3u64 {
            s.handle_binary(t0 + Duration::from_millis(20 * n), &[0xFF; 160]);
        }
        s.handle_close(Some(1000));
        let r = s.finish();
        assert_eq!(r.violations, Vec::<String>::new());
        assert_eq!(
            (r.codec, r.ptime_ms, r.channels),
            (Some(Law::Ulaw), Some(20), 1)
        );
    }

    #[test]
    fn each_break_of_the_contract_is_named() {
        let mut s = stream(Expect {
            ptime_ms: Some(20),
            ..Expect::default()
        });
        let t0 = Instant::now();
        s.handle_binary(t0, &[0xFF; 160]);
        s.handle_text(START);
        s.handle_binary(t0, &[0xFF; 100]);
        s.handle_text("hello");
        s.handle_text(r#"{"event":"stop","reason":"bored","stats":{"frames_sent":9,"frames_dropped":0,"bytes_sent":260}}"#);
        s.handle_binary(t0, &[0xFF; 160]);
        s.handle_close(Some(1011));
        let r = s.finish();
        let all = r.violations.join("\n");
        for needle in [
            "start after the first audio",
            "start says ptime 30, but the listener was told 20",
            "frame 1: 100 bytes, expected 160",
            "not JSON",
            "no known reason",
            "audio after stop",
            "Close code 1011",
            "stop says frames_sent 9, but 3 arrived",
            "stop says bytes_sent 260, but 420 arrived",
        ] {
            assert!(all.contains(needle), "{needle:?} in {all}");
        }
        assert_eq!(r.violation_count, 9, "{all}");
    }

    #[test]
    fn a_connection_without_close_is_noted() {
        let mut s = stream(Expect::default());
        s.handle_binary(Instant::now(), &[0xFF; 160]);
        let r = s.finish();
        assert!(r.violations.is_empty());
        assert!(
            r.notes[0].contains("without a Close frame"),
            "{:?}",
            r.notes
        );
    }
}
