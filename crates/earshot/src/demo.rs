//! `earshot demo`: one command that shows a tap working, with nothing else installed.
//!
//! It starts a node on loopback whose every call runs [`DOCUMENT`]: answer, tap `both` over
//! RTP (a mono mix) and over WebSocket (`stereo` with `announce`: left what the caller says,
//! right what it hears), play a greeting (three notes, [`GREETING_HZ`]), then silence (ten seconds at a time) until
//! the caller hangs up. A second node places the call with `earshot dial`'s caller, which
//! sends [`server::TONE_SEQUENCE_HZ`] and hangs up after `--seconds`. The built-in receivers
//! take both taps and their status events; at the end the demo reads the WAV files back and
//! checks, by tone detection, that the caller's tones and the greeting arrived where they
//! belong: both in the mix, only the caller's on the left, only the greeting (in order) on
//! the right. It exits 0 only when all of that holds and every stream kept the contract.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use receiver::{
    ListenUri, Receiver, ReceiverConfig, ReceiverEvent, StatusEvent, StatusReceiver, StreamReport,
    tone_shares,
};
use server::{DialOptions, Node, NodeConfig};

/// The greeting's notes, 300 ms each.
pub(crate) const GREETING_HZ: [f64; 3] = [1000.0, 1200.0, 1400.0];
const NOTE: Duration = Duration::from_millis(300);
/// Tone detection works on blocks of 100 ms (whole cycles of every tone used).
const BLOCK: usize = 800;
/// A tone is present in a block holding at least this share of the block's energy at it
/// (a tone alone reads about 1, a tone mixed with an equal one about 0.5).
const PRESENT: f64 = 0.2;

/// The call flow every call of the demo node runs; `{rtp}`, `{ws}` and `{status}` are the
/// receivers' ports.
pub(crate) const DOCUMENT: &str = "version: 1.0.0
sections:
  main:
    - answer
    - tap:
        uri: rtp://127.0.0.1:{rtp}
        control_id: demo-rtp
        direction: both
        status_url: http://127.0.0.1:{status}/events
    - tap:
        uri: ws://127.0.0.1:{ws}/demo
        control_id: demo-ws
        direction: both
        stereo: true
        announce: true
        custom_parameters:
          demo: earshot
        status_url: http://127.0.0.1:{status}/events
    - play:
        url: file://greeting.wav
    - label: wait
    - play:
        url: silence:10
    - goto:
        label: wait
        max: 100
";

/// `earshot demo`'s options.
pub(crate) struct DemoArgs {
    pub(crate) seconds: Duration,
    pub(crate) out: Option<PathBuf>,
}

impl DemoArgs {
    /// Parses the arguments after `demo`.
    pub(crate) fn parse(mut it: impl Iterator<Item = String>) -> Result<DemoArgs, String> {
        let mut a = DemoArgs {
            seconds: Duration::from_secs(6),
            out: None,
        };
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--seconds" => {
                    let v = it.next().ok_or("--seconds needs a value")?;
                    a.seconds = match v.parse::<f64>() {
                        Ok(s) if (2.0..=600.0).contains(&s) => Duration::from_secs_f64(s),
                        _ => return Err(format!("--seconds: expected 2 to 600, found {v:?}")),
                    };
                }
                "--out" => a.out = Some(it.next().ok_or("--out needs a value")?.into()),
                other => return Err(format!("unknown argument {other:?} for demo")),
            }
        }
        Ok(a)
    }
}

/// An 8 kHz mono 16-bit WAV file of the greeting's notes.
fn greeting_wav() -> Vec<u8> {
    let per_note = (NOTE.as_millis() as usize) * 8;
    let data: Vec<u8> = GREETING_HZ
        .iter()
        .flat_map(|&hz| {
            (0..per_note).map(move |i| {
                (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16
            })
        })
        .flat_map(i16::to_le_bytes)
        .collect();
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    for field in [16u32, 0x0001_0001, 8000, 16000, 0x0010_0002] {
        w.extend_from_slice(&field.to_le_bytes());
    }
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
}

/// Progress lines with the time since the demo started.
struct Progress(Instant);

impl Progress {
    fn say(&self, what: impl std::fmt::Display) {
        eprintln!("[{:5.1} s] {what}", self.0.elapsed().as_secs_f64());
    }
}

/// What the demo collects while the call runs.
#[derive(Default)]
struct Collected {
    rtp: Option<StreamReport>,
    ws: Option<StreamReport>,
    status: Vec<StatusEvent>,
}

impl Collected {
    fn finished(&self) -> usize {
        self.status
            .iter()
            .filter(|e| e.state() == Some("finished"))
            .count()
    }

    fn take(&mut self, what: &str, event: Option<ReceiverEvent>, progress: &Progress) {
        match event {
            Some(ReceiverEvent::Started(r)) => {
                progress.say(format!("{what} tap: stream from {}", r.source))
            }
            Some(ReceiverEvent::Progress(r)) => {
                progress.say(format!("{what} tap: {}", r.live_line()))
            }
            Some(ReceiverEvent::Ended(r)) => {
                progress.say(format!(
                    "{what} tap: stream ended after {} frames",
                    r.frames
                ));
                // The first stream is the demo's; a second one would be a surprise, and is
                // reported as one.
                let slot = if what == "rtp" {
                    &mut self.rtp
                } else {
                    &mut self.ws
                };
                if slot.is_none() {
                    *slot = Some(r);
                } else {
                    progress.say(format!(
                        "{what} tap: an unexpected second stream: {}",
                        r.name()
                    ));
                }
            }
            Some(ReceiverEvent::Stray { datagrams }) => {
                progress.say(format!("{what} tap: {datagrams} stray datagram(s)"));
            }
            None => {}
        }
    }
}

pub(crate) async fn run(a: DemoArgs) -> Result<(), String> {
    let progress = Progress(Instant::now());
    let out = a.out.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("earshot-demo-{}", std::process::id()))
    });
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    std::fs::write(out.join("greeting.wav"), greeting_wav())
        .map_err(|e| format!("cannot write the greeting into {}: {e}", out.display()))?;

    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let mut status = StatusReceiver::bind(loopback)
        .await
        .map_err(|e| e.to_string())?;
    let config = ReceiverConfig {
        out_dir: Some(out.clone()),
        ..ReceiverConfig::default()
    };
    let listen = |scheme: &str| {
        ListenUri::parse(&format!("{scheme}://127.0.0.1:0")).map_err(|e| e.to_string())
    };
    let mut rtp = Receiver::bind(&listen("rtp")?, config.clone())
        .await
        .map_err(|e| e.to_string())?;
    let mut ws = Receiver::bind(&listen("ws")?, config)
        .await
        .map_err(|e| e.to_string())?;
    let document = DOCUMENT
        .replace("{rtp}", &rtp.local_addr().port().to_string())
        .replace("{ws}", &ws.local_addr().port().to_string())
        .replace("{status}", &status.local_addr().port().to_string());
    let document = swml::check(&document).map_err(|errors| {
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        format!(
            "the demo's document does not validate: {}",
            errors.join("; ")
        )
    })?;

    let mut node_config = NodeConfig::default();
    node_config.sip.udp_addr = loopback;
    node_config.sip.tcp_addr = None;
    node_config.media_dir = out.clone();
    node_config.flow = server::CallFlow::Swml(std::sync::Arc::new(server::Routes {
        default: Some(server::Route::Document(document)),
        ..server::Routes::default()
    }));
    let node = Node::start(node_config).await.map_err(|e| e.to_string())?;
    let mut caller_config = NodeConfig::default();
    caller_config.sip.udp_addr = loopback;
    caller_config.sip.tcp_addr = None;
    let caller = Node::start(caller_config)
        .await
        .map_err(|e| e.to_string())?;
    progress.say(format!(
        "node up: SIP {}; receivers: rtp://{}, ws://{}, status http://{}",
        node.sip_udp_addr(),
        rtp.local_addr(),
        ws.local_addr(),
        status.local_addr()
    ));
    let to = format!("sip:demo@{}", node.sip_udp_addr());
    progress.say(format!(
        "calling {to}: the caller sends {} Hz, half a second each, for {} s",
        server::TONE_SEQUENCE_HZ.map(|h| h.to_string()).join("/"),
        a.seconds.as_secs_f64()
    ));

    let mut got = Collected::default();
    let dial = server::dial(
        &caller,
        DialOptions {
            to,
            from: format!("sip:caller@{}", caller.sip_udp_addr()),
            duration: a.seconds,
            ring_timeout: Duration::from_secs(10),
            credentials: None,
        },
    );
    tokio::pin!(dial);
    let call = loop {
        tokio::select! {
            report = &mut dial => break report,
            e = rtp.next_event() => got.take("rtp", e, &progress),
            e = ws.next_event() => got.take("ws", e, &progress),
            Some(e) = status.next_event() => {
                progress.say(format!("status event: {} {}", field(&e, "control_id"), field(&e, "state")));
                got.status.push(e);
            }
        }
    };
    let call = call.map_err(|e| format!("the call failed: {e}"))?;
    progress.say(format!(
        "call {}: {} ({} {} ms); the caller sent {} packets and heard {}",
        call.call_id,
        call.ended,
        call.media.codec.name(),
        call.media.ptime.as_ms(),
        call.stats.packets_out,
        call.stats.packets_in
    ));

    // The node ends the taps when the call ends: wait for both `finished` events and the
    // WebSocket's end, then stop the RTP receiver (RTP has no end of its own).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while got.finished() < 2 || got.ws.is_none() {
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                progress.say("gave up waiting for the taps to finish");
                break;
            }
            e = rtp.next_event() => got.take("rtp", e, &progress),
            e = ws.next_event() => got.take("ws", e, &progress),
            Some(e) = status.next_event() => {
                progress.say(format!("status event: {} {}", field(&e, "control_id"), field(&e, "state")));
                got.status.push(e);
            }
        }
    }
    rtp.stop();
    ws.stop();
    while let Some(e) = rtp.next_event().await {
        got.take("rtp", Some(e), &progress);
    }
    while let Some(e) = ws.next_event().await {
        got.take("ws", Some(e), &progress);
    }
    caller.shutdown();
    node.shutdown();

    let verdict = report(&got, &out);
    if verdict.is_empty() {
        println!("\nresult: the tapped audio arrived, complete and in order");
        Ok(())
    } else {
        println!("\nresult: FAILED");
        for problem in &verdict {
            println!("  - {problem}");
        }
        Err(format!("the demo failed: {} problem(s)", verdict.len()))
    }
}

fn field(e: &StatusEvent, key: &str) -> String {
    e.json
        .as_ref()
        .and_then(|j| j.get("params"))
        .and_then(|p| p.get(key))
        .and_then(|v| v.as_str())
        .unwrap_or("?")
        .to_string()
}

/// The blocks (100 ms each) of `samples` where `hz` is present.
fn blocks_with(samples: &[i16], hz: f64) -> Vec<usize> {
    tone_shares(samples, hz, 8000.0, BLOCK)
        .iter()
        .enumerate()
        .filter(|(_, share)| **share >= PRESENT)
        .map(|(i, _)| i)
        .collect()
}

/// What the audio of one channel holds: per tone, the blocks where it is present.
fn scan(samples: &[i16], tones: &[f64]) -> Vec<(f64, Vec<usize>)> {
    tones
        .iter()
        .map(|&hz| (hz, blocks_with(samples, hz)))
        .collect()
}

fn describe(found: &[(f64, Vec<usize>)]) -> String {
    found
        .iter()
        .map(|(hz, blocks)| match blocks.first() {
            Some(first) => format!(
                "{hz} Hz {:.1} s from {:.1} s",
                blocks.len() as f64 / 10.0,
                *first as f64 / 10.0
            ),
            None => format!("{hz} Hz absent"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks one channel: `present` tones must be found (`ordered`: first seen in this order),
/// `absent` ones must not. Adds a problem per failure.
fn check_channel(
    name: &str,
    samples: &[i16],
    present: &[f64],
    ordered: bool,
    absent: &[f64],
    problems: &mut Vec<String>,
) -> String {
    let found = scan(samples, present);
    for (hz, blocks) in &found {
        if blocks.is_empty() {
            problems.push(format!("{name}: {hz} Hz is missing"));
        }
    }
    if ordered {
        let firsts: Vec<usize> = found
            .iter()
            .filter_map(|(_, b)| b.first().copied())
            .collect();
        if firsts.windows(2).any(|w| w[0] >= w[1]) {
            problems.push(format!(
                "{name}: the notes are out of order ({})",
                describe(&found)
            ));
        }
    }
    for (hz, blocks) in scan(samples, absent) {
        if !blocks.is_empty() {
            problems.push(format!(
                "{name}: {hz} Hz is there in {} block(s), and should not be",
                blocks.len()
            ));
        }
    }
    describe(&found)
}

/// Prints the report and returns the problems found (none: the demo passed).
fn report(got: &Collected, out: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let caller = server::TONE_SEQUENCE_HZ;
    println!("\nearshot demo: what was tapped");
    let hz = |tones: &[f64]| {
        tones
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "  one call; the caller sent {} Hz, the node played a greeting of {} Hz",
        hz(&caller),
        hz(&GREETING_HZ)
    );
    println!("  output: {}", out.display());
    let finished_stats = |control_id: &str| {
        got.status
            .iter()
            .filter(|e| field(e, "control_id") == control_id && e.state() == Some("finished"))
            .find_map(|e| e.json.as_ref()?.get("params")?.get("stats").cloned())
    };
    for (what, control_id, stream) in [
        ("RTP", "demo-rtp", &got.rtp),
        ("WebSocket", "demo-ws", &got.ws),
    ] {
        println!(
            "\n{what} tap ({control_id}, direction both{})",
            if what == "RTP" {
                ", mono mix"
            } else {
                ", stereo, announce"
            }
        );
        let Some(r) = stream else {
            problems.push(format!("{what}: no stream arrived"));
            println!("  no stream arrived");
            continue;
        };
        for line in r.summary().lines() {
            println!("  {line}");
        }
        if r.violation_count > 0 {
            problems.push(format!(
                "{what}: {} contract violation(s)",
                r.violation_count
            ));
        }
        if r.lost > 0 || r.duplicates > 0 || r.reordered > 0 {
            problems.push(format!(
                "{what}: lost {}, duplicates {}, reordered {} on loopback",
                r.lost, r.duplicates, r.reordered
            ));
        }
        match finished_stats(control_id) {
            Some(stats) => {
                let sent = stats.get("frames_sent").and_then(serde_json::Value::as_u64);
                println!(
                    "  node's count: {stats}; received {} of {} frames",
                    r.frames,
                    sent.map_or_else(|| "?".to_string(), |s| s.to_string())
                );
                if sent != Some(r.frames) {
                    problems.push(format!(
                        "{what}: received {} frames, the node sent {sent:?}",
                        r.frames
                    ));
                }
            }
            None => problems.push(format!("{what}: no finished event with stats")),
        }
        let Some(wav) = &r.wav else {
            problems.push(format!("{what}: no WAV file"));
            continue;
        };
        let audio = match receiver::wav::read(wav) {
            Ok(a) => a,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        if what == "RTP" {
            let mix = audio.channel(0);
            let c = check_channel("RTP mix", &mix, &caller, false, &[], &mut problems);
            let g = check_channel("RTP mix", &mix, &GREETING_HZ, true, &[], &mut problems);
            println!("  heard in the mix: caller {c}; greeting {g}");
        } else {
            if audio.channels != 2 {
                problems.push(format!(
                    "WebSocket: {} channel(s), expected 2",
                    audio.channels
                ));
                continue;
            }
            let (left, right) = (audio.channel(0), audio.channel(1));
            let l = check_channel(
                "left (speak)",
                &left,
                &caller,
                false,
                &GREETING_HZ,
                &mut problems,
            );
            let g = check_channel(
                "right (listen)",
                &right,
                &GREETING_HZ,
                true,
                &caller,
                &mut problems,
            );
            println!("  heard on the left (what the caller said): {l}");
            println!("  heard on the right (what the caller heard): {g}");
        }
    }
    println!("\nstatus events, in the order received");
    for e in &got.status {
        println!(
            "  {} {}{}",
            field(e, "control_id"),
            field(e, "state"),
            match field(e, "reason").as_str() {
                "?" => String::new(),
                reason => format!(" (reason {reason})"),
            }
        );
    }
    for control_id in ["demo-rtp", "demo-ws"] {
        let states: Vec<String> = got
            .status
            .iter()
            .filter(|e| field(e, "control_id") == control_id)
            .map(|e| field(e, "state"))
            .collect();
        if states != ["tapping", "finished"] {
            problems.push(format!(
                "{control_id}: status events {states:?}, expected tapping then finished"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_and_mistakes_say_what_is_wrong() {
        let parse = |s: &str| DemoArgs::parse(s.split_whitespace().map(String::from));
        let a = parse("--seconds 3 --out /tmp/d").expect("valid");
        assert_eq!(a.seconds, Duration::from_secs(3));
        assert_eq!(a.out, Some(PathBuf::from("/tmp/d")));
        assert_eq!(parse("").expect("valid").seconds, Duration::from_secs(6));
        assert_eq!(
            parse("--seconds 1").err(),
            Some("--seconds: expected 2 to 600, found \"1\"".into())
        );
        assert_eq!(
            parse("--loud").err(),
            Some("unknown argument \"--loud\" for demo".into())
        );
    }

    #[test]
    fn the_document_validates_and_the_greeting_is_what_the_node_plays() {
        let doc = DOCUMENT
            .replace("{rtp}", "4000")
            .replace("{ws}", "4001")
            .replace("{status}", "4002");
        assert!(swml::check(&doc).is_ok(), "{doc}");
        let wav = greeting_wav();
        let audio = server::wav::decode(&wav, g711::Law::Ulaw).expect("the node plays it");
        assert_eq!(audio.samples().len(), 3 * 2400);
        let pcm: Vec<i16> = audio
            .samples()
            .iter()
            .map(|&c| g711::Law::Ulaw.decode(c))
            .collect();
        for (note, hz) in GREETING_HZ.iter().enumerate() {
            let block = &pcm[note * 2400..note * 2400 + 800];
            assert!(receiver::tone_share(block, *hz, 8000.0) > 0.9, "{hz} Hz");
        }
    }
}
