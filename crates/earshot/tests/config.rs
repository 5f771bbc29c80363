//! The `earshot` command's configuration and lifecycle, run as a user runs it: the documented
//! default configuration is the real one, files, variables and flags override in that order,
//! mistakes are named, and `earshot serve` answers `/health` and `/ready`, logs JSON when
//! asked (one line per call and tap change, credentials hidden), and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const EARSHOT: &str = env!("CARGO_BIN_EXE_earshot");
/// How long any wait here may take.
const DEADLINE: Duration = Duration::from_secs(20);

/// `earshot` with no `EARSHOT_*` variable of the test's own environment.
fn earshot() -> Command {
    let mut command = Command::new(EARSHOT);
    for (name, _) in std::env::vars() {
        if name.starts_with("EARSHOT_") {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null());
    command
}

fn run(command: &mut Command) -> Output {
    command.output().expect("earshot runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("earshot-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

fn docs() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    std::fs::read_to_string(&path).expect("docs/configuration.md")
}

/// The ```toml blocks of a Markdown text, with the heading each stands under.
fn toml_blocks(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut heading = String::new();
    let mut block: Option<String> = None;
    for line in markdown.lines() {
        match &mut block {
            Some(text) if line.trim_end() == "```" => {
                blocks.push((heading.clone(), std::mem::take(text)));
                block = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None if line.trim_end() == "```toml" => block = Some(String::new()),
            None if line.starts_with('#') => heading = line.trim_start_matches('#').trim().into(),
            None => {}
        }
    }
    blocks
}

#[test]
fn the_documented_default_configuration_is_the_default() {
    let blocks = toml_blocks(&docs());
    let (_, documented) = blocks
        .iter()
        .find(|(heading, _)| heading == "The default configuration")
        .expect("docs/configuration.md shows the default configuration");
    let printed = run(earshot().args(["serve", "--print-config"]));
    assert!(printed.status.success(), "{printed:?}");
    assert_eq!(
        &stdout(&printed),
        documented,
        "the documented defaults are out of date"
    );
    // And the documented text, read back as a file, changes nothing.
    let dir = temp_dir("defaults");
    let file = dir.join("default.toml");
    std::fs::write(&file, documented).expect("write");
    let reread = run(earshot()
        .arg("serve")
        .arg("--config")
        .arg(&file)
        .arg("--print-config"));
    assert!(reread.status.success(), "{reread:?}");
    assert_eq!(&stdout(&reread), documented);
}

#[test]
fn every_toml_example_in_the_docs_parses() {
    let blocks = toml_blocks(&docs());
    assert!(blocks.len() >= 2, "{blocks:?}");
    let dir = temp_dir("examples");
    for (i, (heading, text)) in blocks.iter().enumerate() {
        let file = dir.join(format!("example-{i}.toml"));
        std::fs::write(&file, text).expect("write");
        let out = run(earshot()
            .arg("serve")
            .arg("--config")
            .arg(&file)
            .arg("--print-config"));
        assert!(
            out.status.success(),
            "the example under {heading:?} does not parse: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_environment_overrides_the_file_and_flags_override_both() {
    let dir = temp_dir("override");
    let file = dir.join("node.toml");
    std::fs::write(
        &file,
        "[sip]\nudp = \"127.0.0.1:5070\"\nrate_per_second = 50\n[api]\ntoken = \"file-secret\"\n",
    )
    .expect("write");
    let print = |env: &[(&str, &str)], flags: &[&str]| -> toml_view::Config {
        let out = run(earshot()
            .arg("serve")
            .arg("--config")
            .arg(&file)
            .args(flags)
            .arg("--print-config")
            .envs(env.iter().copied()));
        assert!(out.status.success(), "{out:?}");
        let text = stdout(&out);
        assert!(
            !text.contains("file-secret") && !text.contains("env-secret"),
            "{text}"
        );
        toml_view::parse(&text)
    };
    let from_file = print(&[], &[]);
    assert_eq!(from_file.get("sip", "udp"), "\"127.0.0.1:5070\"");
    assert_eq!(from_file.get("sip", "rate_per_second"), "50");
    assert_eq!(from_file.get("api", "token"), "\"<redacted>\"");
    let from_env = print(
        &[
            ("EARSHOT_SIP_UDP", "127.0.0.1:5071"),
            ("EARSHOT_API_TOKEN", "env-secret"),
        ],
        &[],
    );
    assert_eq!(from_env.get("sip", "udp"), "\"127.0.0.1:5071\"");
    assert_eq!(from_env.get("sip", "rate_per_second"), "50");
    let from_flag = print(
        &[
            ("EARSHOT_SIP_UDP", "127.0.0.1:5071"),
            ("EARSHOT_LOG_FORMAT", "json"),
        ],
        &[
            "--sip",
            "127.0.0.1:5072",
            "--log-format",
            "human",
            "--sip-tcp",
            "off",
        ],
    );
    assert_eq!(from_flag.get("sip", "udp"), "\"127.0.0.1:5072\"");
    assert_eq!(from_flag.get("sip", "tcp"), "\"off\"");
    assert_eq!(from_flag.get("log", "format"), "\"human\"");
}

#[test]
fn configuration_mistakes_are_named_and_stop_the_node() {
    let dir = temp_dir("mistakes");
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 5] = [
        (
            "[sip]\nudpp = \"127.0.0.1:5070\"\n",
            &[],
            "unknown field `udpp`",
        ),
        ("[rtp]\nports = \"9000-8000\"\n", &[], "rtp.ports"),
        ("[flow]\nmode = \"swml\"\n", &[], "flow.mode is swml"),
        (
            "",
            &[("EARSHOT_SIP_UPD", "127.0.0.1:1")],
            "EARSHOT_SIP_UPD: no such setting",
        ),
        (
            "",
            &[("EARSHOT_SIP_RATE_PER_SECOND", "lots")],
            "EARSHOT_SIP_RATE_PER_SECOND",
        ),
    ];
    for (i, (text, env, expected)) in cases.iter().enumerate() {
        let file = dir.join(format!("bad-{i}.toml"));
        std::fs::write(&file, text).expect("write");
        let out = run(earshot()
            .arg("serve")
            .arg("--config")
            .arg(&file)
            .envs(env.iter().copied()));
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
        assert!(out.stdout.is_empty(), "nothing started: {out:?}");
    }
    let missing = run(earshot().args(["serve", "--config", "/nonexistent/earshot.toml"]));
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
}

/// One `GET` over HTTP/1.0: the status code and the body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, DEADLINE).expect("the API accepts");
    stream
        .set_read_timeout(Some(DEADLINE))
        .expect("a read timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("a request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let code = response
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (code, body)
}

#[test]
fn serve_answers_health_logs_json_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("serve");
    let file = dir.join("node.toml");
    // Ports of this test's own: SIP and API picked by the OS, RTP in a range no other test uses.
    std::fs::write(
        &file,
        "[sip]\nudp = \"127.0.0.1:0\"\ntcp = \"off\"\n[rtp]\nports = \"55000-55019\"\n\
         [api]\nlisten = \"127.0.0.1:0\"\ntoken = \"t\"\n[shutdown]\ndeadline_secs = 5\n",
    )
    .expect("write");
    let mut child = earshot()
        .arg("serve")
        .arg("--config")
        .arg(&file)
        .args(["--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("earshot serve starts");
    let (lines_tx, lines) = mpsc::channel::<(bool, String)>();
    for (is_stdout, pipe) in [
        (
            true,
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
        ),
        (false, Box::new(child.stderr.take().expect("stderr"))),
    ] {
        let tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = tx.send((is_stdout, line));
            }
        });
    }
    drop(lines_tx);
    let mut stderr = Vec::new();
    let next_stdout = |stderr: &mut Vec<String>| -> String {
        loop {
            match lines.recv_timeout(DEADLINE) {
                Ok((true, line)) => return line,
                Ok((false, line)) => stderr.push(line),
                Err(e) => panic!("no line from earshot ({e}); stderr: {stderr:#?}"),
            }
        }
    };
    let listening = next_stdout(&mut stderr);
    let api: SocketAddr = listening
        .split("API http://")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no API address in {listening:?}"));
    assert_eq!(get(api, "/health"), (200, "ok\n".into()));
    assert_eq!(get(api, "/ready"), (200, "ready\n".into()));
    let (code, metrics) = get(api, "/metrics");
    assert_eq!(code, 200);
    assert!(metrics.contains("earshot_calls_active 0"), "{metrics}");

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let mut said = Vec::new();
    loop {
        let line = next_stdout(&mut stderr);
        let done = line.contains("stopped cleanly");
        said.push(line);
        if done {
            break;
        }
    }
    let (exit_tx, exit) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = exit_tx.send(child.wait());
    });
    let status = exit
        .recv_timeout(DEADLINE)
        .expect("earshot exits after its shutdown")
        .expect("an exit status");
    assert!(status.success(), "{status:?}; said {said:?}");
    assert!(
        said.iter().any(|l| l.starts_with("earshot: shutting down")),
        "{said:?}"
    );
    // Every log line is one JSON object with a level and a message.
    for line in lines.try_iter().filter(|(out, _)| !out).map(|(_, l)| l) {
        stderr.push(line);
    }
    assert!(!stderr.is_empty());
    let logs: Vec<serde_json::Value> = stderr
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for log in &logs {
        assert!(
            log["level"].is_string() && log["message"].is_string(),
            "{log}"
        );
    }
    let stopped = logs
        .iter()
        .find(|l| l["message"] == "node stopped")
        .unwrap_or_else(|| panic!("no `node stopped` in {logs:#?}"));
    assert_eq!(stopped["calls_left"], 0);
    assert_eq!(stopped["status_channels_left"], 0);
}

/// The printed configuration, read back as TOML.
mod toml_view {
    /// `[section] key` of printed TOML.
    pub(crate) struct Config(toml::Table);

    pub(crate) fn parse(text: &str) -> Config {
        Config(toml::from_str(text).expect("the printed configuration is TOML"))
    }

    impl Config {
        /// The value of `[section] key`, as TOML writes it.
        pub(crate) fn get(&self, section: &str, key: &str) -> String {
            self.0
                .get(section)
                .and_then(|s| s.get(key))
                .unwrap_or_else(|| panic!("no [{section}] {key}"))
                .to_string()
        }
    }
}

#[test]
fn logs_say_each_call_and_tap_change_once_and_hide_credentials() {
    // A node whose document taps to URIs that carry secrets; `earshot dial` calls it for a
    // second. Ports of this test's own (the RTP range past the other test's).
    let document = r#"{"version": "1.0.0", "sections": {"main": ["answer",
        {"tap": {"uri": "ws://bob:pw-secret-1@127.0.0.1:9/a?token=secret-2&lang=en",
                 "status_url": "http://u:secret-3@127.0.0.1:9/s?sig=secret-4"}},
        {"tap": {"uri": "ws://127.0.0.1:9/b?access_token=secret-5"}},
        {"play": {"url": "silence:3"}}]}}"#;
    let mut serve = earshot()
        .args([
            "serve",
            "--sip",
            "127.0.0.1:0",
            "--sip-tcp",
            "off",
            "--api",
            "off",
        ])
        .args(["--rtp-ports", "55020-55039", "--log-format", "json"])
        .args(["--swml-inline", document])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("earshot serve starts");
    let mut out = BufReader::new(serve.stdout.take().expect("stdout"));
    let mut listening = String::new();
    out.read_line(&mut listening).expect("the startup line");
    let sip = listening
        .split("SIP udp ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no SIP address in {listening:?}"))
        .to_owned();
    let dial = run(earshot()
        .args([
            "dial",
            &format!("sip:tap@{sip}"),
            "--sip",
            "127.0.0.1:0",
            "--sip-tcp",
            "off",
        ])
        .args(["--rtp-ports", "55040-55059", "--duration", "1"]));
    assert!(dial.status.success(), "{dial:?}");
    // The call's end is on stdout; then stop the node and read everything it logged.
    let mut ended = String::new();
    out.read_line(&mut ended).expect("the call's line");
    assert!(ended.starts_with("call "), "{ended:?}");
    let term = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let output = serve.wait_with_output().expect("earshot serve exits");
    assert!(output.status.success(), "{output:?}");
    let logs = String::from_utf8(output.stderr).expect("UTF-8 logs");
    assert!(!logs.contains("secret"), "a secret was logged:\n{logs}");
    assert!(logs.contains("<redacted>"), "{logs}");
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let count = |message: &str| lines.iter().filter(|l| l["message"] == message).count();
    assert_eq!(count("call offered"), 1, "{logs}");
    assert_eq!(count("call answered"), 1, "{logs}");
    assert_eq!(count("call ended"), 1, "{logs}");
    // The first tap is refused (user information in a WebSocket URI), the second starts
    // connecting and finishes with connect_failed: one line each.
    assert_eq!(count("tap started"), 1, "{logs}");
    assert_eq!(count("tap finished"), 1, "{logs}");
    let call_id = lines
        .iter()
        .find(|l| l["message"] == "call offered")
        .map(|l| l["call_id"].clone())
        .expect("a call id");
    for message in ["call answered", "call ended", "tap started", "tap finished"] {
        let line = lines
            .iter()
            .find(|l| l["message"] == message)
            .expect("the line");
        assert_eq!(line["call_id"], call_id, "{line}");
    }
    // Nothing of the SIP stack's per-message chatter at info.
    assert!(!logs.contains("raw_message"), "{logs}");
}
