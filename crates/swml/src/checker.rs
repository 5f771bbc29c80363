//! [`Checker`]: collects every [`ValidationError`] of a document or of one method's
//! parameters, instead of stopping at the first.
//!
//! The same checks run twice. When a document loads ([`Mode::Load`]), a string holding
//! `%{…}` or `${…}` is accepted for any key, since only the call will know its value. When a
//! method runs ([`Mode::Run`]), its parameters have been substituted and every value must be
//! valid.

use serde_json::{Map, Value};

use crate::error::ValidationError;
use crate::template::is_template;

/// When the checks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Load,
    Run,
}

/// Collects findings; each getter returns `None` when the value is absent, invalid, or a
/// template not yet known (at load).
#[derive(Debug)]
pub(crate) struct Checker {
    pub(crate) mode: Mode,
    pub(crate) errors: Vec<ValidationError>,
}

/// How a value is named in a message: `"speek"`, `5`, `a list`.
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut shown: String = s.chars().take(64).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("{shown:?}")
        }
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

pub(crate) fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl Checker {
    pub(crate) fn new(mode: Mode) -> Self {
        Self {
            mode,
            errors: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(ValidationError::new(path, message));
    }

    pub(crate) fn expected(&mut self, path: &str, what: &str, found: &Value) {
        self.error(path, format!("expected {what}, found {}", describe(found)));
    }

    /// A string that will only be known at run time.
    pub(crate) fn deferred(&self, v: &Value) -> bool {
        self.mode == Mode::Load && v.as_str().is_some_and(is_template)
    }

    /// An object whose keys are all in `allowed`; unknown keys are reported.
    pub(crate) fn object<'v>(
        &mut self,
        path: &str,
        v: &'v Value,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Value::Object(map) = v else {
            self.expected(path, "an object", v);
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.error(
                    &join_path(path, key),
                    format!("unknown key, expected one of {}", allowed.join(", ")),
                );
            }
        }
        Some(map)
    }

    pub(crate) fn required<'v>(
        &mut self,
        path: &str,
        map: &'v Map<String, Value>,
        key: &str,
    ) -> Option<&'v Value> {
        let v = map.get(key);
        if v.is_none() {
            self.error(&join_path(path, key), "required key is missing");
        }
        v
    }

    pub(crate) fn string(&mut self, path: &str, v: &Value) -> Option<String> {
        if self.deferred(v) {
            return None;
        }
        match v {
            Value::String(s) => Some(s.clone()),
            other => {
                self.expected(path, "a string", other);
                None
            }
        }
    }

    pub(crate) fn non_empty_string(&mut self, path: &str, v: &Value) -> Option<String> {
        let s = self.string(path, v)?;
        if s.is_empty() {
            self.expected(path, "a non-empty string", v);
            return None;
        }
        Some(s)
    }

    /// An integer in `min..=max`, or a string holding one (what substitution produces).
    pub(crate) fn integer(&mut self, path: &str, v: &Value, min: i64, max: i64) -> Option<i64> {
        if self.deferred(v) {
            return None;
        }
        let n = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.expected(path, &format!("an integer from {min} to {max}"), v);
                None
            }
        }
    }

    /// A non-negative number of seconds (fractions allowed) up to `max`.
    pub(crate) fn seconds(&mut self, path: &str, v: &Value, max: f64) -> Option<f64> {
        if self.deferred(v) {
            return None;
        }
        let n = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n.is_finite() && (0.0..=max).contains(&n) => Some(n),
            _ => {
                self.expected(path, &format!("a number of seconds from 0 to {max}"), v);
                None
            }
        }
    }

    /// `true`/`false`, or the string `"true"`/`"false"`.
    pub(crate) fn boolean(&mut self, path: &str, v: &Value) -> Option<bool> {
        if self.deferred(v) {
            return None;
        }
        match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            other => {
                self.expected(path, "true or false", other);
                None
            }
        }
    }

    /// One of `choices`, case-insensitively; returns the index of the match in `choices`.
    /// `shown` is what the message lists (aliases may be left out).
    pub(crate) fn one_of(
        &mut self,
        path: &str,
        v: &Value,
        choices: &[&str],
        shown: &[&str],
    ) -> Option<usize> {
        if self.deferred(v) {
            return None;
        }
        let found = v.as_str().and_then(|s| {
            choices
                .iter()
                .position(|c| c.eq_ignore_ascii_case(s.trim()))
        });
        if found.is_none() {
            self.expected(path, &format!("one of {}", shown.join(", ")), v);
        }
        found
    }

    /// An object of string values (HTTP headers, custom parameters).
    pub(crate) fn string_map(&mut self, path: &str, v: &Value) -> Option<Vec<(String, String)>> {
        if self.deferred(v) {
            return None;
        }
        let Value::Object(map) = v else {
            self.expected(path, "an object of strings", v);
            return None;
        };
        let mut out = Vec::with_capacity(map.len());
        for (k, val) in map {
            if let Some(s) = self.string(&join_path(path, k), val) {
                out.push((k.clone(), s));
            }
        }
        Some(out)
    }

    /// An `http://` or `https://` URL.
    pub(crate) fn http_url(&mut self, path: &str, v: &Value) -> Option<String> {
        let s = self.string(path, v)?;
        if has_host(&s, &["http://", "https://"]) {
            Some(s)
        } else {
            self.expected(path, "an http:// or https:// URL", v);
            None
        }
    }
}

/// Whether `s` starts with one of the schemes (case-insensitive) and names a host.
pub(crate) fn has_host(s: &str, schemes: &[&str]) -> bool {
    schemes.iter().any(|scheme| {
        s.get(..scheme.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
            && s[scheme.len()..]
                .split(['/', '?', '#'])
                .next()
                .is_some_and(|authority| {
                    let host = authority.rsplit('@').next().unwrap_or(authority);
                    !host.is_empty()
                        && !host.starts_with(':')
                        && !host.contains(char::is_whitespace)
                })
    })
}
