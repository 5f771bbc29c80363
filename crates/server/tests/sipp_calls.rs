//! The node end to end against SIPp on loopback, with tcpdump watching the RTP SIPp receives.
//!
//! Each test owns a port block (see [`peer::Ports`]), starts its own node, runs one SIPp and
//! checks three things: how SIPp judged the SIP exchange (its exit status and counters), what
//! the node reported about the call, and the RTP that really reached SIPp's media port.

mod peer;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use g711::Law;
use peer::capture::Capture;
use peer::sipp::{Sipp, SippRun};
use peer::stream::{assert_continuous, assert_echoed, audio, rtp_packets, sipp_pcap};
use peer::{Ports, next_report, node_config, start, within};
use sdp::Direction;
use server::CallReport;
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

    let outcome = sipp.expect_success().await;
    assert_eq!(outcome.counter("SuccessfulCall(C)"), 1, "{outcome:?}");
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
