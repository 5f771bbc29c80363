//! SIPp cancels while we ring: the call sees `Cancelled`, SIPp sees 200 and 487.

mod sipp;

use sip::{EndReason, InboundEvent};
use sipp::{Sipp, endpoint, free_udp_port, scenario, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_answer_ends_the_call() {
    let (endpoint, mut incoming) = endpoint().await;
    let target = endpoint.udp_addr().to_string();
    let sipp = Sipp::spawn(
        free_udp_port(),
        &["-sf", &scenario("uac_cancel.xml"), "-s", "service", &target],
    );

    let offered = within("the INVITE", incoming.next())
        .await
        .expect("an offered call");
    let mut call = offered.call;
    call.ringing().expect("180");

    let cancelled = within("the CANCEL", call.next_event()).await;
    assert!(
        matches!(cancelled, Some(InboundEvent::Cancelled)),
        "{cancelled:?}"
    );
    let end = within("the end", call.next_event()).await;
    assert!(
        matches!(
            end,
            Some(InboundEvent::Terminated {
                reason: EndReason::Cancelled
            })
        ),
        "{end:?}"
    );
    assert!(call.ringing().is_err(), "a cancelled call cannot ring");
    sipp.expect_success().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_with_retry_after_and_reason() {
    let (endpoint, mut incoming) = endpoint().await;
    let target = endpoint.udp_addr().to_string();
    let sipp = Sipp::spawn(
        free_udp_port(),
        &[
            "-sf",
            &scenario("uac_rejected.xml"),
            "-s",
            "service",
            &target,
        ],
    );
    let offered = within("the INVITE", incoming.next())
        .await
        .expect("an offered call");
    let mut call = offered.call;
    assert!(
        call.reject(sip::Rejection::new(200)).is_err(),
        "200 is no rejection"
    );
    call.reject(sip::Rejection {
        reason: Some("draining".to_string()),
        ..sip::Rejection::unavailable(std::time::Duration::from_secs(120))
    })
    .expect("503");
    let end = within("the end", call.next_event()).await;
    assert!(
        matches!(
            end,
            Some(InboundEvent::Terminated {
                reason: EndReason::Rejected
            })
        ),
        "{end:?}"
    );
    sipp.expect_success().await;
}
