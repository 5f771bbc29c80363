//! The fuzz body of the control API's request bodies (`fuzz/fuzz_targets/api_body.rs`): any
//! bytes as the body of `POST /api/calling/calls`, through every check that needs no call or
//! node — the envelope, `calling.tap`'s parameters (mapped onto the SWML tap and its checks),
//! `calling.tap.stop`'s and `calling.end`'s, and `dial`'s URIs and document.
//!
//! Beyond "no panic" it asserts the API's promises for bad input: every refusal is a 400 or a
//! 422 (never a 5xx), with a stable code, a message, and an attribute that names a key of the
//! request; and its error body is the spec's `{"errors": [{"code", "message", ...}]}`.

use axum::http::StatusCode;
use serde_json::Value;

use super::ApiError;

/// Runs `data` through the request checks; panics if a promise above breaks.
pub fn body(data: &[u8]) {
    match super::commands::envelope(data) {
        Err(error) => check(&error, &["command", "id", "params", ""]),
        Ok(envelope) => {
            let params = &envelope.params;
            let outcome = match envelope.command.as_str() {
                "calling.tap" => super::tap::params(params).map(drop),
                "dial" => super::commands::dial_checks(params),
                _ => Ok(()),
            };
            if let Err(error) = outcome {
                check(&error, &["params"]);
            }
        }
    }
}

fn check(error: &ApiError, roots: &[&str]) {
    assert!(
        error.status == StatusCode::BAD_REQUEST || error.status == StatusCode::UNPROCESSABLE_ENTITY,
        "bad input answered {}: {error:?}",
        error.status
    );
    assert!(
        !error.code.is_empty() && !error.message.is_empty(),
        "{error:?}"
    );
    if let Some(attribute) = &error.attribute {
        assert!(
            roots
                .iter()
                .any(|root| root.is_empty() || attribute.split('.').next() == Some(root)),
            "attribute {attribute:?} names no part of the request: {error:?}"
        );
    }
    let body = error.body();
    let first = &body["errors"][0];
    assert!(
        matches!(first["code"], Value::String(_)) && matches!(first["message"], Value::String(_)),
        "{body}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bodies_of_each_error_class_keep_the_promises() {
        for input in [
            &b""[..],
            b"not json",
            b"[]",
            b"{\"command\": 5}",
            b"{\"command\": \"calling.tap\"}",
            b"{\"command\": \"calling.tap\", \"id\": \"c\", \"params\": {\"tap\": 1}}",
            b"{\"command\": \"calling.tap\", \"id\": \"c\", \"params\": {\"tap\": {\"type\": \
              \"audio\"}, \"device\": {\"type\": \"rtp\", \"params\": {\"addr\": \"127.0.0.1\", \
              \"port\": 70000}}}}",
            b"{\"command\": \"dial\", \"params\": {\"to\": \"sip:a@127.0.0.1\", \"swml\": \"x: [\"}}",
            b"{\"command\": \"dial\", \"params\": {\"to\": \"sip:a@127.0.0.1\", \"timeout\": 0}}",
            b"{\"command\": \"nope\", \"id\": \"c\"}",
            b"{\"extra\": 1}",
        ] {
            body(input);
        }
    }
}
