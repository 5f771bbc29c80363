//! `earshot demo` end to end: the README's first command must exit 0, say that the audio
//! arrived, and leave WAV files that sox (a reader we did not write) takes as what the
//! report says they are.

use std::path::Path;
use std::time::Duration;

fn soxi(flag: &str, file: &Path) -> String {
    let out = std::process::Command::new("soxi")
        .arg(flag)
        .arg(file)
        .output()
        .expect("soxi (from sox) runs");
    assert!(
        out.status.success(),
        "soxi {flag} {}: {out:?}",
        file.display()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_taps_a_call_and_reports_the_audio_arrived() {
    let out = std::env::temp_dir().join(format!("earshot-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_earshot"))
        .args(["demo", "--seconds", "4", "--out"])
        .arg(&out)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the demo ends within a minute")
        .expect("the demo runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("result: the tapped audio arrived, complete and in order"),
        "{stdout}"
    );
    // Progress while it ran: the call, both streams, the status events, live figures.
    for line in [
        "calling sip:demo@127.0.0.1:",
        "rtp tap: stream from",
        "ws tap: stream from",
        "status event: demo-rtp tapping",
        "status event: demo-ws finished",
        "frames/s",
    ] {
        assert!(stderr.contains(line), "{line:?} in\n{stderr}");
    }
    // The report: both taps, contract kept, the node's frame count matched, the tones heard,
    // the status events in order.
    for line in [
        "RTP tap (demo-rtp",
        "WebSocket tap (demo-ws",
        "contract: ok",
        "lost 0, duplicates 0, reordered 0",
        "Close 1000",
        "heard on the left (what the caller said): 440 Hz",
        "heard on the right (what the caller heard): 1000 Hz",
        "demo-rtp finished (reason call_ended)",
    ] {
        assert!(stdout.contains(line), "{line:?} in\n{stdout}");
    }
    assert!(!stdout.contains("absent"), "{stdout}");
    let received: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("node's count:"))
        .collect();
    assert_eq!(received.len(), 2, "{stdout}");
    for line in received {
        let (got, sent) = line
            .rsplit_once("received ")
            .and_then(|(_, r)| r.split_once(" of "))
            .expect("received N of M frames");
        let sent = sent.trim_end_matches(" frames");
        assert_eq!(got, sent, "{line}");
        let frames: u32 = got.parse().expect("a count");
        // 4 s of call at 20 ms, plus the window's last frames.
        assert!((190..=215).contains(&frames), "{line}");
    }

    // The files, as sox reads them: 8 kHz 16-bit, mono for the mix, stereo for the WebSocket.
    let wav = |prefix: &str| {
        std::fs::read_dir(&out)
            .expect("the output directory")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".wav"))
            })
            .unwrap_or_else(|| panic!("a {prefix}*.wav in {}", out.display()))
    };
    let (rtp, ws) = (wav("rtp-"), wav("ws-"));
    assert!(stdout.contains(&rtp.display().to_string()), "{stdout}");
    for (file, channels) in [(&rtp, "1"), (&ws, "2")] {
        assert_eq!(soxi("-r", file), "8000");
        assert_eq!(soxi("-b", file), "16");
        assert_eq!(soxi("-c", file), channels);
        let secs: f64 = soxi("-D", file).parse().expect("a duration");
        assert!((3.8..=4.4).contains(&secs), "{}: {secs} s", file.display());
    }
    let _ = std::fs::remove_dir_all(&out);
}
