//! Nanoseconds per output frame of the tap core: a steady 20 ms call in, one frame out per
//! 20 ms, for the tap shapes that matter.

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use g711::Law;
use rtp::{Header, Packet, PayloadType, RtpTime, SeqNo, Ssrc};
use tap::{Direction, Input, Output, Ptime, RtpStart, Stream, Tap, TapConfig};

const FRAMES: u64 = 1000;

fn packets(law: Law, ssrc: u32) -> Vec<Vec<u8>> {
    (0..FRAMES as u32)
        .map(|k| {
            let header = Header {
                marker: k == 0,
                payload_type: PayloadType::new(law.payload_type()).expect("7-bit"),
                seq: SeqNo(k as u16),
                timestamp: RtpTime(k * 160),
                ssrc: Ssrc(ssrc),
            };
            let payload: Vec<u8> = (0..160)
                .map(|i| ((i * 7 + k as usize) % 251) as u8)
                .collect();
            let mut buf = vec![0; 172];
            Packet::write(&header, &payload, &mut buf).expect("sized");
            buf
        })
        .collect()
}

/// Runs `FRAMES` frames of a call through a fresh tap; returns the payload bytes produced.
fn run(config: TapConfig, speak: &[Vec<u8>], listen: Option<&[Vec<u8>]>) -> usize {
    let start = Instant::now();
    let rtp = RtpStart {
        ssrc: Ssrc(1),
        seq: SeqNo(2),
        timestamp: RtpTime(3),
    };
    let mut tap = Tap::new(config, start, rtp).expect("valid");
    let mut bytes = 0;
    for k in 0..FRAMES as usize {
        let now = start + Duration::from_millis(20 * k as u64 + 1);
        let packet = Packet::parse(&speak[k]).expect("valid");
        tap.handle_input(Input::Rtp {
            now,
            stream: Stream::Speak,
            packet,
        });
        if let Some(listen) = listen {
            let packet = Packet::parse(&listen[k]).expect("valid");
            tap.handle_input(Input::Rtp {
                now,
                stream: Stream::Listen,
                packet,
            });
        }
        tap.handle_input(Input::Timeout(now));
        while let Output::Transmit(f) = tap.poll_output() {
            bytes += black_box(f.payload).len();
        }
    }
    bytes
}

fn bench(c: &mut Criterion) {
    let ulaw = packets(Law::Ulaw, 10);
    let alaw = packets(Law::Alaw, 11);
    let mut g = c.benchmark_group("tap_frame");
    g.throughput(Throughput::Elements(FRAMES));
    let cfg = |direction, codec, stereo| {
        let mut c = TapConfig::new(direction);
        c.codec = codec;
        c.ptime = Ptime::DEFAULT;
        c.stereo = stereo;
        c
    };
    g.bench_function("speak_pcmu_to_pcmu", |b| {
        b.iter(|| run(cfg(Direction::Speak, Law::Ulaw, false), &ulaw, None))
    });
    g.bench_function("speak_pcmu_to_pcma", |b| {
        b.iter(|| run(cfg(Direction::Speak, Law::Alaw, false), &ulaw, None))
    });
    g.bench_function("both_mixed_pcmu_pcma_to_pcmu", |b| {
        b.iter(|| run(cfg(Direction::Both, Law::Ulaw, false), &ulaw, Some(&alaw)))
    });
    g.bench_function("both_stereo_pcmu_pcma_to_pcmu", |b| {
        b.iter(|| run(cfg(Direction::Both, Law::Ulaw, true), &ulaw, Some(&alaw)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
