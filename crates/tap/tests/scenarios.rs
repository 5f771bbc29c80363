//! Scenario tests of the tap core on virtual time, over a seeded simulated network.

mod sim;

use std::time::{Duration, Instant};

use g711::Law;
use rand::SeedableRng;
use rand::rngs::StdRng;
use sim::{Net, Source, assert_stream_rules, concat, drive, noise, tone};
use tap::{Direction, Ptime, RtpStart, Stream, Tap, TapConfig};

fn tap(config: TapConfig, start: Instant, seed: u64) -> Tap {
    let rtp = RtpStart::random(&mut StdRng::seed_from_u64(seed));
    Tap::new(config, start, rtp).expect("valid configuration")
}

fn config(direction: Direction, codec: Law, ptime_ms: u32) -> TapConfig {
    let mut c = TapConfig::new(direction);
    c.codec = codec;
    c.ptime = Ptime::from_ms(ptime_ms).expect("valid ptime");
    c
}

/// Where timeline position 0 lands in the concatenated output: frame 0 covers the ptime that
/// ended one window before the start.
fn output_index(c: &TapConfig) -> usize {
    c.ptime.samples() + c.window_ms as usize * 8
}

/// A source whose packets all take the same time: the output must be its audio, byte for
/// byte, starting exactly where its first packet's arrival puts it.
fn byte_exact(in_law: Law, in_ptime: u32, out_law: Law, out_ptime: u32) {
    let start = Instant::now();
    let c = config(Direction::Speak, out_law, out_ptime);
    let mut t = tap(c, start, 1);
    let audio = noise(in_law, 8000 * 3, 2);
    let mut src = Source::new(in_law, in_ptime, Stream::Speak, 3);
    let first_at = Duration::from_millis(u64::from(in_ptime));
    let sent = src.packetize(&audio, first_at);
    let (arrivals, lost) = Net::new(4).carry(&sent);
    assert!(lost.is_empty());
    let frames = drive(&mut t, start, &arrivals, Duration::from_secs(4));

    assert_stream_rules(
        &frames,
        start,
        out_ptime,
        out_law.payload_type(),
        c.frame_bytes(),
    );
    let out = concat(&frames);
    // The first packet arrives 5 ms after its audio was complete, and its first sample is
    // placed at its arrival.
    let at = output_index(&c) + (in_ptime as usize + 5) * 8;
    let expected: Vec<u8> = audio
        .iter()
        .map(|&b| out_law.transcode_from(in_law, b))
        .collect();
    assert!(
        out[..at].iter().all(|&b| b == out_law.silence()),
        "silence before the audio"
    );
    let first_diff = out[at..].iter().zip(&expected).position(|(a, b)| a != b);
    assert_eq!(
        first_diff,
        None,
        "the audio, byte for byte ({:?})",
        t.stats()
    );
    assert!(
        out[at + expected.len()..]
            .iter()
            .all(|&b| b == out_law.silence())
    );
    // 4 s of frames on the grid (frame 0 at the start), then, at once, the frames that hold
    // what was still inside the alignment window.
    assert_eq!(
        frames.len() as u32,
        4000 / out_ptime + 1 + c.window_ms.div_ceil(out_ptime)
    );
    let stats = t.stats();
    assert_eq!(stats.frames_produced, frames.len() as u64);
    assert_eq!(stats.speak.packets_in, sent.len() as u64);
    assert_eq!((stats.late(), stats.lost(), stats.duplicate()), (0, 0, 0));
}

#[test]
fn thirty_ms_in_twenty_ms_out_is_byte_exact() {
    byte_exact(Law::Ulaw, 30, Law::Ulaw, 20);
}

#[test]
fn twenty_ms_in_sixty_ms_out_is_byte_exact() {
    byte_exact(Law::Alaw, 20, Law::Alaw, 60);
}

#[test]
fn pcmu_in_pcma_out_is_the_direct_transcoding() {
    byte_exact(Law::Ulaw, 20, Law::Alaw, 20);
    byte_exact(Law::Alaw, 120, Law::Ulaw, 10);
}

#[test]
fn loss_jitter_and_reordering_leave_silence_exactly_where_packets_were_lost() {
    for seed in 0..8u64 {
        let start = Instant::now();
        let c = config(Direction::Speak, Law::Ulaw, 20);
        let mut t = tap(c, start, seed);
        let audio = noise(Law::Ulaw, 8000 * 10, seed);
        let mut src = Source::new(Law::Ulaw, 20, Stream::Speak, seed + 100);
        let sent = src.packetize(&audio, Duration::from_millis(20));
        let mut net = Net::new(seed + 200);
        net.loss = 0.05;
        net.jitter = Duration::from_millis(30);
        net.duplicate = 0.01;
        let (arrivals, lost) = net.carry(&sent);
        let reordered = arrivals
            .windows(2)
            .filter(|w| w[1].sent.seq < w[0].sent.seq)
            .count();
        assert!(reordered > 10, "the network reorders (seed {seed})");
        // Jitter of 30 ms needs the window to cover it.
        let mut c = c;
        c.window_ms = 40;
        let mut t2 = tap(c, start, seed);
        std::mem::swap(&mut t, &mut t2);
        let frames = drive(&mut t, start, &arrivals, Duration::from_secs(11));
        assert_stream_rules(&frames, start, 20, 0, 160);

        // The first packet to arrive fixes where the stream sits; every other packet follows
        // from its timestamp.
        let first = &arrivals[0];
        let first_pos = first.at.as_micros() as i64 / 125;
        let mut expected = vec![Law::Ulaw.silence(); concat(&frames).len()];
        for s in &sent {
            if lost.contains(&s.seq) {
                continue;
            }
            let pos = first_pos + i64::from(s.ts.wrapping_sub(first.sent.ts) as i32);
            let at = (pos + output_index(&c) as i64) as usize;
            expected[at..at + s.payload.len()].copy_from_slice(&s.payload);
        }
        assert_eq!(concat(&frames), expected, "seed {seed}");
        let stats = t.stats();
        assert_eq!(stats.speak.late, 0, "seed {seed}");
        // Losses are gaps between the lowest and highest sequence numbers received (RFC 3550
        // A.3): a loss at either end of the stream cannot be seen.
        let index = |q: u16| sent.iter().position(|s| s.seq == q).expect("a sent packet");
        let lo = arrivals
            .iter()
            .map(|a| index(a.sent.seq))
            .min()
            .expect("arrivals");
        let hi = arrivals
            .iter()
            .map(|a| index(a.sent.seq))
            .max()
            .expect("arrivals");
        let inner = lost
            .iter()
            .filter(|&&q| (lo..hi).contains(&index(q)))
            .count();
        assert_eq!(stats.speak.lost, inner as u64, "seed {seed}");
        let duplicates = arrivals.len() as u64 + lost.len() as u64 - sent.len() as u64;
        assert_eq!(stats.speak.duplicate, duplicates, "seed {seed}: {stats:?}");
    }
}

/// Per frame of 20 ms: the Goertzel power of `hz`.
fn power_track(frames: &[sim::Out], law: Law, hz: f64, channel: Option<usize>) -> Vec<f64> {
    frames
        .iter()
        .map(|f| {
            let samples: Vec<i16> = match channel {
                None => f.payload.iter().map(|&b| law.decode(b)).collect(),
                Some(ch) => f
                    .payload
                    .iter()
                    .skip(ch)
                    .step_by(2)
                    .map(|&b| law.decode(b))
                    .collect(),
            };
            sim::goertzel(&samples, hz)
        })
        .collect()
}

fn onset(track: &[f64]) -> usize {
    let peak = track.iter().copied().fold(0.0, f64::max);
    track
        .iter()
        .position(|&p| p > peak / 4.0)
        .expect("the tone is present")
}

fn both_directions(stereo: bool) {
    let start = Instant::now();
    let mut c = config(Direction::Both, Law::Ulaw, 20);
    c.stereo = stereo;
    let mut t = tap(c, start, 7);
    // The party starts talking 1 s in; what it hears starts at the same instant.
    let lead = vec![Law::Ulaw.silence(); 8000];
    let mut said = lead.clone();
    said.extend(tone(Law::Ulaw, 440.0, 8000.0, 2.0));
    let mut heard = lead;
    heard.extend(tone(Law::Alaw, 1300.0, 8000.0, 2.0));
    let heard: Vec<u8> = heard
        .iter()
        .map(|&b| Law::Alaw.transcode_from(Law::Ulaw, b))
        .collect();
    // The party's audio crosses a jittery network; what the node sends it is seen as sent.
    let mut speak = Source::new(Law::Ulaw, 20, Stream::Speak, 8);
    let mut net = Net::new(9);
    net.base_delay = Duration::from_millis(8);
    net.jitter = Duration::from_millis(10);
    let (mut arrivals, _) = net.carry(&speak.packetize(&said, Duration::from_millis(20)));
    let mut listen = Source::new(Law::Alaw, 30, Stream::Listen, 10);
    let mut local = Net::new(11);
    local.base_delay = Duration::ZERO;
    let (heard_arrivals, _) = local.carry(&listen.packetize(&heard, Duration::from_millis(30)));
    arrivals.extend(heard_arrivals);
    arrivals.sort_by_key(|a| a.at);

    let frames = drive(&mut t, start, &arrivals, Duration::from_secs(4));
    assert_stream_rules(&frames, start, 20, 0, c.frame_bytes());
    let (ch_said, ch_heard) = if stereo {
        (Some(0), Some(1))
    } else {
        (None, None)
    };
    let said_track = power_track(&frames, Law::Ulaw, 440.0, ch_said);
    let heard_track = power_track(&frames, Law::Ulaw, 1300.0, ch_heard);
    let (a, b) = (onset(&said_track), onset(&heard_track));
    assert!(
        a.abs_diff(b) <= 1,
        "aligned within one ptime: frames {a} and {b}"
    );
    // Both tones are there, for their whole length, and only there.
    for (track, name) in [(&said_track, "said"), (&heard_track, "heard")] {
        let on = onset(track);
        let peak = track.iter().copied().fold(0.0, f64::max);
        assert!(
            track[on + 2..on + 98].iter().all(|&p| p > peak / 4.0),
            "{name} is steady"
        );
        assert!(
            track[..on.saturating_sub(1)]
                .iter()
                .all(|&p| p < peak / 100.0),
            "{name} starts"
        );
    }
    if stereo {
        // No crosstalk between channels.
        let leak = power_track(&frames, Law::Ulaw, 1300.0, Some(0));
        let heard_peak = heard_track.iter().copied().fold(0.0, f64::max);
        assert!(
            leak.iter().all(|&p| p < heard_peak / 1000.0),
            "left carries only speak"
        );
    }
    assert_eq!(t.stats().late(), 0);
}

#[test]
fn both_mixes_the_two_directions_aligned_on_the_node_clock() {
    both_directions(false);
}

#[test]
fn stereo_puts_speak_left_and_listen_right() {
    both_directions(true);
}

#[test]
fn an_ssrc_change_and_timestamp_jumps_keep_the_stream_continuous() {
    let start = Instant::now();
    let c = config(Direction::Speak, Law::Ulaw, 20);
    let mut t = tap(c, start, 12);
    let a = noise(Law::Ulaw, 8000, 13);
    let b = noise(Law::Ulaw, 8000, 14);
    let d = noise(Law::Ulaw, 8000, 15);
    let e = noise(Law::Ulaw, 8000, 16);
    let mut src = Source::new(Law::Ulaw, 20, Stream::Speak, 17);
    let mut sent = src.packetize(&a, Duration::from_millis(20));
    // A re-INVITE: a new SSRC with its own numbering.
    let mut src2 = Source::new(Law::Ulaw, 20, Stream::Speak, 18);
    sent.extend(src2.packetize(&b, Duration::from_millis(1020)));
    // The same SSRC jumps its timestamps forward by 10 s...
    src2.ts = src2.ts.wrapping_add(80_000);
    sent.extend(src2.packetize(&d, Duration::from_millis(2020)));
    // ... and back by 20 s.
    src2.ts = src2.ts.wrapping_sub(160_000);
    sent.extend(src2.packetize(&e, Duration::from_millis(3020)));
    let (arrivals, _) = Net::new(19).carry(&sent);
    let frames = drive(&mut t, start, &arrivals, Duration::from_secs(5));
    assert_stream_rules(&frames, start, 20, 0, 160);

    let out = concat(&frames);
    let find = |needle: &[u8]| {
        out.windows(needle.len())
            .position(|w| w == needle)
            .expect("the audio is in the output")
    };
    let at_a = find(&a);
    let at_b = find(&b);
    let at_d = find(&d);
    assert_eq!(at_b, at_a + a.len(), "a new SSRC continues without a gap");
    assert_eq!(
        at_d,
        at_b + b.len(),
        "a forward timestamp jump continues without a gap"
    );
    // A backward jump is taken as such after three packets late by the same amount; the two
    // before are dropped as late.
    let at_e = find(&e[320..]);
    assert_eq!(at_e, at_d + d.len() + 320);
    let stats = t.stats();
    assert_eq!(stats.speak.late, 2);
    assert_eq!(stats.speak.resyncs, 3);
    assert_eq!(stats.speak.lost, 0);
}

#[test]
fn one_hour_of_call_stays_on_the_grid() {
    let start = Instant::now();
    let mut c = config(Direction::Both, Law::Alaw, 20);
    c.window_ms = 40;
    let mut t = tap(c, start, 20);
    let hour = 3600u64;
    let audio = tone(Law::Ulaw, 700.0, 4000.0, hour as f64);
    let mut net = Net::new(21);
    net.jitter = Duration::from_millis(20);
    net.loss = 0.01;
    let (mut arrivals, lost) =
        net.carry(&Source::new(Law::Ulaw, 20, Stream::Speak, 22).packetize(&audio, Duration::ZERO));
    let mut local = Net::new(23);
    local.base_delay = Duration::ZERO;
    let (heard, _) = local
        .carry(&Source::new(Law::Alaw, 20, Stream::Listen, 24).packetize(&audio, Duration::ZERO));
    arrivals.extend(heard);
    arrivals.sort_by_key(|a| a.at);
    let frames = drive(&mut t, start, &arrivals, Duration::from_secs(hour));
    assert_eq!(
        frames.len() as u64,
        hour * 50 + 1 + 2,
        "one frame per ptime, then the flush"
    );
    assert_stream_rules(&frames, start, 20, 8, 160);
    let stats = t.stats();
    assert_eq!(stats.late(), 0);
    assert_eq!(stats.speak.lost, lost.len() as u64);
    assert_eq!(stats.frames_produced, frames.len() as u64);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Whatever the jitter inside the window, the loss and the ptimes, the stream stays on its
    /// grid, no audio is late, and every packet's audio appears once.
    #[test]
    fn any_jitter_inside_the_window_stays_on_the_grid(
        seed in 0u64..1_000_000,
        in_ptime in proptest::sample::select(vec![10u32, 20, 30, 40, 60, 120]),
        out_ptime in proptest::sample::select(vec![10u32, 20, 30, 60, 120]),
        jitter_ms in 0u64..40,
        loss in 0.0f64..0.2,
    ) {
        let start = Instant::now();
        let mut c = config(Direction::Speak, Law::Ulaw, out_ptime);
        c.window_ms = 40;
        let mut t = tap(c, start, seed);
        let audio = noise(Law::Ulaw, 8000 * 2, seed);
        let sent = Source::new(Law::Ulaw, in_ptime, Stream::Speak, seed)
            .packetize(&audio, Duration::from_millis(u64::from(in_ptime)));
        let mut net = Net::new(seed);
        net.jitter = Duration::from_millis(jitter_ms);
        net.loss = loss;
        let (arrivals, lost) = net.carry(&sent);
        proptest::prop_assume!(!arrivals.is_empty());
        let frames = drive(&mut t, start, &arrivals, Duration::from_millis(3000));
        assert_stream_rules(&frames, start, out_ptime, 0, c.frame_bytes());
        let stats = t.stats();
        proptest::prop_assert_eq!(stats.speak.late, 0);
        let out = concat(&frames);
        let audible = out.iter().filter(|&&b| b != Law::Ulaw.silence()).count();
        let delivered: usize =
            sent.iter().filter(|s| !lost.contains(&s.seq)).map(|s| s.payload.len()).sum();
        proptest::prop_assert_eq!(audible, delivered);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever arrives — any SSRC, sequence number, timestamp, payload type and length, in
    /// any order and at any time — the stream keeps its grid, its numbering and its frame size.
    #[test]
    fn hostile_input_never_breaks_the_stream(
        ops in proptest::collection::vec(
            (0u64..200_000, proptest::prelude::any::<bool>(), proptest::prelude::any::<u32>(),
             proptest::prelude::any::<u16>(), proptest::prelude::any::<u32>(), 0u8..128, 0usize..1500),
            0..200,
        ),
        both in proptest::prelude::any::<bool>(),
        ptime in proptest::sample::select(vec![10u32, 20, 60, 120]),
        window_ms in 0u32..=1000,
    ) {
        let start = Instant::now();
        let mut c = config(if both { Direction::Both } else { Direction::Speak }, Law::Alaw, ptime);
        c.window_ms = window_ms;
        let mut t = tap(c, start, 99);
        let mut arrivals: Vec<sim::Arrival> = ops
            .iter()
            .map(|&(at_us, listen, ssrc, seq, ts, pt, len)| {
                let header = rtp::Header {
                    marker: false,
                    payload_type: rtp::PayloadType::new(pt).expect("7-bit"),
                    seq: rtp::SeqNo(seq),
                    timestamp: rtp::RtpTime(ts),
                    ssrc: rtp::Ssrc(ssrc % 3),
                };
                let payload = vec![0x55; len];
                let mut bytes = vec![0; 12 + len];
                rtp::Packet::write(&header, &payload, &mut bytes).expect("sized");
                let stream = if listen { Stream::Listen } else { Stream::Speak };
                sim::Arrival {
                    at: Duration::from_micros(at_us * 10),
                    sent: sim::Sent { at: Duration::ZERO, stream, seq, ts, payload, bytes },
                }
            })
            .collect();
        arrivals.sort_by_key(|a| a.at);
        let frames = drive(&mut t, start, &arrivals, Duration::from_secs(2));
        assert_stream_rules(&frames, start, ptime, 8, c.frame_bytes());
        let due = 2000 / ptime as usize + 1;
        proptest::prop_assert!(frames.len() >= due && frames.len() <= due + 1000 / ptime as usize + 2);
        let s = t.stats();
        proptest::prop_assert_eq!(s.frames_produced, frames.len() as u64);
        proptest::prop_assert!(s.packets_in() <= ops.len() as u64);
    }
}
