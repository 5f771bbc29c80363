//! Hostile input: garbage during a live call, malformed requests, a flood from one source.

mod sipp;

use bytes::Bytes;
use sip::{EndReason, Endpoint, EndpointConfig, InboundEvent, RateLimit};
use sipp::{DEADLINE, SDP, Sipp, endpoint, free_udp_port, within};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::UdpSocket;

/// A request from `socket` with the given method and From tag.
fn request(socket: &UdpSocket, method: &str, from_tag: &str, n: u32) -> String {
    let me = socket.local_addr().expect("bound test socket");
    format!(
        "{method} sip:earshot@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-robust-{n}\r\n\
         From: <sip:tester@{me}>{from_tag}\r\n\
         To: <sip:earshot@127.0.0.1>\r\n\
         Call-ID: robust-{n}@127.0.0.1\r\n\
         CSeq: 1 {method}\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// The status line of the next datagram `socket` receives.
async fn status_line(socket: &UdpSocket) -> String {
    let mut buf = vec![0u8; 4096];
    let (len, _) = within("a response", socket.recv_from(&mut buf))
        .await
        .expect("a datagram");
    let text = String::from_utf8_lossy(&buf[..len]).into_owned();
    text.lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_during_a_call_is_counted_and_harmless() {
    let (endpoint, mut incoming) = endpoint().await;
    let target = endpoint.udp_addr();
    let sipp = Sipp::spawn(
        free_udp_port(),
        &[
            "-sn",
            "uac",
            "-s",
            "service",
            "-d",
            "2000",
            &target.to_string(),
        ],
    );
    let offered = within("the INVITE", incoming.next())
        .await
        .expect("an offered call");
    let mut call = offered.call;
    call.answer(Bytes::from_static(SDP.as_bytes()))
        .expect("200 OK");
    let acked = within("the ACK", call.next_event()).await;
    assert!(
        matches!(acked, Some(InboundEvent::Acked { .. })),
        "{acked:?}"
    );

    let noise = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("a test socket");
    let garbage: [&[u8]; 5] = [
        b"\x00\x01\x02\x03",
        b"hello",
        &[0xff; 1200],
        b"INVITE sip:x SIP/2.0\r\n\r\n",
        b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
    ];
    for _ in 0..10 {
        for datagram in garbage {
            noise.send_to(datagram, target).await.expect("send garbage");
        }
    }
    // Parseable enough to answer: 400 for a missing From tag, 501 for an unknown method.
    let untagged = request(&noise, "OPTIONS", "", 1);
    noise
        .send_to(untagged.as_bytes(), target)
        .await
        .expect("send");
    assert_eq!(status_line(&noise).await, "SIP/2.0 400 Bad Request");
    let unknown = request(&noise, "FROBNICATE", ";tag=t", 2);
    noise
        .send_to(unknown.as_bytes(), target)
        .await
        .expect("send");
    assert_eq!(status_line(&noise).await, "SIP/2.0 501 Not Implemented");
    // The endpoint still serves: a well-formed OPTIONS gets 200.
    let ping = request(&noise, "OPTIONS", ";tag=t", 3);
    noise.send_to(ping.as_bytes(), target).await.expect("send");
    assert_eq!(status_line(&noise).await, "SIP/2.0 200 OK");

    let stats = endpoint.stats();
    assert!(stats.malformed >= 51, "{stats:?}");
    assert_eq!(stats.unknown_method, 1, "{stats:?}");

    // The call was not disturbed: SIPp's BYE ends it normally.
    let bye = within("the BYE", call.next_event()).await;
    assert!(matches!(bye, Some(InboundEvent::Bye)), "{bye:?}");
    let end = within("the end", call.next_event()).await;
    assert!(
        matches!(
            end,
            Some(InboundEvent::Terminated {
                reason: EndReason::RemoteHangup
            })
        ),
        "{end:?}"
    );
    sipp.expect_success().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_source_is_cut_at_the_socket() {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let (endpoint, _incoming) = Endpoint::bind(EndpointConfig {
        udp_addr: any,
        tcp_addr: None,
        rate_limit: RateLimit {
            per_second: 1,
            burst: 5,
        },
        ..EndpointConfig::default()
    })
    .await
    .expect("an endpoint");
    let target = endpoint.udp_addr();
    let flood = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("a test socket");
    for n in 0..40 {
        let ping = request(&flood, "OPTIONS", ";tag=f", 100 + n);
        flood.send_to(ping.as_bytes(), target).await.expect("send");
    }
    // The five of the burst are answered.
    for _ in 0..5 {
        assert_eq!(status_line(&flood).await, "SIP/2.0 200 OK");
    }
    // The rest are counted as they are read; wait for the count, bounded by the deadline.
    let refused = async {
        while endpoint.stats().rate_limited < 34 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(DEADLINE, refused)
        .await
        .expect("the flood to be counted");
    assert!(endpoint.stats().rate_limited <= 35);
}
