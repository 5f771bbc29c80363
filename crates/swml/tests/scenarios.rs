//! Scenario tests: documents run on virtual time against a scripted shell.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use swml::{
    Action, Codec, HangupReason, Interpreter, PlayUrl, SwmlError, TapDirection, TapStarted, TapUri,
    check,
};

fn start(yaml: &str) -> (Interpreter, Instant) {
    let doc = check(yaml).expect("the scenario's document is valid");
    let now = Instant::now();
    let call =
        json!({"call_id": "c-1", "from": "sip:alice@example.com", "to": "sip:node@example.com"});
    let envs = json!({"region": "eu"});
    (Interpreter::new(doc, call, envs, now), now)
}

fn doc(main: &str) -> String {
    format!("version: 1.0.0\nsections:\n  main:\n{main}")
}

fn var(it: &Interpreter, name: &str) -> Value {
    it.vars().get(name).cloned().unwrap_or(Value::Null)
}

#[test]
fn answer_tap_play_hangup() {
    let (mut it, t0) = start(&doc(
        r#"    - answer: { max_duration: 60, codecs: "PCMA,PCMU" }
    - tap: { uri: "rtp://192.0.2.1:4000", direction: both, rtp_ptime: 30 }
    - play: { urls: ["silence:1.5", "ring:2", "https://e.com/a.wav", "file://p/a.wav", "say:hello"] }
    - hangup: { reason: busy }
"#,
    ));
    let Action::Answer(a) = it.poll_action() else {
        panic!("answer first")
    };
    assert_eq!(a.max_duration, Duration::from_secs(60));
    assert_eq!(a.codecs, vec![Codec::Pcma, Codec::Pcmu]);
    let Action::StartTap(tap) = it.poll_action() else {
        panic!("then the tap")
    };
    assert_eq!(tap.direction, TapDirection::Both);
    assert_eq!(tap.rtp_ptime_ms, 30);
    assert_eq!(
        tap.uri,
        TapUri::Rtp {
            host: "192.0.2.1".into(),
            port: 4000
        }
    );
    assert_eq!(
        it.poll_action(),
        Action::Wait,
        "the script waits for the sink"
    );
    it.handle_tap_started(TapStarted {
        succeeded: true,
        control_id: "tap-1".into(),
        rtp_source: Some(("10.0.0.5".into(), 30000)),
    });
    for (k, v) in [
        ("tap_result", json!("success")),
        ("tap_uri", json!("rtp://192.0.2.1:4000")),
        ("tap_control_id", json!("tap-1")),
        ("tap_ptime", json!(30)),
        ("tap_codec", json!("PCMU")),
        ("tap_rate", json!(8000)),
        ("tap_rtp_src_addr", json!("10.0.0.5")),
        ("tap_rtp_src_port", json!(30000)),
    ] {
        assert_eq!(var(&it, k), v, "{k}");
    }
    let Action::Play { urls } = it.poll_action() else {
        panic!("then play")
    };
    assert_eq!(
        urls,
        vec![
            PlayUrl::Silence(Duration::from_millis(1500)),
            PlayUrl::Ring(Duration::from_secs(2)),
            PlayUrl::Http("https://e.com/a.wav".into()),
            PlayUrl::File("p/a.wav".into()),
            PlayUrl::Say("hello".into()),
        ]
    );
    it.handle_timeout(t0 + Duration::from_secs(5));
    assert_eq!(it.poll_action(), Action::Wait);
    it.handle_play_done(true);
    assert_eq!(var(&it, "play_result"), json!("success"));
    assert_eq!(
        it.poll_action(),
        Action::Hangup {
            reason: HangupReason::Busy
        }
    );
    assert_eq!(it.poll_action(), Action::Finished);
    assert_eq!(it.poll_action(), Action::Finished);
}

#[test]
fn sleep_runs_on_virtual_time() {
    let (mut it, t0) = start(&doc("    - sleep: 1500\n    - sleep: { duration: 10 }\n"));
    let until = t0 + Duration::from_millis(1500);
    assert_eq!(
        it.poll_action(),
        Action::Sleep {
            until,
            duration: Duration::from_millis(1500)
        }
    );
    assert_eq!(it.poll_timeout(), Some(until));
    it.handle_timeout(t0 + Duration::from_millis(1499));
    assert_eq!(it.poll_action(), Action::Wait);
    it.handle_timeout(until);
    let until2 = until + Duration::from_millis(10);
    assert_eq!(
        it.poll_action(),
        Action::Sleep {
            until: until2,
            duration: Duration::from_millis(10)
        }
    );
    it.handle_timeout(until2 + Duration::from_secs(1));
    assert_eq!(it.poll_action(), Action::Finished);
}

#[test]
fn set_substitution_cond_switch_and_goto() {
    let (mut it, _) = start(&doc(
        r#"    - set: { count: 0, greeting: "hi %{call.from} in %{region}", flag: on }
    - label: again
    - set: { count: "${+count + 1}" }
    - goto: { label: again, when: "count < 3" }
    - cond:
        - when: "count == 3 && flag === 'on'"
          then:
            - set: { branch: then }
            - switch:
                variable: vars.count
                case:
                  "3":
                    - set: { picked: three }
                default:
                  - set: { picked: other }
        - else:
            - set: { branch: else }
    - unset: [flag]
    - play: { url: "say:%{greeting}" }
"#,
    ));
    let Action::Play { urls } = it.poll_action() else {
        panic!("play after the control flow")
    };
    assert_eq!(
        urls,
        vec![PlayUrl::Say("hi sip:alice@example.com in eu".into())]
    );
    assert_eq!(var(&it, "count"), json!("3"));
    assert_eq!(var(&it, "branch"), json!("then"));
    assert_eq!(var(&it, "picked"), json!("three"));
    assert_eq!(var(&it, "flag"), Value::Null);
}

#[test]
fn goto_max_bounds_a_loop() {
    let (mut it, _) = start(&doc(r#"    - label: top
    - set: { n: "${n + 1}" }
    - goto: { label: top, max: 5 }
    - hangup
"#));
    assert_eq!(
        it.poll_action(),
        Action::Hangup {
            reason: HangupReason::Hangup
        }
    );
    // Unset n + 1 is NaN, then "NaN1"…: the loop ran six times in all.
    assert_eq!(var(&it, "n"), json!("NaN11111"));
}

#[test]
fn execute_params_and_return_value() {
    let (mut it, _) = start(
        r#"
version: 1.0.0
sections:
  main:
    - execute: { dest: sub, params: { who: "%{call.from}" } }
    - play: { url: "say:%{return_value}" }
  sub:
    - return: { return_value: "bye %{params.who}" }
    - play: { url: "say:never" }
"#,
    );
    let Action::Play { urls } = it.poll_action() else {
        panic!("play after return")
    };
    assert_eq!(urls, vec![PlayUrl::Say("bye sip:alice@example.com".into())]);
    it.handle_play_done(false);
    assert_eq!(var(&it, "play_result"), json!("failed"));
    assert_eq!(it.poll_action(), Action::Finished);
}

#[test]
fn execute_and_transfer_fetch_documents() {
    let (mut it, _) = start(&doc(
        "    - execute: { dest: \"https://e.com/sub\", params: { a: 1 } }\n    - transfer: { dest: \"https://e.com/next\" }\n    - hangup\n",
    ));
    let Action::FetchDocument { url, body } = it.poll_action() else {
        panic!("a fetch")
    };
    assert_eq!(url, "https://e.com/sub");
    assert_eq!(body["params"], json!({"a": 1}));
    assert_eq!(body["call"]["call_id"], json!("c-1"));
    it.handle_document_fetched(Ok(
        r#"{"version":"1.0.0","sections":{"main":[{"return":{"return_value":"%{params.a}"}}]}}"#,
    ));
    let Action::FetchDocument { url, .. } = it.poll_action() else {
        panic!("the transfer's fetch")
    };
    assert_eq!(var(&it, "return_value"), json!("1"));
    assert_eq!(url, "https://e.com/next");
    it.handle_document_fetched(Ok(
        "version: 1.0.0\nsections:\n  main:\n    - play: { url: 'ring:1' }\n",
    ));
    assert!(matches!(it.poll_action(), Action::Play { .. }));
    it.handle_play_done(true);
    // The transfer does not return: the first document's hangup never runs.
    assert_eq!(it.poll_action(), Action::Finished);
}

#[test]
fn a_fetched_document_that_does_not_load_ends_the_script() {
    let (mut it, _) = start(&doc("    - transfer: { dest: \"https://e.com/x\" }\n"));
    assert!(matches!(it.poll_action(), Action::FetchDocument { .. }));
    it.handle_document_fetched(Ok("version: 2\nsections: {}\n"));
    let Action::Failed {
        error: SwmlError::DocumentInvalid { errors, .. },
    } = it.poll_action()
    else {
        panic!("the document is refused")
    };
    assert_eq!(errors.len(), 2);
    assert_eq!(it.poll_action(), Action::Finished);
}

#[test]
fn transfers_are_limited() {
    let (mut it, _) = start(
        "version: 1.0.0\nsections:\n  main:\n    - transfer: { dest: other }\n  other:\n    - transfer: { dest: main }\n",
    );
    let Action::Failed { error } = it.poll_action() else {
        panic!("the limit ends it")
    };
    assert!(
        matches!(error, SwmlError::TooManyTransfers { max: 32, .. }),
        "{error:?}"
    );
    assert_eq!(it.poll_action(), Action::Finished);
}

#[test]
fn a_loop_that_never_yields_is_stopped() {
    let (mut it, _) = start(
        "version: 1.0.0\nsections:\n  main:\n    - label: a\n    - execute: { dest: loop }\n    - goto: { label: a }\n  loop:\n    - label: b\n    - set: { x: 1 }\n    - goto: { label: b }\n",
    );
    let Action::Failed { error } = it.poll_action() else {
        panic!("the budget ends it")
    };
    assert!(
        matches!(error, SwmlError::StepBudgetExceeded { .. }),
        "{error:?}"
    );
    assert_eq!(it.poll_action(), Action::Finished);
}

#[test]
fn request_sets_its_variables() {
    let (mut it, _) = start(&doc(
        r#"    - request: { url: "https://api.e.com/x?from=%{call.from}", method: POST, body: { a: "%{region}" }, save_variables: true, timeout: 2.5 }
    - request: { url: "https://api.e.com/y", method: GET }
"#,
    ));
    let Action::Request(r) = it.poll_action() else {
        panic!("a request")
    };
    assert_eq!(r.url, "https://api.e.com/x?from=sip:alice@example.com");
    assert_eq!(r.body, Some(json!({"a": "eu"})));
    assert_eq!(r.timeout, Duration::from_millis(2500));
    it.handle_request_done(Some(200), r#"{"next": "menu", "n": [1]}"#);
    assert_eq!(var(&it, "request_result"), json!("success"));
    assert_eq!(var(&it, "request_response_code"), json!(200));
    assert_eq!(var(&it, "request_response")["next"], json!("menu"));
    assert!(matches!(it.poll_action(), Action::Request(_)));
    it.handle_request_done(None, "");
    assert_eq!(var(&it, "request_result"), json!("failed"));
    assert_eq!(var(&it, "request_response"), Value::Null);
}

#[test]
fn connect_sets_its_variables() {
    let (mut it, _) = start(&doc(
        "    - connect: { to: \"sip:bob@example.com\", timeout: 20, headers: [{ name: X-A, value: b }] }\n    - connect: { to: \"%{vars.nobody}\" }\n",
    ));
    let Action::Connect(c) = it.poll_action() else {
        panic!("a connect")
    };
    assert_eq!(c.timeout, Duration::from_secs(20));
    assert_eq!(c.headers, vec![("X-A".to_owned(), "b".to_owned())]);
    it.handle_connect_done(false, Some("busy"));
    assert_eq!(var(&it, "connect_result"), json!("failed"));
    assert_eq!(var(&it, "connect_failed_reason"), json!("busy"));
    // The second destination substitutes to nothing: the method fails, the script goes on.
    let Action::StepFailed { path, error } = it.poll_action() else {
        panic!("invalid at run time")
    };
    assert_eq!(path, "sections.main[1]");
    assert_eq!(
        error.to_string(),
        r#"sections.main[1].connect.to: expected a sip: or sips: URI, found """#
    );
    assert_eq!(var(&it, "connect_failed_reason"), json!("invalid_params"));
    assert_eq!(it.poll_action(), Action::Finished);
}

#[test]
fn tap_values_are_checked_after_substitution() {
    let (mut it, _) = start(&doc(r#"    - set: { dir: speek, ptime: "40" }
    - tap: { uri: "wss://h.example/a", direction: "%{dir}" }
    - tap: { uri: "wss://h.example/a", rtp_ptime: "%{ptime}", control_id: t2 }
    - stop_tap: {}
    - stop_tap: { control_id: other }
"#));
    let Action::TapInvalid { error, params, .. } = it.poll_action() else {
        panic!("the first tap fails")
    };
    assert_eq!(
        error.to_string(),
        r#"sections.main[1].tap.direction: expected one of speak, listen, both, found "speek""#
    );
    // What the shell reports the failure with: the parameters as substituted.
    assert_eq!(
        params,
        json!({"uri": "wss://h.example/a", "direction": "speek"})
    );
    assert_eq!(var(&it, "tap_result"), json!("failed"));
    assert_eq!(var(&it, "tap_uri"), json!("wss://h.example/a"));
    let Action::StartTap(tap) = it.poll_action() else {
        panic!("the second starts")
    };
    assert_eq!(tap.rtp_ptime_ms, 40);
    assert_eq!(tap.control_id.as_deref(), Some("t2"));
    it.handle_tap_started(TapStarted {
        succeeded: true,
        control_id: "t2".into(),
        rtp_source: None,
    });
    assert_eq!(var(&it, "tap_rtp_src_port"), Value::Null);
    assert_eq!(
        it.poll_action(),
        Action::StopTap {
            control_id: "t2".into()
        }
    );
    it.handle_tap_stopped(true);
    assert_eq!(var(&it, "stop_tap_result"), json!("success"));
    assert_eq!(
        it.poll_action(),
        Action::StopTap {
            control_id: "other".into()
        }
    );
    it.handle_tap_stopped(false);
    assert_eq!(var(&it, "stop_tap_result"), json!("failed"));
    assert_eq!(it.poll_action(), Action::Finished);
}

#[test]
fn stop_tap_without_any_tap_fails() {
    let (mut it, _) = start(&doc("    - stop_tap\n"));
    assert_eq!(it.poll_action(), Action::Finished);
    assert_eq!(var(&it, "stop_tap_result"), json!("failed"));
}

#[test]
fn a_remote_hangup_ends_the_script() {
    let (mut it, _) = start(&doc("    - play: { url: \"ring:30\" }\n    - hangup\n"));
    assert!(matches!(it.poll_action(), Action::Play { .. }));
    it.handle_hangup();
    assert_eq!(it.poll_action(), Action::Finished);
    it.handle_play_done(true);
    assert_eq!(it.poll_action(), Action::Finished);
}

#[test]
fn outcomes_nobody_waits_for_are_ignored() {
    let (mut it, _) = start(&doc("    - answer\n"));
    it.handle_play_done(true);
    it.handle_request_done(Some(200), "x");
    it.handle_tap_stopped(true);
    it.handle_document_fetched(Ok("junk"));
    assert!(it.vars().is_empty());
    assert!(matches!(it.poll_action(), Action::Answer(_)));
    assert_eq!(it.poll_action(), Action::Finished);
}

/// Every JSON and YAML example in `docs/swml.md` passes the checker (what `earshot check`
/// runs), so the user docs cannot drift from the validator.
#[test]
fn the_examples_in_the_user_docs_are_valid() {
    let doc = include_str!("../../../docs/swml.md");
    let mut checked = 0;
    for block in doc.split("```").skip(1).step_by(2) {
        let Some((lang, body)) = block.split_once('\n') else {
            continue;
        };
        if lang == "yaml" || lang == "json" {
            if let Err(errors) = swml::check(body) {
                panic!("a {lang} example in docs/swml.md is invalid: {errors:?}\n{body}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 3, "the examples of docs/swml.md");
}
