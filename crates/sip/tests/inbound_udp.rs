//! SIPp calls in over UDP: answered, ACKed, hung up by SIPp; and OPTIONS.

mod sipp;

use bytes::Bytes;
use sip::{EndReason, InboundEvent};
use sipp::{SDP, Sipp, endpoint, free_udp_port, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_uac_call_is_answered_then_hung_up_by_sipp() {
    let (endpoint, mut incoming) = endpoint().await;
    let target = endpoint.udp_addr().to_string();
    let sipp = Sipp::spawn(
        free_udp_port(),
        &["-sn", "uac", "-s", "service", "-d", "200", &target],
    );

    let offered = within("the INVITE", incoming.next())
        .await
        .expect("an offered call");
    assert_eq!(offered.request_user.as_deref(), Some("service"));
    assert!(
        offered.from.starts_with("sip:sipp@127.0.0.1"),
        "{}",
        offered.from
    );
    let offer = offered
        .sdp_offer
        .as_ref()
        .expect("SIPp's INVITE carries SDP");
    assert!(offer.starts_with(b"v=0"));
    assert!(
        offered.headers.iter().any(
            |(name, value)| name.eq_ignore_ascii_case("Subject") && value == "Performance Test"
        ),
        "{:?}",
        offered.headers
    );
    let mut call = offered.call;
    call.ringing().expect("180");
    call.answer(Bytes::from_static(SDP.as_bytes()))
        .expect("200 OK");

    let acked = within("the ACK", call.next_event()).await;
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
    assert!(
        call.answer(Bytes::new()).is_err(),
        "an ended call cannot be answered"
    );
    sipp.expect_success().await;
}
