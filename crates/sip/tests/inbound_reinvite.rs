//! An offerless INVITE (answer in the ACK) and a re-INVITE answered without dropping the call.

mod sipp;

use bytes::Bytes;
use sip::{EndReason, InboundEvent};
use sipp::{SDP, Sipp, endpoint, free_udp_port, scenario, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_in_200_answer_in_ack_then_reinvite() {
    let (endpoint, mut incoming) = endpoint().await;
    let target = endpoint.udp_addr().to_string();
    let sipp = Sipp::spawn(
        free_udp_port(),
        &[
            "-sf",
            &scenario("uac_offerless_reinvite.xml"),
            "-s",
            "service",
            &target,
        ],
    );

    let offered = within("the INVITE", incoming.next())
        .await
        .expect("an offered call");
    assert!(offered.sdp_offer.is_none(), "SIPp sends no offer");
    let mut call = offered.call;
    // Our offer goes in the 200; the answer comes back in the ACK.
    call.answer(Bytes::from_static(SDP.as_bytes()))
        .expect("200 OK");
    match within("the ACK", call.next_event()).await {
        Some(InboundEvent::Acked { sdp: Some(answer) }) => assert!(answer.starts_with(b"v=0")),
        other => panic!("expected an ACK with the answer, got {other:?}"),
    }

    let reinvite = match within("the re-INVITE", call.next_event()).await {
        Some(InboundEvent::ReInvite(reinvite)) => reinvite,
        other => panic!("expected a re-INVITE, got {other:?}"),
    };
    assert!(!reinvite.is_update);
    let offer = reinvite
        .sdp
        .clone()
        .expect("the re-INVITE carries an offer");
    assert!(String::from_utf8_lossy(&offer).contains("a=sendonly"));
    reinvite
        .accept(Bytes::from_static(SDP.as_bytes()))
        .await
        .expect("200 to the re-INVITE");
    let acked = within("the re-INVITE's ACK", call.next_event()).await;
    assert!(
        matches!(acked, Some(InboundEvent::Acked { sdp: None })),
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
