//! Status events on loopback against Python's `http.server`: a 500 is retried and order is
//! kept; a 4xx is not retried; an event given up does not hold back the next.

#[path = "peers/python.rs"]
mod python;

use std::time::Duration;

use g711::Law;
use python::PythonPeer;
use server::sink::policy::DestinationPolicy;
use server::sink::status::{
    Device, StatusConfig, StatusCounters, StatusPoster, TapEvent, TapState, signature,
};
use server::sink::{Reason, SinkStats, tls};
use tap::{Direction, Ptime};

const DEADLINE: Duration = Duration::from_secs(10);

fn poster(key: Option<&[u8]>) -> StatusPoster {
    tls::install_crypto_provider();
    let tls = tls::client_config(None).expect("TLS configuration");
    let config = StatusConfig {
        project_id: "proj".into(),
        space_id: "space".into(),
        node_id: "node".into(),
        signing_key: key.map(<[u8]>::to_vec),
        // The contract's ladder is 0.5 s, 1 s, 2 s; the shape is what is tested here.
        backoff: vec![
            Duration::from_millis(50),
            Duration::from_millis(100),
            Duration::from_millis(200),
        ],
        ..StatusConfig::default()
    };
    StatusPoster::new(config, DestinationPolicy::allow_all(), &tls).expect("a poster")
}

fn event(state: TapState) -> TapEvent {
    TapEvent {
        session_id: "sess".into(),
        call_id: "call".into(),
        segment_id: "seg".into(),
        tag: Some("tag-1".into()),
        control_id: "ctl".into(),
        state,
        direction: Direction::Listen,
        device: Device::Rtp {
            addr: "203.0.113.5".parse().expect("ip"),
            port: 4000,
            codec: Law::Ulaw,
            ptime: Ptime::DEFAULT,
        },
    }
}

fn finished() -> TapState {
    TapState::Finished {
        reason: Reason::Stopped,
        stats: SinkStats {
            frames_sent: 3,
            frames_dropped: 0,
            bytes_sent: 480,
        },
    }
}

/// Posts `tapping` then `finished` through `poster` to `url` and waits (within the deadline)
/// until the channel has delivered or given up both.
async fn post_tapping_then_finished(poster: &StatusPoster, url: &str) {
    let channel = poster.channel(url).expect("a valid status url");
    channel.post(&event(TapState::Tapping));
    channel.post(&event(finished()));
    tokio::time::timeout(DEADLINE, channel.finish())
        .await
        .expect("delivery ends before the deadline");
}

#[tokio::test]
async fn a_500_is_retried_and_finished_follows_tapping() {
    let mut peer = PythonPeer::start("status_server.py", &["500,200"]).await;
    let poster = poster(Some(b"key"));
    let url = format!("http://user:pa%20ss@127.0.0.1:{}/ev?x=1", peer.port);
    post_tapping_then_finished(&poster, &url).await;

    let mut seen = vec![];
    for _ in 0..3 {
        let r = peer.next(DEADLINE).await;
        assert_eq!(r["event"], "request");
        assert_eq!(r["path"], "/ev?x=1");
        let headers = &r["headers"];
        assert_eq!(headers["content-type"], "application/json");
        // base64("user:pa ss")
        assert_eq!(headers["authorization"], "Basic dXNlcjpwYSBzcw==");
        let raw = r["body"].as_str().expect("a body");
        assert_eq!(
            headers["x-earshot-signature"],
            signature(b"key", raw.as_bytes())
        );
        let body: serde_json::Value = serde_json::from_str(raw).expect("JSON body");
        assert_eq!(body["event_type"], "calling.call.tap");
        assert_eq!(body["event_channel"], "swml:sess");
        assert_eq!(body["params"]["tag"], "tag-1");
        seen.push((
            body["params"]["state"].as_str().expect("state").to_owned(),
            r["code"].as_u64().expect("code"),
        ));
        if body["params"]["state"] == "finished" {
            assert_eq!(body["params"]["reason"], "stopped");
            assert_eq!(body["params"]["stats"]["bytes_sent"], 480);
        }
    }
    assert_eq!(
        seen,
        [
            ("tapping".to_owned(), 500),
            ("tapping".to_owned(), 200),
            ("finished".to_owned(), 200)
        ]
    );
    assert_eq!(
        poster.counters(),
        StatusCounters {
            ok: 2,
            retried: 1,
            failed: 0
        }
    );
}

#[tokio::test]
async fn a_4xx_is_not_retried() {
    let mut peer = PythonPeer::start("status_server.py", &["404,200"]).await;
    let poster = poster(None);
    post_tapping_then_finished(&poster, &format!("http://127.0.0.1:{}/", peer.port)).await;
    let first = peer.next(DEADLINE).await;
    assert_eq!(first["code"], 404);
    assert!(first["headers"].get("x-earshot-signature").is_none());
    assert!(first["headers"].get("authorization").is_none());
    let second = peer.next(DEADLINE).await;
    assert_eq!(second["code"], 200);
    assert!(
        second["body"]
            .as_str()
            .expect("body")
            .contains("\"finished\"")
    );
    assert_eq!(
        poster.counters(),
        StatusCounters {
            ok: 1,
            retried: 0,
            failed: 1
        }
    );
}

#[tokio::test]
async fn four_attempts_then_given_up_and_the_next_event_still_goes() {
    let mut peer = PythonPeer::start("status_server.py", &["500,503,502,500,200"]).await;
    let poster = poster(None);
    post_tapping_then_finished(&poster, &format!("http://127.0.0.1:{}/", peer.port)).await;
    let mut states = vec![];
    for _ in 0..5 {
        let r = peer.next(DEADLINE).await;
        let body: serde_json::Value =
            serde_json::from_str(r["body"].as_str().expect("body")).expect("JSON");
        states.push(body["params"]["state"].as_str().expect("state").to_owned());
    }
    assert_eq!(
        states,
        ["tapping", "tapping", "tapping", "tapping", "finished"]
    );
    assert_eq!(
        poster.counters(),
        StatusCounters {
            ok: 1,
            retried: 3,
            failed: 1
        }
    );
}

#[tokio::test]
async fn a_refused_status_url_is_retried_then_given_up() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let poster = poster(None);
    let channel = poster
        .channel(&format!("http://127.0.0.1:{port}/"))
        .expect("a valid status url");
    channel.post(&event(TapState::Tapping));
    tokio::time::timeout(DEADLINE, channel.finish())
        .await
        .expect("delivery ends before the deadline");
    assert_eq!(
        poster.counters(),
        StatusCounters {
            ok: 0,
            retried: 3,
            failed: 1
        }
    );
}
