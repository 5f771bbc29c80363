//! The SIPp `uac` call again, over TCP (`-t t1`).

mod sipp;

use bytes::Bytes;
use sip::{EndReason, InboundEvent, SignalTransport};
use sipp::{SDP, Sipp, endpoint, free_tcp_port, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_call_over_tcp() {
    let (endpoint, mut incoming) = endpoint().await;
    let target = endpoint.tcp_addr().expect("TCP is on").to_string();
    let sipp = Sipp::spawn(
        free_tcp_port(),
        &[
            "-sn", "uac", "-t", "t1", "-s", "service", "-d", "200", &target,
        ],
    );

    let offered = within("the INVITE", incoming.next())
        .await
        .expect("an offered call");
    assert_eq!(offered.transport, SignalTransport::Tcp);
    let mut call = offered.call;
    call.ringing().expect("180");
    call.answer(Bytes::from_static(SDP.as_bytes()))
        .expect("200 OK");

    let acked = within("the ACK", call.next_event()).await;
    assert!(
        matches!(acked, Some(InboundEvent::Acked { .. })),
        "{acked:?}"
    );
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
