//! Variable substitution: `%{path}` and `${…}` in any string of a method's parameters.
//!
//! `%{path}` takes a path (`vars.tap_result`, `call.headers.X-Custom`, `list[0]`); `${…}` takes
//! an expression, of which a plain path is the common case. An unset path, `null`, or an
//! expression that does not parse becomes the empty string; objects become JSON. A text
//! without a closing `}` is kept as written. Results are capped at [`MAX_STRING_LEN`] bytes,
//! so a loop that doubles a variable fails instead of eating the node's memory.

use serde_json::Value;

use crate::error::SwmlError;
use crate::expr::{Expr, MAX_STRING_LEN};
use crate::scope::{Scopes, parse_path};
use crate::value::JsValue;

/// Whether a string holds anything [`substitute`] would replace.
pub fn is_template(text: &str) -> bool {
    text.contains("%{") || text.contains("${")
}

/// Replaces every `%{path}` and `${expression}` in `text`.
pub fn substitute(text: &str, scopes: &Scopes<'_>) -> Result<String, SwmlError> {
    if !is_template(text) {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(['%', '$']) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let sigil = &from[..1];
        let Some(body) = from[1..].strip_prefix('{') else {
            out.push_str(sigil);
            rest = &from[1..];
            continue;
        };
        let Some(end) = body.find('}') else {
            out.push_str(from);
            rest = "";
            break;
        };
        let inner = &body[..end];
        let value = if sigil == "%" {
            parse_path(inner).map_or(JsValue::Undefined, |segments| scopes.lookup(&segments))
        } else {
            Expr::parse(inner)
                .and_then(|e| e.evaluate(scopes))
                .unwrap_or(JsValue::Undefined)
        };
        out.push_str(&value.to_template_string());
        if out.len() > MAX_STRING_LEN {
            return Err(SwmlError::StringTooLong {
                max: MAX_STRING_LEN,
            });
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    if out.len() > MAX_STRING_LEN {
        return Err(SwmlError::StringTooLong {
            max: MAX_STRING_LEN,
        });
    }
    Ok(out)
}

/// Substitutes every string inside a JSON value (object keys are kept as written).
pub fn substitute_value(value: &Value, scopes: &Scopes<'_>) -> Result<Value, SwmlError> {
    Ok(match value {
        Value::String(s) => Value::String(substitute(s, scopes)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| substitute_value(v, scopes))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute_value(v, scopes)?)))
                .collect::<Result<_, SwmlError>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn run(text: &str) -> String {
        let call = json!({"from": "sip:alice@example.com", "headers": {"X-Id": "42"}});
        let vars = json!({"tap_result": "success", "n": 3, "obj": {"a": [1, 2]}, "nul": null});
        let vars = vars.as_object().expect("an object");
        let envs = json!({"region": "eu"});
        let params = json!({"who": "bob"});
        let scopes = Scopes {
            call: &call,
            vars,
            params: &params,
            envs: &envs,
        };
        substitute(text, &scopes).expect("substitutes")
    }

    #[test]
    fn paths_and_expressions_are_replaced() {
        assert_eq!(run("r=%{vars.tap_result}"), "r=success");
        assert_eq!(
            run("%{tap_result}/%{region}/%{from}"),
            "success/eu/sip:alice@example.com"
        );
        assert_eq!(run("${vars.n}"), "3");
        assert_eq!(run("${n + 1}"), "4");
        assert_eq!(run("%{call.headers.X-Id}"), "42");
        assert_eq!(run("%{obj.a[1]}"), "2");
        assert_eq!(run("%{obj}"), r#"{"a":[1,2]}"#);
        assert_eq!(run("%{params.who}"), "bob");
        assert_eq!(run("[%{unset}][%{nul}][${nope.deeper}]"), "[][][]");
        assert_eq!(run("100% sure, $5, %{open"), "100% sure, $5, %{open");
        assert_eq!(run("no template"), "no template");
    }

    #[test]
    fn growth_is_capped() {
        let big = "x".repeat(MAX_STRING_LEN / 2 + 1);
        let vars = json!({"big": big});
        let vars = vars.as_object().expect("an object");
        let scopes = Scopes {
            call: &Value::Null,
            vars,
            params: &Value::Null,
            envs: &Value::Null,
        };
        assert!(matches!(
            substitute("%{big}%{big}", &scopes),
            Err(SwmlError::StringTooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,100}") {
            let vars = serde_json::Map::new();
            let scopes = Scopes { call: &Value::Null, vars: &vars, params: &Value::Null, envs: &Value::Null };
            let _ = substitute(&text, &scopes);
        }
    }
}
