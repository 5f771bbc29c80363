use super::*;

fn errors(text: &str) -> Vec<String> {
    match check(text) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn main_with(steps: &str) -> String {
    format!("version: 1.0.0\nsections:\n  main:\n{steps}")
}

#[test]
fn the_spec_example_loads_from_yaml_and_json() {
    let yaml = r#"
version: 1.0.0
sections:
  main:
    - answer: {}
    - tap:
        uri: wss://example.com/audio
        direction: both
        status_url: https://example.com/tap-events
    - play:
        url: silence:5
    - execute:
        dest: menu
    - hangup: {}
  menu:
    - play: { url: "ring:2" }
    - return: {}
"#;
    let doc = check(yaml).expect("the spec's example is valid");
    assert_eq!(doc.sections.len(), 2);
    let json =
        r#"{"version": "1.0.0", "sections": {"main": ["answer", {"hangup": {"reason": "busy"}}]}}"#;
    let doc = check(json).expect("valid JSON");
    assert_eq!(doc.sections["main"].len(), 2);
}

#[test]
fn the_spec_error_message_is_exact() {
    let text = main_with(
        "    - answer\n    - tap:\n        uri: rtp://10.0.0.1:4000\n        direction: speek\n",
    );
    assert_eq!(
        errors(&text),
        vec![
            r#"sections.main[1].tap.direction: expected one of speak, listen, both, found "speek""#
        ]
    );
}

#[test]
fn every_error_is_collected() {
    let text = main_with(
        r#"    - answr: {}
    - tap:
        uri: http://x
        codec: G729
        rtp_ptime: 25
        colour: red
    - hangup: { reason: maybe }
    - play: { url: "fax:1" }
    - sleep: -5
    - goto: { label: nowhere }
    - execute: { dest: missing }
    - cond:
        - when: "vars.a == "
          then:
            - play: {}
        - else:
            - request: { url: "https://e.com", method: FETCH }
    - switch:
        variable: vars.x
        case:
          "1":
            - connect: { to: "tel:123" }
    - tap: { uri: "rtp://[::1]:0" }
    - answer: { max_duration: 0, codecs: "PCMU,OPUS" }
"#,
    );
    let got = errors(&text);
    let expected = [
        "sections.main[0].answr: unknown method, expected one of answer, hangup, play, sleep, set, unset, goto, label, cond, switch, execute, return, transfer, request, connect, tap, stop_tap",
        r#"sections.main[1].tap.colour: unknown key, expected one of uri, control_id, direction, codec, rtp_ptime, status_url, stereo, announce, custom_parameters, headers, authorization_bearer_token, reconnect, max_duration"#,
        r#"sections.main[1].tap.uri: expected rtp://HOST:PORT, ws://… or wss://…, found "http://x""#,
        r#"sections.main[1].tap.codec: expected one of PCMU, PCMA, found "G729""#,
        r#"sections.main[1].tap.rtp_ptime: expected a multiple of 10 from 10 to 120, found 25"#,
        r#"sections.main[2].hangup.reason: expected one of hangup, busy, decline, found "maybe""#,
        r#"sections.main[3].play.url: expected silence:SECONDS, ring:SECONDS, an http(s):// URL, file://PATH or say:TEXT, found "fax:1""#,
        "sections.main[4].sleep: expected an integer from 0 to 86400000, found -5",
        r#"sections.main[5].goto.label: expected a label of section main, found "nowhere""#,
        r#"sections.main[6].execute.dest: expected a section (main) or an http(s) URL, found "missing""#,
        "sections.main[7].cond[0].when: invalid expression: at position 10: expected a value, a name or \"(\", found the end",
        "sections.main[7].cond[0].then[0].play.url: required key is missing (url or urls)",
        r#"sections.main[7].cond[1].else[0].request.method: expected one of GET, POST, PUT, DELETE, found "FETCH""#,
        r#"sections.main[8].switch.case.1[0].connect.to: expected a sip: or sips: URI, found "tel:123""#,
        r#"sections.main[9].tap.uri: expected rtp://HOST:PORT, ws://… or wss://…, found "rtp://[::1]:0""#,
        "sections.main[10].answer.max_duration: expected an integer from 1 to 14400, found 0",
        r#"sections.main[10].answer.codecs: expected codecs among PCMU, PCMA, found "OPUS""#,
    ];
    assert_eq!(got, expected);
}

#[test]
fn document_shape_is_checked() {
    assert_eq!(
        errors("version: 1.0.0\nsections: {}\n"),
        vec!["sections.main: required key is missing"]
    );
    assert_eq!(
        errors("version: 1.0\nsections:\n  main: []\nextra: 1\n"),
        vec![
            "extra: unknown key, expected one of version, sections",
            r#"version: expected "1.0.0", found 1.0"#,
        ]
    );
    assert_eq!(
        errors("sections:\n  main: []\n"),
        vec!["version: required key is missing"]
    );
    assert_eq!(
        errors(&main_with(
            "    - { answer: {}, hangup: {} }\n    - play\n    - 5\n"
        )),
        vec![
            "sections.main[0]: expected a step (one method and its parameters), found 2 keys",
            "sections.main[1]: play needs parameters",
            "sections.main[2]: expected a step (one method and its parameters), found 5",
        ]
    );
    assert!(
        errors("[1, 2")
            .first()
            .is_some_and(|e| e.starts_with("invalid YAML"))
    );
    assert!(
        errors("{\"version\": ")
            .first()
            .is_some_and(|e| e.starts_with("invalid JSON"))
    );
    assert_eq!(
        errors("just text"),
        vec!["expected an object, found \"just text\""]
    );
}

#[test]
fn yaml_booleans_are_strict() {
    let text = main_with("    - set: { flag: on, real: true }\n");
    let doc = check(&text).expect("valid");
    let StepKind::Set(map) = &doc.sections["main"][0].kind else {
        panic!("a set step");
    };
    assert_eq!(map["flag"], Value::String("on".into()));
    assert_eq!(map["real"], Value::Bool(true));
    let text = main_with("    - tap: { uri: \"ws://h/x\", stereo: yes }\n");
    assert_eq!(
        errors(&text),
        vec![r#"sections.main[0].tap.stereo: expected true or false, found "yes""#]
    );
}

#[test]
fn alias_bombs_are_refused() {
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i", "j"])
    {
        let refs = vec![format!("*{prev}"); 9].join(",");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    let got = errors(&bomb);
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("invalid YAML"), "{got:?}");
}

#[test]
fn oversized_documents_are_refused() {
    let text = " ".repeat(MAX_DOCUMENT_LEN + 1);
    assert_eq!(errors(&text).len(), 1);
}

#[test]
fn templates_are_accepted_for_any_key_at_load() {
    let text = main_with(
        r#"    - tap:
        uri: "%{vars.dest}"
        direction: "%{vars.dir}"
        rtp_ptime: "%{vars.ptime}"
        stereo: "${vars.stereo}"
    - play: { url: "%{vars.prompt}" }
    - execute: { dest: "%{vars.section}" }
    - goto: { label: top, when: "%{vars.again}" }
    - label: top
"#,
    );
    assert_eq!(errors(&text), Vec::<String>::new());
    // Literal values next to templates are still checked.
    let text = main_with("    - tap: { uri: \"%{vars.dest}\", codec: G722 }\n");
    assert_eq!(
        errors(&text),
        vec![r#"sections.main[0].tap.codec: expected one of PCMU, PCMA, found "G722""#]
    );
}

#[test]
fn tap_rules_between_keys() {
    let text = main_with(
        r#"    - tap: { uri: "rtp://example.com:5004", stereo: true, announce: true }
    - tap: { uri: "wss://h/x", direction: BOTH, stereo: true, announce: true, custom_parameters: { a: "b" }, rtp_ptime: "40" }
    - tap: { uri: "ws://h/x", custom_parameters: { a: "b" }, headers: { X: 1 }, reconnect: { attempts: 2 } }
    - tap: { uri: "rtp://300.1.1.1:5004" }
    - tap: { uri: "rtp://1.2.3.4:5004", direction: hear, codec: pcma, max_duration: 60 }
"#,
    );
    assert_eq!(
        errors(&text),
        vec![
            "sections.main[0].tap.stereo: stereo needs direction both, found speak",
            "sections.main[0].tap.announce: announce needs a ws:// or wss:// uri, found an rtp:// uri",
            "sections.main[2].tap.headers.X: expected a string, found 1",
            "sections.main[2].tap.reconnect.max_gap_ms: required key is missing",
            "sections.main[2].tap.custom_parameters: custom_parameters need announce: true",
            r#"sections.main[3].tap.uri: expected rtp://HOST:PORT, ws://… or wss://…, found "rtp://300.1.1.1:5004""#,
        ]
    );
}

#[test]
fn control_flow_shapes() {
    let text = main_with(
        r#"    - label: top
    - label: top
    - cond:
        - else: []
        - when: "true"
          then: []
    - switch: { case: { a: [] } }
    - unset: [a, 5]
    - set: [a]
    - goto: { label: top, max: 1000 }
    - return: { value: 1 }
"#,
    );
    assert_eq!(
        errors(&text),
        vec![
            r#"sections.main[1].label: label "top" is defined twice"#,
            "sections.main[2].cond[0]: else must be the last entry of cond",
            "sections.main[3].switch.variable: required key is missing",
            "sections.main[4].unset[1]: expected a variable name, found 5",
            "sections.main[5].set: expected an object of variables, found a list",
            "sections.main[6].goto.max: expected an integer from 1 to 100, found 1000",
            "sections.main[7].return.value: unknown key, expected one of return_value",
        ]
    );
}

proptest::proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = check(&text);
    }

    #[test]
    fn yaml_looking_soup_never_panics(text in "[a-z:{}\\[\\]&*!|>\\-# \n\"',0-9%]{0,300}") {
        let _ = check(&text);
    }
}

#[test]
fn yaml_budgets_are_named_in_the_error() {
    let deep = format!("{}1{}", "[".repeat(70), "]".repeat(70));
    assert_eq!(
        errors(&format!("a: {deep}\n")),
        vec!["invalid YAML: nests deeper than 64 levels (line 1, column 67)"]
    );
    let anchors: String = (0..=YAML_MAX_ANCHORS)
        .map(|i| format!("k{i}: &a{i} 1\n"))
        .collect();
    assert_eq!(
        errors(&anchors),
        vec!["invalid YAML: more than 1000 anchors (line 1001, column 15)"]
    );
    let nodes = format!("a: [{}]\n", vec!["1"; YAML_MAX_NODES + 1].join(","));
    let got = errors(&nodes);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("invalid YAML: more than 100000 nodes"),
        "{got:?}"
    );
    assert_eq!(
        errors("a: 1\n---\nb: 2\n"),
        vec!["invalid YAML: more than one document (line 2, column 1)"]
    );
}

#[test]
fn alias_limits_are_named_in_the_error() {
    let mut uses = String::from("k: &a 1\n");
    for i in 0..=YAML_MAX_EXPANSIONS_PER_ANCHOR {
        uses.push_str(&format!("r{i}: *a\n"));
    }
    let got = errors(&uses);
    assert_eq!(got.len(), 1);
    assert!(
        got[0]
            .starts_with("invalid YAML: alias expansion limit exceeded for anchor id 1: 101 > 100"),
        "{got:?}"
    );
}

#[test]
fn yaml_just_inside_the_budgets_loads() {
    // 55 levels of nesting inside a step (60 in all) and 99 uses of one anchor load.
    let deep = format!("{}1{}", "[".repeat(55), "]".repeat(55));
    let with_uses = |n: usize| {
        let refs = vec!["*v"; n].join(", ");
        main_with(&format!(
            "    - set: {{ deep: {deep}, v: &v 1, uses: [{refs}] }}\n"
        ))
    };
    assert_eq!(errors(&with_uses(99)), Vec::<String>::new());
    // From 100 aliases on, the ratio to anchors counts.
    let got = errors(&with_uses(100));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with(
            "invalid YAML: 100 aliases for 1 anchors: from 100 aliases on, at most 10 per anchor"
        ),
        "{got:?}"
    );
}

#[test]
fn json_nesting_is_limited_by_the_parser() {
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
    let got = errors(&deep);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("invalid JSON: recursion limit exceeded at line 1 column"),
        "{got:?}"
    );
}
