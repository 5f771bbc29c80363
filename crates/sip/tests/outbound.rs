//! We call SIPp: answered then hung up by us; with a digest challenge; unanswered.

mod sipp;

use bytes::Bytes;
use sip::{Credentials, DialFailure, DialRequest, EndReason, OutboundEvent};
use sipp::{SDP, Sipp, endpoint, free_udp_port, scenario, within};
use std::time::Duration;

fn dial_request(port: u16) -> DialRequest {
    DialRequest {
        to_uri: format!("sip:service@127.0.0.1:{port}"),
        from_uri: "sip:earshot@127.0.0.1".to_string(),
        sdp_offer: Some(Bytes::from_static(SDP.as_bytes())),
        headers: vec![("X-Earshot-Test".to_string(), "outbound".to_string())],
        credentials: None,
        ring_timeout: Duration::from_secs(10),
    }
}

/// Waits for `Answered`, skipping provisional responses.
async fn answered(call: &mut sip::OutboundCall) -> Option<Bytes> {
    loop {
        match within("the answer", call.next_event()).await {
            Some(OutboundEvent::Provisional { code, .. }) => assert!((180..200).contains(&code)),
            Some(OutboundEvent::Answered { sdp }) => return sdp,
            other => panic!("expected Answered, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_sipp_uas_then_hang_up() {
    let (endpoint, _incoming) = endpoint().await;
    let port = free_udp_port();
    // The INVITE is retransmitted (Timer A) until SIPp is up, so no start-up wait is needed.
    let sipp = Sipp::spawn(port, &["-sn", "uas"]);
    let mut call = endpoint
        .dial(dial_request(port))
        .await
        .expect("INVITE sent");

    let sdp = answered(&mut call).await;
    assert!(sdp.expect("SIPp answers with SDP").starts_with(b"v=0"));
    call.hangup().await.expect("BYE");
    let end = within("the end", call.next_event()).await;
    assert!(
        matches!(
            end,
            Some(OutboundEvent::Terminated {
                reason: EndReason::LocalHangup
            })
        ),
        "{end:?}"
    );
    sipp.expect_success().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_answers_a_digest_challenge() {
    let (endpoint, _incoming) = endpoint().await;
    let port = free_udp_port();
    let sipp = Sipp::spawn(port, &["-sf", &scenario("uas_auth.xml")]);
    let mut call = endpoint
        .dial(DialRequest {
            credentials: Some(Credentials {
                username: "alice".to_string(),
                password: "secret".to_string(),
            }),
            ..dial_request(port)
        })
        .await
        .expect("INVITE sent");

    answered(&mut call).await;
    call.hangup().await.expect("BYE");
    let end = within("the end", call.next_event()).await;
    assert!(
        matches!(end, Some(OutboundEvent::Terminated { .. })),
        "{end:?}"
    );
    sipp.expect_success().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_without_credentials_fails_with_401() {
    let (endpoint, _incoming) = endpoint().await;
    let port = free_udp_port();
    let sipp = Sipp::spawn(port, &["-sf", &scenario("uas_auth.xml")]);
    let mut call = endpoint
        .dial(dial_request(port))
        .await
        .expect("INVITE sent");

    let failed = within("the failure", call.next_event()).await;
    assert!(
        matches!(
            failed,
            Some(OutboundEvent::Failed(DialFailure::Rejected {
                code: 401,
                ..
            }))
        ),
        "{failed:?}"
    );
    let end = within("the end", call.next_event()).await;
    assert!(
        matches!(
            end,
            Some(OutboundEvent::Terminated {
                reason: EndReason::NotAnswered
            })
        ),
        "{end:?}"
    );
    // SIPp waits for a second INVITE that never comes; it stops on its own -timeout.
    drop(sipp);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_timeout_cancels() {
    let (endpoint, _incoming) = endpoint().await;
    let port = free_udp_port();
    let sipp = Sipp::spawn(port, &["-sf", &scenario("uas_ring_forever.xml")]);
    let mut call = endpoint
        .dial(DialRequest {
            ring_timeout: Duration::from_secs(1),
            ..dial_request(port)
        })
        .await
        .expect("INVITE sent");

    let mut saw_ringing = false;
    let failure = loop {
        match within("the ring timeout", call.next_event()).await {
            Some(OutboundEvent::Provisional { code: 180, .. }) => saw_ringing = true,
            Some(OutboundEvent::Failed(failure)) => break failure,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(saw_ringing);
    assert_eq!(failure, DialFailure::RingTimeout);
    sipp.expect_success().await;
}
