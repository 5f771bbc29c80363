//! Overload, end to end on loopback: a node at its call limit answers a burst of 100 INVITEs
//! with 503 and Retry-After, and a storm of malformed packets (random bytes, truncated RTP,
//! RTCP, RTP of strangers) hits every RTP port, while a tapped call already up keeps its tap
//! whole: every frame, on its 20 ms grid, the caller's audio byte for byte.

mod peer;
#[path = "peers/python.rs"]
mod python;

use std::time::Duration;

use peer::capture::Capture;
use peer::sipp::{Sipp, SippRun};
use peer::stream::{assert_carries_the_caller, assert_continuous, rtp_packets};
use peer::{DEADLINE, Ports, next_report, node_config, start, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_its_call_limit_the_node_refuses_a_burst_with_503_and_a_storm_costs_only_counters() {
    let ports = Ports::block(37);
    let healthy_port = ports.sipp_media() + 50;
    let _receiver = std::net::UdpSocket::bind(("127.0.0.1", healthy_port)).expect("a receiver");
    let mut status = python::PythonPeer::start("status_server.py", &["200"]).await;
    let dir = std::env::temp_dir().join(format!("earshot-overload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let (good, filler) = (dir.join("good.yaml"), dir.join("filler.yaml"));
    std::fs::write(&good, peer::healthy_tap_document(healthy_port, status.port))
        .expect("the healthy document");
    std::fs::write(
        &filler,
        "version: 1.0.0\nsections:\n  main:\n    - answer\n    - play:\n        url: silence:15\n    - hangup\n",
    )
    .expect("the filler document");
    let routes = server::load_routes(None, &[("good".into(), good), ("filler".into(), filler)])
        .expect("valid documents");
    let mut config = node_config(ports.rtp(20));
    let rtp_range = (config.rtp.first, config.rtp.last);
    config.flow = server::CallFlow::Swml(std::sync::Arc::new(routes));
    config.max_calls = Some(2);
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start("overload", &format!("dst port {healthy_port}")).await;
    let target = node.sip_udp_addr().to_string();

    // The two calls the node may hold: one that only plays (15 s, longer than the rest of the
    // test), then the tapped one.
    let vanish = peer::scenario("uac_vanish.xml");
    let filler = Sipp::spawn(&SippRun {
        name: "overload-filler",
        local_port: ports.sipp() + 20,
        media_port: ports.sipp_media() + 20,
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sf", &vanish, "-s", "filler", &target],
    });
    within("the filler call up", async {
        while node.active_calls() < 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let healthy = Sipp::spawn(&SippRun {
        name: "overload-healthy",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sn", "uac_pcap", "-s", "good", &target],
    });
    let tapping = status.next(DEADLINE).await;
    assert!(
        tapping["body"]
            .as_str()
            .expect("a body")
            .contains("tapping")
    );
    within("both calls up", async {
        while node.active_calls() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // The burst: 100 INVITEs at 50 a second, each must get 503 with Retry-After.
    let expect_503 = peer::scenario("uac_expect_503.xml");
    let burst = Sipp::spawn(&SippRun {
        name: "overload-burst",
        local_port: ports.sipp() + 40,
        media_port: ports.sipp_media() + 40,
        calls: 100,
        timeout: Duration::from_secs(30),
        args: &[
            "-sf",
            &expect_503,
            "-s",
            "burst",
            "-r",
            "50",
            "-l",
            "100",
            &target,
        ],
    });
    // The storm, meanwhile, on every port of the node's RTP range, from a stranger.
    let storm = tokio::spawn(async move {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("the storm's socket");
        let mut seed: u32 = 0x2545_f491;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let mut sent = 0u64;
        for round in 0..300u32 {
            for port in rtp_range.0..=rtp_range.1 {
                let random: Vec<u8> = (0..(next() % 200) as usize).map(|_| next() as u8).collect();
                let truncated = [0x80, 0x08, 0x00, 0x01, 0x00, 0x00];
                let mut rtcp = vec![0x80, 200, 0x00, 0x06];
                rtcp.extend((0..24).map(|_| next() as u8));
                let mut packets = vec![random, truncated.to_vec(), rtcp];
                // RTP of strangers, a new SSRC each time, once the calls have latched on to
                // their callers (a second in).
                if round >= 100 {
                    let mut rtp = vec![0x80, 0x08];
                    rtp.extend((round as u16).to_be_bytes());
                    rtp.extend((round * 160).to_be_bytes());
                    rtp.extend(next().to_be_bytes());
                    rtp.extend([0x55; 160]);
                    packets.push(rtp);
                }
                for packet in packets {
                    // Ports without a leg answer with ICMP; that is the stranger's problem.
                    let _ = socket.send_to(&packet, ("127.0.0.1", port)).await;
                    sent += 1;
                }
            }
            // Pacing of the load itself (about 8000 packets a second), not a synchronisation.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sent
    });

    let burst = burst.wait().await;
    assert!(
        burst.status.success(),
        "every INVITE of the burst got 503 with Retry-After: {burst:?}"
    );
    assert_eq!(burst.counter("SuccessfulCall(C)"), 100, "{burst:?}");
    healthy.expect_one_call().await;
    filler.expect_one_call().await;
    let sent = storm.await.expect("the storm ran");
    assert!(sent > 10_000, "{sent} storm packets");

    let mut rejected = 0;
    let mut answered = Vec::new();
    while answered.len() < 2 {
        let report = next_report(&mut reports).await;
        match report.rejected {
            Some(code) => {
                assert_eq!(code, 503, "{report:?}");
                rejected += 1;
            }
            None => answered.push(report),
        }
    }
    while rejected < 100 {
        let report = next_report(&mut reports).await;
        assert_eq!(report.rejected, Some(503), "{report:?}");
        rejected += 1;
    }
    let finished = status.next(DEADLINE).await;
    let finished: serde_json::Value =
        serde_json::from_str(finished["body"].as_str().expect("a body")).expect("JSON");
    let packets = rtp_packets(&capture.stop().await);

    // The healthy call: untouched by the burst, and the storm cost it counters only.
    let report = answered
        .iter()
        .find(|r| r.ended == "caller hung up")
        .unwrap_or_else(|| panic!("the healthy call's report: {answered:?}"));
    assert_eq!(report.stats.lost, 0, "{report:?}");
    assert!(
        report.stats.malformed > 0,
        "the storm is counted: {:?}",
        report.stats
    );
    assert!(report.stats.rtcp_ignored > 0, "{:?}", report.stats);
    assert!(report.stats.foreign > 0, "{:?}", report.stats);
    assert_eq!(report.stats.relatches, 0, "{:?}", report.stats);
    assert_eq!(finished["params"]["state"], "finished", "{finished}");
    assert_eq!(finished["params"]["reason"], "call_ended", "{finished}");
    assert_eq!(finished["params"]["stats"]["frames_sent"], packets.len());
    assert_eq!(finished["params"]["stats"]["frames_dropped"], 0);
    assert_continuous(&packets, 0, 20);
    let offsets: Vec<f64> = packets
        .iter()
        .enumerate()
        .map(|(n, p)| p.at.as_secs_f64() - n as f64 * 0.020)
        .collect();
    let spread = offsets.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - offsets.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        spread <= 0.200,
        "arrivals spread {:.0} ms around the grid",
        spread * 1000.0
    );
    assert_carries_the_caller(&packets, "the healthy tap");
}
