//! Bodies for fuzz targets, so that a target outside the workspace is one line and the checks
//! live beside the code they check.
//!
//! Each takes arbitrary bytes; a document or expression that does not parse or validate is an
//! ordinary outcome. A panic, or a broken promise checked here, is a bug in this crate.

use serde_json::{Map, Value, json};

use crate::error::SwmlError;
use crate::expr::{Expr, MAX_EXPRESSION_LEN, MAX_STRING_LEN};
use crate::load::{MAX_DOCUMENT_LEN, check, parse_text};
use crate::scope::Scopes;
use crate::template::substitute;
use crate::value::JsValue;

/// Checks `data` as a JSON document (text starting with `{`; anything else is ignored).
///
/// A failed check reports at least one problem, each with a message; a document that checks
/// reads back the same after a round trip through `serde_json`.
///
/// # Panics
///
/// Only when one of those promises does not hold.
pub fn json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if !text.trim_start().starts_with('{') {
        return;
    }
    let Some(document) = checked(text) else {
        return;
    };
    let value: Value = serde_json::from_str(text).expect("a checked JSON document is JSON");
    let again = value.to_string();
    assert_eq!(
        check(&again).ok(),
        Some(document),
        "the same JSON written again checks to another document"
    );
}

/// Checks `data` as a YAML document (text not starting with `{`; anything else is ignored).
///
/// As [`json()`]; in addition, a YAML document that checks gives the same document when the
/// value it parsed to is written as JSON: the two forms are one model.
///
/// # Panics
///
/// Only when one of those promises does not hold.
pub fn yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.trim_start().starts_with('{') {
        return;
    }
    let Some(document) = checked(text) else {
        return;
    };
    let value = parse_text(text).expect("a checked YAML document parses");
    let as_json = value.to_string();
    assert_eq!(
        check(&as_json).ok(),
        Some(document),
        "a YAML document and its JSON form check to different documents"
    );
}

/// Runs [`check`]; `None` when it fails, after checking the failure.
fn checked(text: &str) -> Option<crate::Document> {
    match check(text) {
        Ok(document) => {
            assert!(
                document.section("main").is_some(),
                "a document without main"
            );
            Some(document)
        }
        Err(errors) => {
            assert!(!errors.is_empty(), "a failed check with no problem named");
            for error in &errors {
                assert!(!error.to_string().is_empty(), "a problem without a message");
            }
            if text.len() > MAX_DOCUMENT_LEN {
                assert_eq!(errors.len(), 1, "an oversized document was read");
            }
            None
        }
    }
}

/// Parses `data` as an expression and evaluates it against a fixed set of scopes; then uses it
/// inside `${…}` and `%{…}` substitutions.
///
/// An expression longer than [`MAX_EXPRESSION_LEN`] is refused as too long; evaluation of a
/// parsed one gives a value or refuses a string over [`MAX_STRING_LEN`], and gives the same
/// answer twice; substitution never gives a string over the limit.
///
/// # Panics
///
/// Only when one of those promises does not hold.
pub fn expression(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (call, vars, params, envs) = scope_values();
    let scopes = Scopes {
        call: &call,
        vars: &vars,
        params: &params,
        envs: &envs,
    };
    let too_long = text.chars().count() > MAX_EXPRESSION_LEN;
    match Expr::parse(text) {
        Ok(expr) => {
            assert!(!too_long, "parsed an expression over the length limit");
            let first = expr.evaluate(&scopes);
            match &first {
                Ok(JsValue::String(s)) => assert!(
                    s.len() <= MAX_STRING_LEN,
                    "evaluated to a string of {} bytes",
                    s.len()
                ),
                Ok(_) | Err(SwmlError::StringTooLong { .. }) => {}
                Err(other) => panic!("evaluation failed with {other:?}"),
            }
            let second = expr.evaluate(&scopes);
            assert_eq!(
                format!("{first:?}"),
                format!("{second:?}"),
                "two evaluations differ"
            );
        }
        Err(SwmlError::ExpressionTooLong { len, max }) => {
            assert!(too_long, "refused as too long at {len} characters");
            assert_eq!(max, MAX_EXPRESSION_LEN);
        }
        Err(_) => assert!(!too_long, "an overlong expression not refused as too long"),
    }
    for template in [
        format!("${{{text}}}"),
        format!("x%{{{text}}}y"),
        text.to_owned(),
    ] {
        match substitute(&template, &scopes) {
            Ok(out) => assert!(
                out.len() <= MAX_STRING_LEN,
                "substituted {} bytes",
                out.len()
            ),
            Err(SwmlError::StringTooLong { .. }) => {}
            Err(other) => panic!("substitution failed with {other:?}"),
        }
    }
}

/// The scopes expressions are evaluated against: what a call has after a `request`.
fn scope_values() -> (Value, Map<String, Value>, Value, Value) {
    let call = json!({
        "call_id": "a84b4c76e66710",
        "from": "sip:alice@127.0.0.1",
        "to": "sip:earshot@127.0.0.1",
        "direction": "inbound",
        "headers": {"X-Customer": "42", "User-Agent": "SIPp"},
    });
    let Value::Object(vars) = json!({
        "tap_result": "success",
        "count": 3,
        "ratio": 0.5,
        "flag": true,
        "nothing": null,
        "list": [1, "two", {"three": 3}, [4]],
        "request_response": {"status": 200, "body": {"ok": true, "items": ["a", "b"]}},
        "long": "x".repeat(MAX_STRING_LEN / 2),
    }) else {
        unreachable!("a JSON object literal")
    };
    let params = json!({"to": "+15551234567", "retries": 2});
    let envs = json!({"region": "eu", "debug": false});
    (call, vars, params, envs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_from_the_guide_pass_the_checks() {
        let json_doc = r#"{"version":"1.0.0","sections":{"main":[{"answer":{}},{"hangup":{}}]}}"#;
        let yaml_doc = "version: 1.0.0\nsections:\n  main:\n    - answer: {}\n    - hangup: {}\n";
        assert_eq!(check(json_doc).ok(), check(yaml_doc).ok());
        assert!(check(json_doc).is_ok());
        json(json_doc.as_bytes());
        yaml(yaml_doc.as_bytes());
        yaml(b"a: &x [*x]");
        // A float that best-effort JSON parsing reads one unit in the last place off.
        let precise =
            "version: 1.0.0\nsections:\n  main:\n    - set: { x: 1.0498824276453545e74 }\n";
        assert!(check(precise).is_ok());
        yaml(precise.as_bytes());
        json(b"{");
        yaml(b"\xff");
    }

    #[test]
    fn expressions_pass_the_checks() {
        for e in [
            "vars.count + 1 > 3 && call.headers['X-Customer'] == '42'",
            "long + long + long",
            "list[2].three * -ratio",
            "((((((1))))))",
            "'unterminated",
            "",
        ] {
            expression(e.as_bytes());
        }
        expression("1+".repeat(MAX_EXPRESSION_LEN).as_bytes());
    }
}
