//! Loading: text (JSON or YAML) → one JSON value → a validated [`Document`].
//!
//! YAML goes through `serde-saphyr` with strict booleans (`on` stays a string), a parse
//! budget, and alias-replay limits, so an alias bomb is refused instead of expanded. JSON is
//! chosen when the text starts with `{`. Validation is complete: every problem in the whole
//! document is reported, each with its path, before anything runs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::Value;

use crate::checker::{Checker, Mode, describe, join_path};
use crate::document::{Condition, Document, Method, Step, StepKind, Steps};
use crate::error::ValidationError;
use crate::expr::Expr;
use crate::params;
use crate::template::is_template;

/// The largest document accepted, in bytes.
pub const MAX_DOCUMENT_LEN: usize = 1024 * 1024;

/// The deepest nesting of `cond`/`switch` blocks accepted.
const MAX_BLOCK_DEPTH: usize = 32;

/// YAML budgets: the most nesting of sequences and mappings,
pub const YAML_MAX_DEPTH: usize = 64;
/// … parser events,
pub const YAML_MAX_EVENTS: usize = 200_000;
/// … nodes,
pub const YAML_MAX_NODES: usize = 100_000;
/// … anchors (`&a`) and aliases (`*a`),
pub const YAML_MAX_ANCHORS: usize = 1_000;
/// … uses of any one anchor,
pub const YAML_MAX_EXPANSIONS_PER_ANCHOR: usize = 100;
/// … and events replayed by all aliases together (what an alias bomb multiplies).
pub const YAML_MAX_REPLAYED_EVENTS: usize = 100_000;

const METHODS: [&str; 17] = [
    "answer", "hangup", "play", "sleep", "set", "unset", "goto", "label", "cond", "switch",
    "execute", "return", "transfer", "request", "connect", "tap", "stop_tap",
];

/// Parses and validates a document; on failure, every problem found.
///
/// The format is JSON when the text (after leading whitespace) starts with `{`, else YAML.
pub fn check(text: &str) -> Result<Document, Vec<ValidationError>> {
    let value = parse_text(text).map_err(|e| vec![e])?;
    Document::from_value(&value)
}

pub(crate) fn parse_text(text: &str) -> Result<Value, ValidationError> {
    if text.len() > MAX_DOCUMENT_LEN {
        return Err(ValidationError::new(
            "",
            format!(
                "document is {} bytes long, at most {MAX_DOCUMENT_LEN} are allowed",
                text.len()
            ),
        ));
    }
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text)
            .map_err(|e| ValidationError::new("", format!("invalid JSON: {e}")))
    } else {
        let options = serde_saphyr::options! {
            strict_booleans: true,
            with_snippet: false,
            budget: serde_saphyr::budget! {
                max_events: YAML_MAX_EVENTS,
                max_aliases: YAML_MAX_ANCHORS,
                max_anchors: YAML_MAX_ANCHORS,
                max_depth: YAML_MAX_DEPTH,
                max_nodes: YAML_MAX_NODES,
                max_documents: 1,
                max_total_scalar_bytes: MAX_DOCUMENT_LEN,
            },
            alias_limits: serde_saphyr::alias_limits! {
                max_total_replayed_events: YAML_MAX_REPLAYED_EVENTS,
                max_replay_stack_depth: 16,
                max_alias_expansions_per_anchor: YAML_MAX_EXPANSIONS_PER_ANCHOR,
            },
        };
        serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| {
            let message = match (budget_breach(&e), e.location()) {
                (Some(limit), Some(at)) => format!(
                    "invalid YAML: {limit} (line {}, column {})",
                    at.line(),
                    at.column()
                ),
                (Some(limit), None) => format!("invalid YAML: {limit}"),
                (None, _) => format!("invalid YAML: {e}"),
            };
            ValidationError::new("", message)
        })
    }
}

/// The budget a YAML text broke, named with its value; `None` for other errors (whose own
/// message, like the alias limits', already says what was exceeded).
fn budget_breach(error: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach as B;
    let serde_saphyr::Error::Budget { breach, .. } = error else {
        return None;
    };
    Some(match breach {
        B::Depth { .. } => format!("nests deeper than {YAML_MAX_DEPTH} levels"),
        B::Events { .. } => format!("more than {YAML_MAX_EVENTS} parser events"),
        B::Nodes { .. } => format!("more than {YAML_MAX_NODES} nodes"),
        B::Anchors { .. } => format!("more than {YAML_MAX_ANCHORS} anchors"),
        B::Aliases { .. } => format!("more than {YAML_MAX_ANCHORS} aliases"),
        B::AliasAnchorRatio { aliases, anchors } => format!(
            "{aliases} aliases for {anchors} anchors: from 100 aliases on, at most 10 per anchor"
        ),
        B::Documents { .. } => "more than one document".to_owned(),
        B::ScalarBytes { .. } => {
            format!("scalars add up to more than {MAX_DOCUMENT_LEN} bytes")
        }
        other => format!("a parse budget was exceeded: {other:?}"),
    })
}

impl Document {
    /// Validates a document already parsed into JSON.
    pub fn from_value(value: &Value) -> Result<Self, Vec<ValidationError>> {
        let mut c = Checker::new(Mode::Load);
        let mut sections = BTreeMap::new();
        if let Some(top) = c.object("", value, &["version", "sections"]) {
            match top.get("version") {
                Some(Value::String(v)) if v == "1.0.0" => {}
                Some(other) => c.expected("version", "\"1.0.0\"", other),
                None => c.error("version", "required key is missing"),
            }
            if let Some(raw) = c.required("", top, "sections") {
                if let Value::Object(raw) = raw {
                    if !raw.contains_key("main") {
                        c.error("sections.main", "required key is missing");
                    }
                    let mut loader = Loader::new(c, raw);
                    for (name, steps) in raw {
                        let path = format!("sections.{name}");
                        let list = loader.steps(&path, steps, name, 0);
                        sections.insert(name.clone(), list);
                    }
                    c = loader.c;
                } else {
                    c.expected("sections", "an object of sections", raw);
                }
            }
        }
        if c.errors.is_empty() {
            Ok(Self { sections })
        } else {
            Err(c.errors)
        }
    }
}

struct Loader<'v> {
    c: Checker,
    sections: BTreeSet<&'v str>,
    labels: BTreeMap<&'v str, BTreeSet<&'v str>>,
}

impl<'v> Loader<'v> {
    fn new(c: Checker, raw: &'v serde_json::Map<String, Value>) -> Self {
        let sections = raw.keys().map(String::as_str).collect();
        let labels = raw
            .iter()
            .map(|(name, steps)| {
                let labels = steps
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter_map(|s| s.get("label").and_then(Value::as_str))
                            .collect()
                    })
                    .unwrap_or_default();
                (name.as_str(), labels)
            })
            .collect();
        Self {
            c,
            sections,
            labels,
        }
    }

    fn steps(&mut self, path: &str, v: &Value, section: &str, depth: usize) -> Steps {
        let Value::Array(items) = v else {
            self.c.expected(path, "a list of steps", v);
            return Arc::from(Vec::new());
        };
        if depth > MAX_BLOCK_DEPTH {
            self.c.error(
                path,
                format!("blocks nest deeper than {MAX_BLOCK_DEPTH} levels"),
            );
            return Arc::from(Vec::new());
        }
        let mut seen_labels = BTreeSet::new();
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let step_path = format!("{path}[{i}]");
            if let Some(step) = self.step(&step_path, item, section, depth) {
                if let StepKind::Label(label) = &step.kind
                    && !seen_labels.insert(label.clone())
                {
                    self.c.error(
                        &join_path(&step_path, "label"),
                        format!("label {label:?} is defined twice"),
                    );
                }
                out.push(step);
            }
        }
        Arc::from(out)
    }

    fn step(&mut self, path: &str, v: &Value, section: &str, depth: usize) -> Option<Step> {
        let (name, params) = match v {
            Value::String(name) => (name.as_str(), &Value::Null),
            Value::Object(map) if map.len() == 1 => {
                let (name, params) = map.iter().next()?;
                (name.as_str(), params)
            }
            Value::Object(map) => {
                self.c.error(
                    path,
                    format!(
                        "expected a step (one method and its parameters), found {} keys",
                        map.len()
                    ),
                );
                return None;
            }
            other => {
                self.c
                    .expected(path, "a step (one method and its parameters)", other);
                return None;
            }
        };
        let bare = matches!(v, Value::String(_));
        let at = join_path(path, name);
        if !METHODS.contains(&name) {
            self.c.error(
                &at,
                format!("unknown method, expected one of {}", METHODS.join(", ")),
            );
            return None;
        }
        if bare && !["answer", "hangup", "stop_tap", "return"].contains(&name) {
            self.c.error(path, format!("{name} needs parameters"));
            return None;
        }
        let method = match name {
            "answer" => Some(Method::Answer),
            "hangup" => Some(Method::Hangup),
            "play" => Some(Method::Play),
            "sleep" => Some(Method::Sleep),
            "request" => Some(Method::Request),
            "connect" => Some(Method::Connect),
            "tap" => Some(Method::Tap),
            "stop_tap" => Some(Method::StopTap),
            _ => None,
        };
        let kind = if let Some(method) = method {
            let before = self.c.errors.len();
            let _ = params::check(&mut self.c, method, &at, params);
            if self.c.errors.len() > before {
                return None;
            }
            StepKind::Method {
                method,
                params: params.clone(),
            }
        } else {
            self.control(name, &at, params, section, depth)?
        };
        Some(Step {
            path: path.to_owned(),
            kind,
        })
    }

    fn condition(&mut self, path: &str, v: &Value) -> Option<Condition> {
        let source = match v {
            Value::String(s) => s.clone(),
            // `when: true` and numbers are expressions too.
            Value::Bool(_) | Value::Number(_) => v.to_string(),
            other => {
                self.c.expected(path, "an expression", other);
                return None;
            }
        };
        if is_template(&source) {
            return Some(Condition {
                source,
                parsed: None,
            });
        }
        match Expr::parse(&source) {
            Ok(e) => Some(Condition {
                source,
                parsed: Some(e),
            }),
            Err(e) => {
                self.c.error(path, format!("invalid expression: {e}"));
                None
            }
        }
    }

    fn dest(&mut self, path: &str, v: &Value) -> Option<String> {
        let dest = self.c.non_empty_string(path, v);
        if let Some(d) = &dest {
            let lower = d.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                self.c.http_url(path, v)?;
            } else if !is_template(d) && !self.sections.contains(d.as_str()) {
                let names: Vec<&str> = self.sections.iter().copied().collect();
                self.c.error(
                    path,
                    format!(
                        "expected a section ({}) or an http(s) URL, found {}",
                        names.join(", "),
                        describe(v)
                    ),
                );
                return None;
            }
        }
        if self.c.deferred(v) {
            return v.as_str().map(str::to_owned);
        }
        dest
    }

    fn control(
        &mut self,
        name: &str,
        at: &str,
        v: &Value,
        section: &str,
        depth: usize,
    ) -> Option<StepKind> {
        let c = &mut self.c;
        Some(match name {
            "set" => {
                let Value::Object(map) = v else {
                    c.expected(at, "an object of variables", v);
                    return None;
                };
                if map.keys().any(String::is_empty) {
                    c.error(at, "variable names must not be empty");
                    return None;
                }
                StepKind::Set(map.clone())
            }
            "unset" => match v {
                Value::String(s) if !s.is_empty() => StepKind::Unset(vec![s.clone()]),
                Value::Array(items) => {
                    let mut names = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        let p = format!("{at}[{i}]");
                        match item {
                            Value::String(s) if !s.is_empty() => names.push(s.clone()),
                            other => c.expected(&p, "a variable name", other),
                        }
                    }
                    StepKind::Unset(names)
                }
                other => {
                    c.expected(at, "a variable name or a list of names", other);
                    return None;
                }
            },
            "label" => {
                let label = c.non_empty_string(at, v).or_else(|| {
                    if c.deferred(v) {
                        c.error(at, "labels are written literally, without %{…}");
                    }
                    None
                })?;
                StepKind::Label(label)
            }
            "goto" => {
                let map = c.object(at, v, &["label", "when", "max"])?;
                let label = c
                    .required(at, map, "label")
                    .and_then(|l| c.non_empty_string(&join_path(at, "label"), l));
                let max = match map.get("max") {
                    None => Some(100),
                    Some(m) => c.integer(&join_path(at, "max"), m, 1, 100),
                };
                let when = map.get("when").map(|w| (w, join_path(at, "when")));
                if let Some(l) = &label {
                    let known = self
                        .labels
                        .get(section)
                        .is_some_and(|ls| ls.contains(l.as_str()));
                    if !known {
                        self.c.error(
                            &join_path(at, "label"),
                            format!("expected a label of section {section}, found {l:?}"),
                        );
                    }
                }
                let when = match when {
                    None => None,
                    Some((w, p)) => Some(self.condition(&p, w)?),
                };
                StepKind::Goto {
                    label: label?,
                    when,
                    max: u32::try_from(max?).ok()?,
                }
            }
            "cond" => {
                let Value::Array(items) = v else {
                    c.expected(at, "a list of {when, then} and a last {else}", v);
                    return None;
                };
                let mut branches = Vec::new();
                let mut otherwise = None;
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{at}[{i}]");
                    let Some(map) = self.c.object(&p, item, &["when", "then", "else"]) else {
                        continue;
                    };
                    if let Some(e) = map.get("else") {
                        if map.len() > 1 {
                            self.c
                                .error(&p, "expected {else} alone, found other keys with it");
                        }
                        if i + 1 != items.len() {
                            self.c.error(&p, "else must be the last entry of cond");
                        }
                        otherwise = Some(self.steps(&join_path(&p, "else"), e, section, depth + 1));
                        continue;
                    }
                    let when = self.c.required(&p, map, "when");
                    let then = self.c.required(&p, map, "then");
                    let when = when.and_then(|w| self.condition(&join_path(&p, "when"), w));
                    let then =
                        then.map(|t| self.steps(&join_path(&p, "then"), t, section, depth + 1));
                    if let (Some(w), Some(t)) = (when, then) {
                        branches.push((w, t));
                    }
                }
                StepKind::Cond {
                    branches,
                    otherwise,
                }
            }
            "switch" => {
                let map = c.object(at, v, &["variable", "case", "default"])?;
                let variable = c.required(at, map, "variable");
                let variable =
                    variable.and_then(|var| self.condition(&join_path(at, "variable"), var));
                let mut cases = Vec::new();
                if let Some(case) = map.get("case") {
                    let p = join_path(at, "case");
                    match case {
                        Value::Object(entries) => {
                            for (key, steps) in entries {
                                let list =
                                    self.steps(&join_path(&p, key), steps, section, depth + 1);
                                cases.push((key.clone(), list));
                            }
                        }
                        other => self.c.expected(&p, "an object of step lists", other),
                    }
                }
                let default = map
                    .get("default")
                    .map(|d| self.steps(&join_path(at, "default"), d, section, depth + 1));
                StepKind::Switch {
                    variable: variable?,
                    cases,
                    default,
                }
            }
            "execute" => {
                let map = c.object(at, v, &["dest", "params"])?;
                let dest = c.required(at, map, "dest");
                let params = match map.get("params") {
                    None | Some(Value::Null) => Value::Object(serde_json::Map::new()),
                    Some(p @ Value::Object(_)) => p.clone(),
                    Some(other) => {
                        c.expected(&join_path(at, "params"), "an object", other);
                        return None;
                    }
                };
                let dest = dest.and_then(|d| self.dest(&join_path(at, "dest"), d))?;
                StepKind::Execute { dest, params }
            }
            "transfer" => {
                let map = c.object(at, v, &["dest"])?;
                let dest = c.required(at, map, "dest");
                let dest = dest.and_then(|d| self.dest(&join_path(at, "dest"), d))?;
                StepKind::Transfer { dest }
            }
            "return" => match v {
                Value::Null => StepKind::Return { value: None },
                other => {
                    let map = c.object(at, other, &["return_value"])?;
                    StepKind::Return {
                        value: map.get("return_value").cloned(),
                    }
                }
            },
            _ => {
                c.error(at, "unknown method");
                return None;
            }
        })
    }
}

#[cfg(test)]
mod tests;
