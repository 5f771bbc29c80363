//! The RTP sink on loopback: a plain UDP socket receives a tap's packets and checks every
//! header field by hand (`tap.md` §3); a closed port makes the sink fail, by its ICMP rule.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use g711::Law;
use server::sink::rtp::{RtpSink, RtpSinkConfig, RtpSinkError};
use tap::{Direction, Output, Ptime, RtpStart, Tap, TapConfig};

const FRAMES: usize = 100;

/// Runs `tap` on virtual time up to `until`, handing every frame to `sink`.
fn drive(
    tap: &mut Tap,
    sink: &mut RtpSink,
    start: Instant,
    frames: usize,
    ptime: Duration,
) -> Result<(), RtpSinkError> {
    for n in 0..frames {
        tap.handle_input(tap::Input::Timeout(start + ptime * n as u32));
        while let Output::Transmit(frame) = tap.poll_output() {
            sink.send(&frame)?;
        }
    }
    Ok(())
}

fn receiver() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback receiver");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a read deadline");
    let addr = socket.local_addr().expect("receiver address");
    (socket, addr)
}

#[test]
fn every_header_field_is_as_the_contract_says() {
    for (law, pt, silence, ptime_ms) in [(Law::Ulaw, 0u8, 0xFFu8, 20u32), (Law::Alaw, 8, 0xD5, 30)]
    {
        let (rx, dest) = receiver();
        let config = RtpSinkConfig {
            local_ip: "127.0.0.1".parse().expect("ip"),
            ..RtpSinkConfig::default()
        };
        let mut sink = RtpSink::open(&config, dest).expect("open the sink");
        let src = sink.local_addr();
        assert_eq!(src.ip().to_string(), "127.0.0.1");
        assert_ne!(src.port(), 0);

        let mut tap_config = TapConfig::new(Direction::Speak);
        tap_config.codec = law;
        tap_config.ptime = Ptime::from_ms(ptime_ms).expect("valid ptime");
        let start = Instant::now();
        let rtp_start = RtpStart::random(&mut rand::rng());
        let mut tap = Tap::new(tap_config, start, rtp_start).expect("valid tap");
        let ptime = Duration::from_millis(u64::from(ptime_ms));
        drive(&mut tap, &mut sink, start, FRAMES, ptime).expect("no fatal error");

        let samples = 8 * ptime_ms as usize;
        let mut buf = [0u8; 2048];
        for n in 0..FRAMES {
            let (len, from) = rx
                .recv_from(&mut buf)
                .expect("a packet before the deadline");
            assert_eq!(from, src, "packet {n} comes from tap_rtp_src_addr:port");
            assert_eq!(
                len,
                12 + samples,
                "12-byte header and {ptime_ms} ms of audio"
            );
            let p = &buf[..len];
            assert_eq!(p[0] >> 6, 2, "version");
            assert_eq!(p[0] & 0x20, 0, "padding");
            assert_eq!(p[0] & 0x10, 0, "extension");
            assert_eq!(p[0] & 0x0F, 0, "CSRC count");
            assert_eq!(p[1] & 0x80 != 0, n == 0, "marker on the first packet only");
            assert_eq!(p[1] & 0x7F, pt, "payload type");
            let seq = u16::from_be_bytes([p[2], p[3]]);
            let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
            let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
            assert_eq!(seq, rtp_start.seq.0.wrapping_add(n as u16), "sequence");
            assert_eq!(
                ts,
                rtp_start.timestamp.0.wrapping_add((n * samples) as u32),
                "timestamp"
            );
            assert_eq!(ssrc, rtp_start.ssrc.0, "SSRC");
            assert!(p[12..].iter().all(|&b| b == silence), "digital silence");
        }
        let stats = sink.stats();
        assert_eq!(stats.frames_sent, FRAMES as u64);
        assert_eq!(stats.frames_dropped, 0);
        assert_eq!(stats.bytes_sent, (FRAMES * samples) as u64);
        assert_eq!(stats.frames_produced(), tap.stats().frames_produced);
    }
}

#[test]
fn a_port_range_is_honoured() {
    let (_rx, dest) = receiver();
    let probe = UdpSocket::bind("127.0.0.1:0").expect("probe");
    let base = probe.local_addr().expect("probe addr").port();
    drop(probe);
    let first = base.saturating_sub(5).max(1024);
    let config = RtpSinkConfig {
        local_ip: "127.0.0.1".parse().expect("ip"),
        ports: Some(first..=first + 10),
        ..RtpSinkConfig::default()
    };
    let sink = RtpSink::open(&config, dest).expect("a free port in the range");
    assert!((first..=first + 10).contains(&sink.local_addr().port()));
}

#[test]
fn a_persistently_refused_destination_fails_the_sink() {
    // A port nobody listens on: bind, note it, close.
    let (closed, dest) = receiver();
    drop(closed);
    let config = RtpSinkConfig {
        local_ip: "127.0.0.1".parse().expect("ip"),
        ports: None,
        icmp_fatal_after: Duration::from_secs(1),
    };
    let mut sink = RtpSink::open(&config, dest).expect("open the sink");
    let start = Instant::now();
    let mut tap = Tap::new(
        TapConfig::new(Direction::Speak),
        start,
        RtpStart::random(&mut rand::rng()),
    )
    .expect("valid tap");
    // Ten virtual seconds at most; loopback reports the ICMP error to the very next send.
    let result = drive(&mut tap, &mut sink, start, 500, Duration::from_millis(20));
    let err = result.expect_err("the refusal persists for a virtual second");
    assert!(matches!(err, RtpSinkError::SendFailed { .. }), "{err}");
    assert!(sink.is_failed());
    assert!(sink.icmp_errors() >= 2);
    let stats = sink.stats();
    let produced = tap.stats().frames_produced;
    assert_eq!(stats.frames_produced(), produced);
    assert!(stats.frames_dropped > 0);
}

#[test]
fn a_short_refusal_is_not_fatal() {
    let (closed, dest) = receiver();
    drop(closed);
    let config = RtpSinkConfig {
        local_ip: "127.0.0.1".parse().expect("ip"),
        ..RtpSinkConfig::default()
    };
    let mut sink = RtpSink::open(&config, dest).expect("open the sink");
    let start = Instant::now();
    let mut tap = Tap::new(
        TapConfig::new(Direction::Speak),
        start,
        RtpStart::random(&mut rand::rng()),
    )
    .expect("valid tap");
    // Five virtual seconds of refusals: under the 10 s rule.
    drive(&mut tap, &mut sink, start, 250, Duration::from_millis(20))
        .expect("refusals shorter than the rule are counted, not fatal");
    assert!(sink.icmp_errors() > 0);
    assert_eq!(sink.stats().frames_produced(), 250);
}
