//! The body of the tap core's fuzz target: any bytes become a tap configuration and a sequence
//! of clock steps, datagrams and a stop; the stream's invariants are checked as frames come
//! out, and a broken one panics.

use std::time::{Duration, Instant};

use g711::Law;
use rtp::{RtpTime, SeqNo, Ssrc};

use crate::{Direction, Input, Output, Ptime, RtpStart, Stream, Tap, TapConfig};

/// Runs the tap on `data`; panics only if the tap breaks the contract of its stream.
pub fn run(data: &[u8]) {
    let Some((&[direction, codec, ptime, window], mut rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let direction = match direction % 3 {
        0 => Direction::Speak,
        1 => Direction::Listen,
        _ => Direction::Both,
    };
    let mut config = TapConfig::new(direction);
    config.codec = if codec & 1 == 0 { Law::Ulaw } else { Law::Alaw };
    config.stereo = direction == Direction::Both && codec & 2 != 0;
    config.ptime = Ptime::from_ms(10 * (1 + u32::from(ptime % 12))).unwrap_or_default();
    config.window_ms = u32::from(window) * 4;
    let start = Instant::now();
    let rtp = RtpStart {
        ssrc: Ssrc(7),
        seq: SeqNo(65530),
        timestamp: RtpTime(u32::MAX - 100),
    };
    let Ok(mut tap) = Tap::new(config, start, rtp) else {
        return;
    };
    let mut now = start;
    let mut produced = 0u64;
    let mut check = |tap: &mut Tap| loop {
        match tap.poll_output() {
            Output::Transmit(frame) => {
                let n = produced;
                assert_eq!(frame.payload.len(), config.frame_bytes(), "frame size");
                assert_eq!(frame.header.seq, rtp.seq.wrapping_add(n as u16), "sequence");
                let ticks = (n as u32).wrapping_mul(config.ptime.samples() as u32);
                assert_eq!(
                    frame.header.timestamp,
                    rtp.timestamp.wrapping_add(ticks),
                    "timestamp"
                );
                assert_eq!(frame.header.marker, n == 0, "marker");
                let due = start + Duration::from_millis(n * u64::from(config.ptime.ms()));
                assert_eq!(frame.due, due, "grid");
                produced += 1;
            }
            Output::Timeout(t) => {
                assert!(t > start || produced == 0, "the next deadline moves on");
                return false;
            }
            Output::Finished => return true,
        }
    };
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 4 {
            0 => {
                let Some((step, tail)) = rest.split_first_chunk::<2>() else {
                    break;
                };
                rest = tail;
                now += Duration::from_micros(u64::from(u16::from_le_bytes(*step)) * 10);
                tap.handle_input(Input::Timeout(now));
            }
            1 | 2 => {
                let Some((&len, tail)) = rest.split_first() else {
                    break;
                };
                let len = usize::from(len).min(tail.len());
                let (bytes, tail) = tail.split_at(len);
                rest = tail;
                let stream = if op % 4 == 1 {
                    Stream::Speak
                } else {
                    Stream::Listen
                };
                tap.handle_input(Input::Datagram { now, stream, bytes });
            }
            _ => {
                tap.handle_input(Input::Stop(now));
                assert!(check(&mut tap), "a stopped tap finishes");
                return;
            }
        }
        check(&mut tap);
    }
    tap.handle_input(Input::Stop(now));
    assert!(check(&mut tap), "a stopped tap finishes");
    assert_eq!(tap.stats().frames_produced, produced, "every frame counted");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_odd_inputs_run() {
        run(&[]);
        run(&[
            2, 3, 1, 10, 0, 0xff, 0xff, 1, 12, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 3,
        ]);
        let mut long = vec![2, 1, 11, 250];
        for k in 0..200u8 {
            long.extend_from_slice(&[0, k, 7, 1, 20, 0x80, 8, 0, k, 0, 0, 1, k, 0, 0, 0, 9]);
            long.extend_from_slice(&[0x55; 8]);
        }
        run(&long);
    }
}
