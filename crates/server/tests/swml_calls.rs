//! Calls running SWML documents, end to end against SIPp on loopback, with tcpdump watching
//! what each peer receives.

mod peer;
#[path = "peers/python.rs"]
mod python;

use std::time::Duration;

use g711::Law;
use peer::capture::Capture;
use peer::sipp::{Sipp, SippRun};
use peer::stream::{audio, longest_common_run, rtp_packets, runs, sipp_pcap, tones};
use peer::{Ports, next_report, node_config, start, swml_flow, wav};
use server::{CallFlow, load_routes};

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
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
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
    caller.expect_one_call().await;
    far_end.expect_one_call().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_fetched_documents_http_audio_and_speech() {
    let ports = Ports::block(13);
    let dir = std::env::temp_dir().join(format!("earshot-swml-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a media directory");
    let tone = dir.join("tone.wav");
    std::fs::write(&tone, wav(700.0, 1.0)).expect("the web's tone");
    let mut web =
        python::PythonPeer::start("flow_server.py", &[tone.to_str().expect("UTF-8 path")]).await;
    let base = format!("http://127.0.0.1:{}", web.port);
    let document = format!(
        "version: 1.0.0
sections:
  main:
    - answer
    - request:
        url: {base}/hook
        method: POST
        body: {{ caller: \"%{{call.from}}\" }}
        save_variables: true
    - switch:
        variable: request_response.lang
        case:
          fr:
            - play:
                url: {base}/tone.wav
        default:
          - hangup
    - play:
        url: say:bonjour
    - execute:
        dest: {base}/menu
        params:
          from_main: \"1\"
    - cond:
        - when: return_value == \"from-menu\" && menu_seen == \"yes\"
          then:
            - play:
                url: say:fin
    - hangup
"
    );
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, &document);
    // Speech: a stand-in TTS that says everything as half a second of 900 Hz.
    config.tts_command =
        Some("sox -n -r 8000 -c 1 -b 16 -e signed-integer -t wav - synth 0.5 sine 900".into());
    let node = start(config).await;
    let mut reports = node.reports();
    let capture = Capture::start("swml-http", &format!("dst port {}", ports.sipp_media())).await;
    let target = node.sip_udp_addr().to_string();
    let xml = peer::scenario("uac_silent.xml");
    let caller = Sipp::spawn(&SippRun {
        name: "swml-http",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(30),
        args: &["-sf", &xml, "-s", "flow", &target],
    });
    caller.expect_one_call().await;
    let report = next_report(&mut reports).await;
    let heard = audio(&rtp_packets(&capture.stop().await));
    assert_eq!(report.ended, "hung up by the script", "{report:?}");

    // The web saw the hook with the substituted body, the WAV fetch, then the menu fetch with
    // the call, the variables and the params.
    let hook = web.next(Duration::from_secs(5)).await;
    assert_eq!(
        (hook["method"].as_str(), hook["path"].as_str()),
        (Some("POST"), Some("/hook"))
    );
    assert_eq!(hook["content_type"], "application/json");
    let body: serde_json::Value =
        serde_json::from_str(hook["body"].as_str().expect("a body")).expect("JSON");
    assert!(
        body["caller"].as_str().is_some_and(|c| c.contains("sipp")),
        "{body}"
    );
    let get = web.next(Duration::from_secs(5)).await;
    assert_eq!(
        (get["method"].as_str(), get["path"].as_str()),
        (Some("GET"), Some("/tone.wav"))
    );
    let menu = web.next(Duration::from_secs(5)).await;
    assert_eq!(menu["path"], "/menu");
    let fetch: serde_json::Value =
        serde_json::from_str(menu["body"].as_str().expect("a body")).expect("JSON");
    assert_eq!(fetch["params"]["from_main"], "1", "{fetch}");
    assert_eq!(fetch["vars"]["request_result"], "success", "{fetch}");
    assert!(fetch["call"]["call_id"].is_string(), "{fetch}");

    // What the caller heard: 1 s of the fetched 700 Hz WAV, then 0.5 s of "speech", and, after
    // the menu's silence, the second 0.5 s of speech that only plays if the menu returned.
    let frames = tones(&heard, Law::Ulaw, 160, &[700.0, 900.0]);
    let heard_runs: Vec<(Option<f64>, usize)> = runs(&frames)
        .into_iter()
        .filter(|(tone, n)| tone.is_some() && *n > 2)
        .collect();
    let shape: Vec<(Option<f64>, bool)> = heard_runs
        .iter()
        .map(|&(t, n)| {
            (
                t,
                if t == Some(700.0) {
                    (48..=51).contains(&n)
                } else {
                    (23..=26).contains(&n)
                },
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (Some(700.0), true),
            (Some(900.0), true),
            (Some(900.0), true)
        ],
        "tones heard: {heard_runs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_routed_to_urls_are_fetched_per_call_and_a_bad_one_gets_500() {
    let ports = Ports::block(14);
    let dir = std::env::temp_dir().join(format!("earshot-swml-url-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let tone = dir.join("tone.wav");
    std::fs::write(&tone, wav(700.0, 1.0)).expect("a WAV for the web peer");
    let mut web =
        python::PythonPeer::start("flow_server.py", &[tone.to_str().expect("UTF-8 path")]).await;
    let base = format!("http://127.0.0.1:{}", web.port);
    let mut config = node_config(ports.rtp(20));
    let routes = load_routes(
        None,
        &[
            ("menu".to_string(), format!("{base}/menu").into()),
            ("broken".to_string(), format!("{base}/nowhere").into()),
        ],
    )
    .expect("URL routes");
    config.flow = CallFlow::Swml(std::sync::Arc::new(routes));
    let node = start(config).await;
    let mut reports = node.reports();
    let target = node.sip_udp_addr().to_string();

    // The menu document sets a variable, plays half a second of silence and returns: the call
    // is answered, and ends when the script does.
    let xml = peer::scenario("uac_silent.xml");
    let caller = Sipp::spawn(&SippRun {
        name: "swml-url",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(20),
        args: &["-sf", &xml, "-s", "menu", &target],
    });
    caller.expect_one_call().await;
    let report = next_report(&mut reports).await;
    assert!(report.answered, "{report:?}");
    assert_eq!(report.ended, "the script ended");
    let fetch = web.next(Duration::from_secs(5)).await;
    assert_eq!(
        (fetch["method"].as_str(), fetch["path"].as_str()),
        (Some("POST"), Some("/menu"))
    );
    let body: serde_json::Value =
        serde_json::from_str(fetch["body"].as_str().expect("a body")).expect("JSON");
    assert!(
        body["call"]["call_id"].is_string()
            && body["vars"].is_object()
            && body["params"].is_object(),
        "{body}"
    );

    // The broken route answers 404: the caller gets 500 with a Reason saying so.
    let xml = peer::scenario("uac_expect_500.xml");
    let caller = Sipp::spawn(&SippRun {
        name: "swml-url-broken",
        local_port: ports.sipp() + 1,
        media_port: ports.sipp_media() + 2,
        calls: 1,
        timeout: Duration::from_secs(20),
        args: &["-sf", &xml, "-s", "broken", &target],
    });
    caller.expect_one_call().await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.rejected, Some(500), "{report:?}");
    assert!(!report.answered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_limits_the_call_and_its_codecs() {
    let ports = Ports::block(17);
    let dir = std::env::temp_dir().join(format!("earshot-swml-answer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let document = "version: 1.0.0
sections:
  main:
    - answer:
        max_duration: 1
        codecs: [PCMA]
    - play:
        url: silence:30
";
    let mut config = node_config(ports.rtp(20));
    config.flow = swml_flow(&dir, document);
    let node = start(config).await;
    let mut reports = node.reports();
    let target = node.sip_udp_addr().to_string();
    // The caller offers PCMU first: only the document's codec list makes the answer PCMA.
    let xml = peer::scenario("uac_silent_two_codecs.xml");
    let caller = Sipp::spawn(&SippRun {
        name: "swml-answer",
        local_port: ports.sipp(),
        media_port: ports.sipp_media(),
        calls: 1,
        timeout: Duration::from_secs(20),
        args: &["-sf", &xml, "-s", "limit", &target],
    });
    caller.expect_one_call().await;
    let report = next_report(&mut reports).await;
    assert_eq!(report.ended, "max_duration reached", "{report:?}");
    assert_eq!(report.media.as_ref().map(|m| m.codec), Some(Law::Alaw));
    // Ended by the limit, long before the 30 s of silence: about 1 s of RTP went out.
    assert!(
        (40..=80).contains(&report.stats.packets_out),
        "about 1 s of RTP: {:?}",
        report.stats
    );
}
