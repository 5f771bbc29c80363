//! Calls running SWML documents, end to end against SIPp on loopback, with tcpdump watching
//! what each peer receives.

mod peer;

use std::time::Duration;

use g711::Law;
use peer::capture::Capture;
use peer::sipp::{Sipp, SippRun};
use peer::stream::{audio, longest_common_run, rtp_packets, runs, sipp_pcap, tones};
use peer::{Ports, next_report, node_config, start};
use server::{CallFlow, load_routes};

/// A WAV file: 8 kHz mono 16-bit PCM, `secs` of a sine at `hz`.
fn wav(hz: f64, secs: f64) -> Vec<u8> {
    let samples: Vec<i16> = (0..(secs * 8000.0) as usize)
        .map(|i| (8000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
        .collect();
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_plays_a_wav_file_then_connects_to_a_far_end() {
    let ports = Ports::block(11);
    let far = Ports::block(12);
    let dir = std::env::temp_dir().join(format!("earshot-swml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a media directory");
    std::fs::write(dir.join("greeting.wav"), wav(600.0, 1.0)).expect("the greeting");
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - play:
        url: file://greeting.wav
    - cond:
        - when: play_result == \"success\"
          then:
            - connect:
                to: sip:far@127.0.0.1:{}
    - hangup
",
        far.sipp()
    );
    let doc_path = dir.join("flow.yaml");
    std::fs::write(&doc_path, document).expect("the document");
    let mut config = node_config(ports.rtp(20));
    config.flow = CallFlow::Swml(std::sync::Arc::new(
        load_routes(Some(&doc_path), &[]).expect("the document is valid"),
    ));
    config.media_dir = dir.clone();
    let node = start(config).await;
    let mut reports = node.reports();
    let caller_capture =
        Capture::start("swml-caller", &format!("dst port {}", ports.sipp_media())).await;
    let far_capture = Capture::start("swml-far", &format!("dst port {}", far.sipp_media())).await;
    // The far end answers PCMU and sends back whatever it receives.
    let far_end = Sipp::spawn(&SippRun {
        name: "swml-far",
        local_port: far.sipp(),
        media_port: far.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sn", "uas", "-rtp_echo"],
    });
    // The caller (PCMA) plays g711a.pcap from its ACK on, then hangs up.
    let target = node.sip_udp_addr().to_string();
    let caller = Sipp::spawn(&SippRun {
        name: "swml-caller",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sn", "uac_pcap", "-s", "swml", &target],
    });
    let outcome = caller.expect_success().await;
    assert_eq!(outcome.counter("SuccessfulCall(C)"), 1, "{outcome:?}");
    let far_outcome = far_end.expect_success().await;
    assert_eq!(
        far_outcome.counter("SuccessfulCall(C)"),
        1,
        "{far_outcome:?}"
    );
    let report = next_report(&mut reports).await;
    let heard_by_caller = audio(&rtp_packets(&caller_capture.stop().await));
    let heard_by_far = audio(&rtp_packets(&far_capture.stop().await));

    assert!(report.answered, "{report:?}");
    assert_eq!(report.ended, "caller hung up");
    assert_eq!(report.media.as_ref().map(|m| m.codec), Some(Law::Alaw));

    // The caller first hears the greeting: one second of 600 Hz, in 20 ms frames.
    let frames = tones(&heard_by_caller, Law::Alaw, 160, &[600.0]);
    let greeting = runs(&frames)
        .into_iter()
        .find(|(tone, _)| *tone == Some(600.0));
    let greeting_frames = greeting.map_or(0, |(_, n)| n);
    assert!(
        (48..=51).contains(&greeting_frames),
        "the greeting lasts 1 s: {greeting_frames} frames"
    );

    // Then the far end: it hears the caller (A-law relayed as µ-law), and sends it back, so the
    // caller hears itself (µ-law back to A-law) — at least two seconds of it, unbroken.
    let said = audio(&sipp_pcap("g711a.pcap"));
    let to_far: Vec<u8> = said
        .iter()
        .map(|&a| Law::Ulaw.transcode_from(Law::Alaw, a))
        .collect();
    let far_run = longest_common_run(&heard_by_far, &to_far, Law::Ulaw.silence());
    assert!(
        far_run >= 16_000,
        "the far end heard the caller: {far_run} bytes in one piece"
    );
    let back: Vec<u8> = to_far
        .iter()
        .map(|&u| Law::Alaw.transcode_from(Law::Ulaw, u))
        .collect();
    let back_run = longest_common_run(&heard_by_caller, &back, Law::Alaw.silence());
    assert!(
        back_run >= 16_000,
        "the caller heard the far end: {back_run} bytes in one piece"
    );
    assert_eq!(node.port_pool().leased(), 0, "both legs' ports went back");
}
