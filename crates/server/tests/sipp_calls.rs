//! The node end to end against SIPp on loopback, with tcpdump watching the RTP SIPp receives.
//!
//! Each test owns a port block (see [`peer::Ports`]), starts its own node, runs one SIPp and
//! checks three things: how SIPp judged the SIP exchange (its exit status and counters), what
//! the node reported about the call, and the RTP that really reached SIPp's media port.

mod peer;

use std::collections::{BTreeMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use g711::Law;
use media::LegConfig;
use peer::capture::Capture;
use peer::sipp::{Sipp, SippRun};
use peer::stream::{
    RtpPacket, assert_continuous, assert_echoed, audio, rtp_packets, runs, sipp_pcap, tones,
};
use peer::{Ports, next_report, node_config, scenario, start, within};
use sdp::Direction;
use server::{CallReport, DialOptions};
use sip::SignalTransport;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// The audio `uac_pcap` plays, then the DTMF digit it sends as RFC 4733 events.
const PCAP_AUDIO: &str = "g711a.pcap";
const PCAP_DTMF: &str = "dtmf_2833_1.pcap";

/// Datagrams that are neither SIP nor RTP, some of them close enough to try a parser.
const JUNK: [&[u8]; 6] = [
    b"\x00\x01\x02\x03",
    b"hello",
    &[0xff; 1200],
    b"INVITE sip:x SIP/2.0\r\n\r\n",
    b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
    // RTP version 2 with the padding bit set and a padding count of zero.
    b"\xa0\x08\x00\x01\x00\x00\x00\xa0\x00\x00\x00\x01\x00",
];

/// One `uac_pcap` call into the node (SIPp plays `g711a.pcap` and a DTMF digit, then hangs
/// up) with the echo checks on what came back; with `junk`, garbage is thrown at the node's SIP
/// port and at every port of its RTP range while the call runs.
async fn echo_call(index: u16, name: &str, transport: SignalTransport, junk: bool) -> CallReport {
    let ports = Ports::block(index);
    let rtp = ports.rtp(20);
    let node = start(node_config(rtp)).await;
    let mut reports = node.reports();
    let capture = Capture::start(name, &format!("dst port {}", ports.sipp_media())).await;
    let target = match transport {
        SignalTransport::Udp => node.sip_udp_addr(),
        SignalTransport::Tcp => node.sip_tcp_addr().expect("the node listens on TCP"),
    }
    .to_string();
    let mut args = vec!["-sn", "uac_pcap", "-s", "echo"];
    if transport == SignalTransport::Tcp {
        args.extend(["-t", "t1"]);
    }
    args.push(&target);
    let sipp = Sipp::spawn(&SippRun {
        name,
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &args,
    });
    let (stop_junk, junk_stopped) = watch::channel(false);
    let thrower = junk.then(|| {
        let sip = node.sip_udp_addr();
        tokio::spawn(throw_junk(sip, rtp.first..=rtp.last, junk_stopped))
    });

    sipp.expect_one_call().await;
    let report = next_report(&mut reports).await;
    let _ = stop_junk.send(true);
    if let Some(thrower) = thrower {
        let thrown = within("the junk thrower", thrower)
            .await
            .expect("the junk thrower ran to its end");
        assert!(thrown.sip == 200 && thrown.rtp_rounds > 0, "{thrown:?}");
    }
    let packets = rtp_packets(&capture.stop().await);

    assert_eq!(report.transport, transport);
    assert!(report.answered, "{report:?}");
    assert_eq!(report.rejected, None);
    assert_eq!(report.ended, "caller hung up");
    let media = report
        .media
        .as_ref()
        .expect("the report's negotiated media");
    assert_eq!(media.codec, Law::Alaw);
    assert_eq!(media.direction, Direction::SendRecv);
    assert_eq!(media.remote_rtp.port(), ports.sipp_media());
    let sent = sipp_pcap(PCAP_AUDIO);
    let dtmf = sipp_pcap(PCAP_DTMF);
    assert_eq!(
        report.stats.packets_in,
        (sent.len() + dtmf.len()) as u64,
        "every packet SIPp played arrived: {:?}",
        report.stats
    );
    assert_eq!(report.stats.events_in, dtmf.len() as u64);
    assert_eq!(report.stats.lost, 0, "{:?}", report.stats);
    if !junk {
        assert_eq!(report.stats.malformed, 0, "{:?}", report.stats);
    }

    // What SIPp got back: one stream from the leg, the pcap's audio in it unchanged.
    let local = report.rtp_local.expect("the leg's address");
    assert!(
        packets.iter().all(|p| SocketAddr::from(p.src) == local),
        "all RTP from the leg at {local}"
    );
    assert_eq!(packets.len() as u64, report.stats.packets_out);
    assert_continuous(&packets, 8, u32::from(media.ptime.as_ms()));
    assert_echoed(&audio(&packets), &audio(&sent), Law::Alaw.silence());
    if junk {
        assert!(node.sip_stats().malformed > 0, "{:?}", node.sip_stats());
        assert!(report.stats.malformed > 0, "{:?}", report.stats);
    }
    assert_eq!(node.port_pool().leased(), 0, "the leg's port went back");
    report
}

/// What [`throw_junk`] sent.
#[derive(Debug)]
struct Thrown {
    sip: usize,
    rtp_rounds: usize,
}

/// Every 100 ms until `stop`: a few junk datagrams to `sip` (200 in all) and one to every
/// port of `rtp`.
async fn throw_junk(
    sip: SocketAddr,
    rtp: std::ops::RangeInclusive<u16>,
    mut stop: watch::Receiver<bool>,
) -> Thrown {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("a socket for junk");
    let mut thrown = Thrown {
        sip: 0,
        rtp_rounds: 0,
    };
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    let mut junk = JUNK.iter().cycle();
    loop {
        tokio::select! {
            _ = pace.tick() => {}
            _ = stop.changed() => return thrown,
        }
        for _ in 0..5 {
            if thrown.sip < 200 {
                let datagram = junk.next().expect("an endless cycle");
                socket.send_to(datagram, sip).await.expect("junk to SIP");
                thrown.sip += 1;
            }
        }
        for port in rtp.clone() {
            let datagram = junk.next().expect("an endless cycle");
            socket
                .send_to(datagram, (Ipv4Addr::LOCALHOST, port))
                .await
                .expect("junk to RTP");
        }
        thrown.rtp_rounds += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uac_pcap_over_udp_is_echoed_byte_for_byte() {
    echo_call(0, "echo-udp", SignalTransport::Udp, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uac_pcap_over_tcp_is_echoed_byte_for_byte() {
    echo_call(1, "echo-tcp", SignalTransport::Tcp, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_during_a_call_leaves_the_echo_intact() {
    echo_call(7, "echo-junk", SignalTransport::Udp, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialled_sipp_uas_hears_the_tone_sequence() {
    let ports = Ports::block(2);
    let rtp = ports.rtp(20);
    let node = start(node_config(rtp)).await;
    let capture = Capture::start("dial", &format!("dst port {}", ports.sipp_media())).await;
    // The INVITE is retransmitted (RFC 3261 §17.1.1.2) should it reach SIPp's port before
    // SIPp listens there.
    let sipp = Sipp::spawn(&SippRun {
        name: "dial",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(20),
        args: &["-sn", "uas"],
    });
    let report = within(
        "the dialled call",
        server::dial(
            &node,
            DialOptions {
                to: format!("sip:sipp@127.0.0.1:{}", ports.sipp()),
                from: "sip:earshot@127.0.0.1".to_string(),
                duration: Duration::from_secs(2),
                ring_timeout: Duration::from_secs(5),
                credentials: None,
            },
        ),
    )
    .await
    .expect("SIPp answers");
    // SIPp's uas scenario ends with our BYE answered, then waits out its 4 s time-wait.
    sipp.expect_one_call().await;
    let packets = rtp_packets(&capture.stop().await);

    assert_eq!(report.ended, "we hung up");
    assert_eq!(report.provisional, vec![180]);
    let media = &report.media;
    assert_eq!(media.codec, Law::Ulaw, "SIPp's uas answers PCMU only");
    assert_eq!(media.remote_rtp.port(), ports.sipp_media());
    assert_eq!(packets.len() as u64, report.stats.packets_out);
    let src = packets.first().expect("RTP reached SIPp").src;
    assert!(
        (rtp.first..=rtp.last).contains(&src.port()) && packets.iter().all(|p| p.src == src),
        "one stream from the node's RTP range, from {src}"
    );
    let ptime = u32::from(media.ptime.as_ms());
    assert_eq!(ptime, 20);
    assert_continuous(&packets, media.payload_type.get(), ptime);
    // Two seconds of 20 ms frames, give or take the last one or two.
    assert!(
        (98..=101).contains(&packets.len()),
        "{} packets",
        packets.len()
    );

    // Half a second (25 frames) of each tone, in order.
    let frames = tones(&audio(&packets), media.codec, 160, &[440.0, 660.0, 880.0]);
    let runs = runs(&frames);
    let heard: Vec<_> = runs
        .iter()
        .map(|&(hz, n)| (hz.map(|hz| hz as u32), n))
        .collect();
    assert!(
        heard.len() >= 4
            && heard[..3] == [(Some(440), 25), (Some(660), 25), (Some(880), 25)]
            && heard[3].0 == Some(440),
        "tones per 20 ms frame (Hz, frames): {heard:?}"
    );
    assert_eq!(node.port_pool().leased(), 0, "the leg's port went back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_ringing_ends_the_call_unanswered() {
    let ports = Ports::block(3);
    let mut config = node_config(ports.rtp(20));
    config.ring = Duration::from_secs(10);
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start("cancel", &format!("dst port {}", ports.sipp_media())).await;
    let target = node.sip_udp_addr().to_string();
    let started = tokio::time::Instant::now();
    let sipp = Sipp::spawn(&SippRun {
        name: "cancel",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(20),
        args: &["-sf", &scenario("uac_cancel.xml"), "-s", "echo", &target],
    });
    sipp.expect_one_call().await;
    let report = next_report(&mut reports).await;
    let packets = capture.stop().await;

    assert!(!report.answered, "{report:?}");
    assert_eq!(report.ended, "caller cancelled");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the CANCEL cut the 10 s of ringing short ({:?})",
        started.elapsed()
    );
    assert_eq!(report.media, None);
    assert!(packets.is_empty(), "no RTP before an answer: {packets:?}");
    assert_eq!(node.port_pool().leased(), 0, "the reserved port went back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_caller_is_hung_up_by_the_node() {
    let ports = Ports::block(4);
    let mut config = node_config(ports.rtp(20));
    config.leg = LegConfig {
        inactivity_timeout: Some(Duration::from_secs(2)),
        ..LegConfig::default()
    };
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start("silent", &format!("dst port {}", ports.sipp_media())).await;
    let target = node.sip_udp_addr().to_string();
    let started = tokio::time::Instant::now();
    let sipp = Sipp::spawn(&SippRun {
        name: "silent",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(20),
        args: &["-sf", &scenario("uac_silent.xml"), "-s", "echo", &target],
    });
    sipp.expect_one_call().await;
    let report = next_report(&mut reports).await;
    let elapsed = started.elapsed();
    let packets = rtp_packets(&capture.stop().await);

    assert!(report.answered, "{report:?}");
    assert!(report.ended.contains("no RTP"), "{}", report.ended);
    assert_eq!(report.stats.packets_in, 0);
    assert!(
        (Duration::from_secs(2)..Duration::from_secs(6)).contains(&elapsed),
        "hung up after the 2 s inactivity timeout, not {elapsed:?}"
    );
    // Until then the node played silence (an echo of nothing) to SIPp.
    assert_eq!(packets.len() as u64, report.stats.packets_out);
    assert!(packets.len() >= 90, "{} packets", packets.len());
    assert_continuous(&packets, 0, 20);
    assert!(audio(&packets).iter().all(|&b| b == Law::Ulaw.silence()));
    assert_eq!(node.port_pool().leased(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_resume_on_another_port() {
    let ports = Ports::block(5);
    let node = start(node_config(ports.rtp(20))).await;
    let mut reports = node.reports();
    let first = ports.sipp_media();
    let moved = first + 2;
    let capture = Capture::start("hold", &format!("dst port {first} or dst port {moved}")).await;
    let target = node.sip_udp_addr().to_string();
    let sipp = Sipp::spawn(&SippRun {
        name: "hold",
        local_port: ports.sipp(),
        media_port: first,
        calls: 1,
        timeout: Duration::from_secs(20),
        args: &[
            "-sf",
            &scenario("uac_hold_resume.xml"),
            "-s",
            "echo",
            &target,
        ],
    });
    sipp.expect_one_call().await;
    let report = next_report(&mut reports).await;
    let packets = rtp_packets(&capture.stop().await);

    assert!(report.answered, "{report:?}");
    assert_eq!(report.reinvites, 2);
    assert_eq!(report.ended, "caller hung up");
    let media = report
        .media
        .as_ref()
        .expect("the media after the last re-INVITE");
    assert_eq!(media.remote_rtp.port(), moved);
    assert_eq!(media.direction, Direction::SendRecv);
    assert!(!media.on_hold);

    // RTP went to the first port, stopped for the hold, then resumed to the second one: one
    // stream throughout, its sequence unbroken, its timestamps still on the 20 ms grid.
    assert_eq!(packets.len() as u64, report.stats.packets_out);
    let split = packets
        .iter()
        .position(|p| p.dst.port() == moved)
        .expect("RTP after the resume");
    let (before, after) = packets.split_at(split);
    assert!(
        before.len() >= 20,
        "{} packets before the hold",
        before.len()
    );
    assert!(
        after.len() >= 20,
        "{} packets after the resume",
        after.len()
    );
    assert!(before.iter().all(|p| p.dst.port() == first));
    assert!(after.iter().all(|p| p.dst.port() == moved));
    let held = after[0].at - before[before.len() - 1].at;
    assert!(
        held >= Duration::from_millis(500),
        "nothing sent on hold for 600 ms, but a gap of only {held:?}"
    );
    assert_continuous(before, 0, 20);
    let ssrc = before[0].header.ssrc;
    for pair in packets.windows(2) {
        let (a, b) = (&pair[0].header, &pair[1].header);
        assert_eq!(b.ssrc, ssrc);
        assert_eq!(b.seq, a.seq.wrapping_add(1));
        assert_eq!(b.timestamp.0.wrapping_sub(a.timestamp.0) % 160, 0);
    }
    let skipped = after[0]
        .header
        .timestamp
        .0
        .wrapping_sub(before[before.len() - 1].header.timestamp.0);
    assert!(
        skipped >= 8 * 500,
        "the timestamps advanced through the hold: {skipped} ticks"
    );
    // Whether the first packet after the hold carries the marker is the sender's choice
    // (RFC 3551 §4.1); nothing else may.
    for (n, p) in packets.iter().enumerate() {
        assert!(
            !p.header.marker || n == 0 || n == split,
            "packet {n}: marker"
        );
        assert_eq!(p.header.payload_type.get(), 0, "packet {n}: PCMU");
        assert_eq!(p.payload.len(), 160, "packet {n}: 20 ms");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_calls_at_twenty_per_second() {
    const CALLS: usize = 100;
    let ports = Ports::block(6);
    let rtp = ports.rtp(2 * CALLS as u16);
    let node = start(node_config(rtp)).await;
    let mut reports = node.reports();
    let capture = Capture::start("load", &format!("dst port {}", ports.sipp_media())).await;
    let target = node.sip_udp_addr().to_string();
    let sipp = Sipp::spawn(&SippRun {
        name: "load",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: CALLS as u32,
        timeout: Duration::from_secs(40),
        args: &[
            "-sn", "uac", "-s", "echo", "-r", "20", "-l", "100", "-d", "1000", &target,
        ],
    });
    let outcome = sipp.expect_success().await;
    assert_eq!(
        outcome.counter("SuccessfulCall(C)"),
        CALLS as u64,
        "{outcome:?}"
    );
    assert_eq!(outcome.counter("FailedCall(C)"), 0, "{outcome:?}");
    let mut all = Vec::with_capacity(CALLS);
    while all.len() < CALLS {
        all.push(next_report(&mut reports).await);
    }
    let packets = rtp_packets(&capture.stop().await);

    let call_ids: HashSet<_> = all.iter().map(|r| r.call_id.clone()).collect();
    assert_eq!(call_ids.len(), CALLS, "one report per call");
    for report in &all {
        assert!(report.answered, "{report:?}");
        assert_eq!(report.ended, "caller hung up", "{report:?}");
    }
    assert_eq!(node.port_pool().leased(), 0, "no RTP port leaked");
    assert_eq!(node.active_calls(), 0);

    // Every call's leg sent SIPp one unbroken stream of its own.
    let mut streams: BTreeMap<u32, Vec<RtpPacket>> = BTreeMap::new();
    for packet in packets {
        streams
            .entry(packet.header.ssrc.0)
            .or_default()
            .push(packet);
    }
    assert_eq!(streams.len(), CALLS, "one SSRC per call");
    let sources: HashSet<_> = streams.values().map(|s| s[0].src).collect();
    assert_eq!(sources.len(), CALLS, "one RTP port per call");
    let sent: u64 = all.iter().map(|r| r.stats.packets_out).sum();
    assert_eq!(
        streams.values().map(|s| s.len() as u64).sum::<u64>(),
        sent,
        "every packet the legs sent reached SIPp"
    );
    for stream in streams.values() {
        assert_continuous(stream, 0, 20);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridged_call_relays_both_ways_with_transcoding() {
    // The caller (SIPp uac_pcap, PCMA) is bridged to a far end (SIPp uas, PCMU) that echoes
    // the RTP it gets: the caller hears its own audio, A-law → µ-law → A-law by the G.711
    // conversion tables.
    let ports = Ports::block(8);
    let far = Ports::block(9);
    let rtp = ports.rtp(20);
    let mut config = node_config(rtp);
    config.flow = server::CallFlow::Bridge(format!("sip:far@127.0.0.1:{}", far.sipp()));
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start("bridge", &format!("dst port {}", ports.sipp_media())).await;
    let far_end = Sipp::spawn(&SippRun {
        name: "bridge-far",
        local_port: far.sipp(),
        media_port: far.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sn", "uas", "-rtp_echo"],
    });
    let target = node.sip_udp_addr().to_string();
    let caller = Sipp::spawn(&SippRun {
        name: "bridge-caller",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sn", "uac_pcap", "-s", "bridge", &target],
    });
    caller.expect_one_call().await;
    far_end.expect_one_call().await;
    let report = next_report(&mut reports).await;
    let packets = rtp_packets(&capture.stop().await);

    assert!(report.answered, "{report:?}");
    assert_eq!(report.ended, "caller hung up");
    let media = report
        .media
        .as_ref()
        .expect("the caller's negotiated media");
    assert_eq!(media.codec, Law::Alaw);
    let sent = sipp_pcap(PCAP_AUDIO);
    assert_eq!(report.stats.lost, 0, "{:?}", report.stats);
    assert_eq!(packets.len() as u64, report.stats.packets_out);
    assert_continuous(&packets, 8, u32::from(media.ptime.as_ms()));
    let expected: Vec<u8> = audio(&sent)
        .iter()
        .map(|&a| Law::Alaw.transcode_from(Law::Ulaw, Law::Ulaw.transcode_from(Law::Alaw, a)))
        .collect();
    assert_echoed(&audio(&packets), &expected, Law::Alaw.silence());
    assert_eq!(node.port_pool().leased(), 0, "both legs' ports went back");
}

/// 3 s of A-law audio in 30 ms RTP packets: a 500 Hz tone with a rising amplitude, so that no
/// two packets carry the same bytes.
fn pcma_30ms() -> (Vec<u8>, Vec<u8>) {
    let samples: Vec<u8> = (0..24_000)
        .map(|i| {
            let amp = 1000.0 + f64::from(i) * 0.8;
            let v = amp * (2.0 * std::f64::consts::PI * 500.0 * f64::from(i) / 8000.0).sin();
            Law::Alaw.encode(v as i16)
        })
        .collect();
    let datagrams: Vec<(u64, Vec<u8>)> = samples
        .chunks(240)
        .enumerate()
        .map(|(k, chunk)| {
            let header = rtp::Header {
                marker: k == 0,
                payload_type: rtp::PayloadType::PCMA,
                seq: rtp::SeqNo(1000 + k as u16),
                timestamp: rtp::RtpTime(50_000 + 240 * k as u32),
                ssrc: rtp::Ssrc(0x3030_3030),
            };
            let mut bytes = vec![0; 12 + chunk.len()];
            rtp::Packet::write(&header, chunk, &mut bytes).expect("sized for the packet");
            (30_000 * k as u64, bytes)
        })
        .collect();
    (samples, peer::pcap::write_udp_pcap(&datagrams))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcma_at_30_ms_is_echoed_at_30_ms_byte_for_byte() {
    let ports = Ports::block(10);
    let (sipp_port, media_port) = (ports.sipp(), ports.sipp_media());
    let node = start(node_config(ports.rtp(20))).await;
    let mut reports = node.reports();
    let capture = Capture::start("pcma30", &format!("dst port {media_port}")).await;
    let (samples, pcap) = pcma_30ms();
    let target = node.sip_udp_addr().to_string();
    let xml = scenario("uac_pcma30.xml");
    let sipp = Sipp::spawn_with_files(
        &SippRun {
            name: "pcma30",
            local_port: sipp_port,
            media_port,
            calls: 1,
            timeout: Duration::from_secs(30),
            args: &["-sf", &xml, "-s", "echo", &target],
        },
        &[("pcma30.pcap", &pcap)],
    );
    sipp.expect_one_call().await;
    let report = next_report(&mut reports).await;
    let packets = rtp_packets(&capture.stop().await);

    let media = report.media.as_ref().expect("the negotiated media");
    assert_eq!(media.codec, Law::Alaw);
    assert_eq!(media.ptime.as_ms(), 30, "the offered ptime is honoured");
    assert_eq!(report.stats.packets_in, 100, "{:?}", report.stats);
    assert_eq!(
        (report.stats.lost, report.stats.malformed),
        (0, 0),
        "{:?}",
        report.stats
    );
    assert_eq!(packets.len() as u64, report.stats.packets_out);
    assert!(
        packets.iter().all(|p| p.payload.len() == 240),
        "every packet carries 30 ms"
    );
    assert_continuous(&packets, 8, 30);
    assert_echoed(&audio(&packets), &samples, Law::Alaw.silence());
}
