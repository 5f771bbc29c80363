//! [`Scopes`]: the four places a path can name — `call` (read-only), `vars`, `params` and
//! `envs` — and how a path walks into objects and arrays.
//!
//! A bare first name (`tap_result`) that is not a scope means `vars`, then `envs`, then
//! `call`. A path that leads nowhere is `undefined`, never an error.

use serde_json::{Map, Value};

use crate::value::JsValue;

/// Borrowed views of the four scopes, for one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Scopes<'a> {
    /// The call's facts (`call_id`, `from`, `to`, `headers`, …); read-only.
    pub call: &'a Value,
    /// The call's variables: what `set` writes and what methods output.
    pub vars: &'a Map<String, Value>,
    /// The current section's parameters from `execute`.
    pub params: &'a Value,
    /// Values configured on the node.
    pub envs: &'a Value,
}

impl Scopes<'_> {
    /// The value of a path's first name.
    pub fn root(&self, name: &str) -> JsValue {
        match name {
            "call" => JsValue::from_json(self.call),
            "vars" => JsValue::Object(Value::Object(self.vars.clone())),
            "params" => JsValue::from_json(self.params),
            "envs" => JsValue::from_json(self.envs),
            _ => self
                .vars
                .get(name)
                .or_else(|| self.envs.get(name))
                .or_else(|| self.call.get(name))
                .map_or(JsValue::Undefined, JsValue::from_json),
        }
    }

    /// The value at a path of names and indexes, without cloning the scopes.
    pub(crate) fn lookup(&self, segments: &[Segment<'_>]) -> JsValue {
        let Some((Segment::Name(first), rest)) = segments.split_first() else {
            return JsValue::Undefined;
        };
        let start: Option<&Value> = match *first {
            "call" => Some(self.call),
            "params" => Some(self.params),
            "envs" => Some(self.envs),
            "vars" => {
                return match rest.split_first() {
                    None => self.root("vars"),
                    Some((seg, more)) => match self.vars.get(&seg.key()) {
                        Some(v) => walk(v, more),
                        None => JsValue::Undefined,
                    },
                };
            }
            name => self
                .vars
                .get(name)
                .or_else(|| self.envs.get(name))
                .or_else(|| self.call.get(name)),
        };
        start.map_or(JsValue::Undefined, |v| walk(v, rest))
    }
}

/// One step of a path: `.name` or `[index]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment<'a> {
    Name(&'a str),
    Index(usize),
}

impl Segment<'_> {
    fn key(&self) -> String {
        match self {
            Self::Name(n) => (*n).to_owned(),
            Self::Index(i) => i.to_string(),
        }
    }
}

fn walk(start: &Value, segments: &[Segment<'_>]) -> JsValue {
    let mut at = start;
    for seg in segments {
        let next = match (at, seg) {
            (Value::Object(map), seg) => map.get(&seg.key()),
            (Value::Array(items), Segment::Index(i)) => items.get(*i),
            (Value::Array(items), Segment::Name(n)) => match n.parse::<usize>() {
                Ok(i) => items.get(i),
                Err(_) => {
                    return property(&JsValue::from_json(at), &JsValue::String((*n).to_owned()));
                }
            },
            (other, seg) => {
                return property(&JsValue::from_json(other), &JsValue::String(seg.key()));
            }
        };
        match next {
            Some(v) => at = v,
            None => return JsValue::Undefined,
        }
    }
    JsValue::from_json(at)
}

/// `object[key]` / `object.key`: object members, array elements, and `length` of strings
/// and arrays; anything else is `undefined`.
pub(crate) fn property(object: &JsValue, key: &JsValue) -> JsValue {
    let key_text = key.to_js_string();
    match object {
        JsValue::Object(Value::Object(map)) => map
            .get(&key_text)
            .map_or(JsValue::Undefined, JsValue::from_json),
        JsValue::Object(Value::Array(items)) => {
            if key_text == "length" {
                #[allow(clippy::cast_precision_loss, reason = "lengths are far below 2^53")]
                return JsValue::Number(items.len() as f64);
            }
            key_text
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .map_or(JsValue::Undefined, JsValue::from_json)
        }
        JsValue::String(s) => {
            if key_text == "length" {
                #[allow(clippy::cast_precision_loss, reason = "lengths are far below 2^53")]
                return JsValue::Number(s.encode_utf16().count() as f64);
            }
            key_text
                .parse::<usize>()
                .ok()
                .and_then(|i| s.chars().nth(i))
                .map_or(JsValue::Undefined, |c| JsValue::String(c.to_string()))
        }
        _ => JsValue::Undefined,
    }
}

/// Splits a `%{…}` path: `vars.list[0].name`, `call.headers.X-Custom`. Names may hold any
/// character but `.`, `[` and `]`; returns `None` when the path is malformed.
pub(crate) fn parse_path(path: &str) -> Option<Vec<Segment<'_>>> {
    let path = path.trim();
    let mut segments = Vec::new();
    let mut rest = path;
    let mut expect_name = true;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let (index, tail) = after.split_once(']')?;
            let index = index.trim().trim_matches(|c| c == '"' || c == '\'');
            segments.push(match index.parse::<usize>() {
                Ok(i) => Segment::Index(i),
                Err(_) => Segment::Name(index),
            });
            rest = tail;
            expect_name = false;
        } else if let Some(after) = rest.strip_prefix('.') {
            if expect_name {
                return None;
            }
            rest = after;
            expect_name = true;
        } else {
            if !expect_name {
                return None;
            }
            let end = rest.find(['.', '[', ']']).unwrap_or(rest.len());
            if end == 0 {
                return None;
            }
            segments.push(Segment::Name(&rest[..end]));
            rest = &rest[end..];
            expect_name = false;
        }
    }
    if expect_name || !matches!(segments.first(), Some(Segment::Name(_))) {
        return None;
    }
    Some(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bare_names_look_in_vars_then_envs_then_call() {
        let call = json!({"from": "sip:a@b", "x": "call"});
        let envs = json!({"x": "envs", "y": "envs"});
        let vars = json!({"x": "vars"});
        let vars = vars.as_object().expect("an object");
        let params = json!({});
        let s = Scopes {
            call: &call,
            vars,
            params: &params,
            envs: &envs,
        };
        let get = |p: &str| {
            s.lookup(&parse_path(p).expect("a path"))
                .to_template_string()
        };
        assert_eq!(get("x"), "vars");
        assert_eq!(get("y"), "envs");
        assert_eq!(get("from"), "sip:a@b");
        assert_eq!(get("call.x"), "call");
        assert_eq!(get("nothing.deeper"), "");
    }

    #[test]
    fn paths_walk_objects_and_arrays() {
        let call = json!({"headers": {"X-Custom": "v"}});
        let vars = json!({"list": [{"name": "a"}, {"name": "b"}]});
        let vars = vars.as_object().expect("an object");
        let s = Scopes {
            call: &call,
            vars,
            params: &Value::Null,
            envs: &Value::Null,
        };
        let get = |p: &str| {
            s.lookup(&parse_path(p).expect("a path"))
                .to_template_string()
        };
        assert_eq!(get("vars.list[1].name"), "b");
        assert_eq!(get("list.0.name"), "a");
        assert_eq!(get("call.headers.X-Custom"), "v");
        assert_eq!(get("vars.list.length"), "2");
        assert_eq!(get("vars.list[5].name"), "");
        for bad in ["", ".a", "a..b", "a[1", "[0]", "a.", "a]"] {
            assert!(parse_path(bad).is_none(), "{bad:?}");
        }
    }
}
