//! [`Interpreter`]: runs a [`Document`] for one call as a sans-IO state machine.
//!
//! The shell drains [`Interpreter::poll_action`] and carries out each [`Action`]; methods
//! with an outcome (`play`, `sleep`, `request`, `connect`, `tap`, `stop_tap`, fetching a
//! document) leave the interpreter waiting until the matching `handle_*` input, and time is
//! an input too ([`Interpreter::handle_timeout`]). Control flow (`set`, `unset`, `goto`,
//! `label`, `cond`, `switch`, `execute`, `return`, `transfer`) runs inside.
//!
//! Invariants: a poll runs at most [`STEP_BUDGET`] steps before it yields, so no document
//! loops without the shell getting control back; `goto` jumps at most `max` times per step;
//! at most [`MAX_TRANSFERS`] transfers per call and [`MAX_EXECUTE_DEPTH`] nested executes.
//! A method whose parameters are invalid after substitution fails with
//! [`Action::StepFailed`] ([`Action::TapInvalid`] for a `tap`) and its result variable set to
//! `failed`; the script goes on.
//! Control-flow errors end the script with [`Action::Failed`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::checker::{Checker, Mode};
use crate::document::{Condition, Document, Method, Step, StepKind, Steps};
use crate::error::SwmlError;
use crate::expr::{Expr, MAX_STRING_LEN};
use crate::load::check;
use crate::params::{
    self, AnswerParams, ConnectParams, HangupReason, MethodParams, PlayUrl, RequestParams,
    TapParams, TapUri,
};
use crate::scope::Scopes;
use crate::template::{substitute, substitute_value};
use crate::value::JsValue;

/// Steps one poll may run without yielding to the shell.
pub const STEP_BUDGET: u32 = 10_000;
/// Transfers one call may make.
pub const MAX_TRANSFERS: u32 = 32;
/// How deep `execute` may nest.
pub const MAX_EXECUTE_DEPTH: usize = 64;

/// What the shell is to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Answer the call (no outcome is awaited).
    Answer(AnswerParams),
    /// End the call; the script is over.
    Hangup {
        /// Why.
        reason: HangupReason,
    },
    /// Play the items in order, then [`Interpreter::handle_play_done`].
    Play {
        /// What to play.
        urls: Vec<PlayUrl>,
    },
    /// Nothing until `until`, reported by [`Interpreter::handle_timeout`].
    Sleep {
        /// When the sleep ends (the last time handed in, plus `duration`).
        until: Instant,
        /// How long.
        duration: Duration,
    },
    /// Make an HTTP request, then [`Interpreter::handle_request_done`].
    Request(RequestParams),
    /// Call and bridge, then [`Interpreter::handle_connect_done`] when it is over.
    Connect(ConnectParams),
    /// Start a tap, then [`Interpreter::handle_tap_started`].
    StartTap(Box<TapParams>),
    /// Stop a tap, then [`Interpreter::handle_tap_stopped`].
    StopTap {
        /// Which.
        control_id: String,
    },
    /// POST `body` to `url` for a document, then [`Interpreter::handle_document_fetched`].
    FetchDocument {
        /// Where.
        url: String,
        /// `{call, vars, params}`.
        body: Value,
    },
    /// A step failed and was skipped (log it; for a tap, report it); the script goes on.
    StepFailed {
        /// The step.
        path: String,
        /// Why.
        error: SwmlError,
    },
    /// A `tap` whose parameters are invalid was skipped: nothing was started and `tap_result`
    /// is `failed`. The shell logs it and reports it: a `finished` event with reason
    /// `invalid_params` to the `status_url` of `params`, when it has a usable one.
    TapInvalid {
        /// The step.
        path: String,
        /// Why.
        error: SwmlError,
        /// The step's parameters after substitution, as written (not validated).
        params: Value,
    },
    /// The script cannot go on; [`Action::Finished`] follows.
    Failed {
        /// Why.
        error: SwmlError,
    },
    /// Waiting for an outcome or for time.
    Wait,
    /// The script is over (its end, `hangup`, a remote hang-up, or a failure).
    Finished,
}

/// What the shell reports once a tap is ready or has failed (the tap contract, section 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapStarted {
    /// Whether the sink became ready.
    pub succeeded: bool,
    /// The control id, given or generated.
    pub control_id: String,
    /// RTP taps: the local address and port the packets leave from.
    pub rtp_source: Option<(String, u16)>,
}

#[derive(Debug)]
enum Waiting {
    Nothing,
    Play,
    Sleep { until: Instant },
    Request { save_variables: bool },
    Connect,
    Tap(Box<TapParams>),
    StopTap,
    Execute { params: Value, url: String },
    Transfer { url: String },
}

#[derive(Debug)]
struct Frame {
    doc: Arc<Document>,
    params: Value,
    /// The section's steps first, then each nested block entered; each with the index of
    /// the next step.
    blocks: Vec<(Steps, usize)>,
    goto_counts: HashMap<String, u32>,
}

impl Frame {
    fn new(doc: Arc<Document>, steps: Steps, params: Value) -> Self {
        Self {
            doc,
            params,
            blocks: vec![(steps, 0)],
            goto_counts: HashMap::new(),
        }
    }
}

/// One call's script.
#[derive(Debug)]
pub struct Interpreter {
    frames: Vec<Frame>,
    call: Value,
    vars: Map<String, Value>,
    envs: Value,
    now: Instant,
    waiting: Waiting,
    transfers: u32,
    pending: VecDeque<Action>,
    finished: bool,
}

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

fn is_url(dest: &str) -> bool {
    let lower = dest.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

impl Interpreter {
    /// A script at the start of `main`. `call` holds the call's facts (read-only to the
    /// script), `envs` the node's configured values; `now` starts the clock.
    pub fn new(document: Document, call: Value, envs: Value, now: Instant) -> Self {
        let doc = Arc::new(document);
        let frames = doc
            .section("main")
            .cloned()
            .map(|main| Frame::new(doc.clone(), main, Value::Object(Map::new())))
            .into_iter()
            .collect();
        Self {
            frames,
            call,
            vars: Map::new(),
            envs,
            now,
            waiting: Waiting::Nothing,
            transfers: 0,
            pending: VecDeque::new(),
            finished: false,
        }
    }

    /// The call's variables.
    pub fn vars(&self) -> &Map<String, Value> {
        &self.vars
    }

    /// When the interpreter next needs [`Interpreter::handle_timeout`], if it is sleeping.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.waiting {
            Waiting::Sleep { until } => Some(until),
            _ => None,
        }
    }

    /// Time has passed: the clock input. Ends a sleep that is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        if let Waiting::Sleep { until } = self.waiting
            && self.now >= until
        {
            self.waiting = Waiting::Nothing;
        }
    }

    /// `play` finished; sets `play_result`.
    pub fn handle_play_done(&mut self, succeeded: bool) {
        if matches!(self.waiting, Waiting::Play) {
            self.set_result("play_result", succeeded);
            self.waiting = Waiting::Nothing;
        }
    }

    /// `request` finished: `status` is `None` when no answer came (network error, timeout).
    pub fn handle_request_done(&mut self, status: Option<u16>, body: &str) {
        let Waiting::Request { save_variables } = self.waiting else {
            return;
        };
        self.waiting = Waiting::Nothing;
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        self.set_result("request_result", ok);
        match status {
            Some(code) => self
                .vars
                .insert("request_response_code".into(), code.into()),
            None => self.vars.remove("request_response_code"),
        };
        let mut cut = body.len().min(MAX_STRING_LEN);
        while !body.is_char_boundary(cut) {
            cut -= 1;
        }
        self.vars
            .insert("request_response_body".into(), text(&body[..cut]));
        self.vars.remove("request_response");
        if save_variables && let Ok(parsed) = serde_json::from_str::<Value>(&body[..cut]) {
            self.vars.insert("request_response".into(), parsed);
        }
    }

    /// `connect` is over: the bridge ended (`connected`) or the call never connected.
    pub fn handle_connect_done(&mut self, connected: bool, failed_reason: Option<&str>) {
        if !matches!(self.waiting, Waiting::Connect) {
            return;
        }
        self.waiting = Waiting::Nothing;
        let result = if connected { "connected" } else { "failed" };
        self.vars.insert("connect_result".into(), text(result));
        match (connected, failed_reason) {
            (false, reason) => self.vars.insert(
                "connect_failed_reason".into(),
                text(reason.unwrap_or("failed")),
            ),
            (true, _) => self.vars.remove("connect_failed_reason"),
        };
    }

    /// The tap is ready, or failed to start; sets the `tap_*` variables.
    pub fn handle_tap_started(&mut self, started: TapStarted) {
        let Waiting::Tap(params) = std::mem::replace(&mut self.waiting, Waiting::Nothing) else {
            return;
        };
        self.set_tap_vars(&params.uri_text, started.succeeded);
        self.vars
            .insert("tap_control_id".into(), text(&started.control_id));
        self.vars
            .insert("tap_ptime".into(), params.rtp_ptime_ms.into());
        self.vars
            .insert("tap_codec".into(), text(params.codec.name()));
        self.vars.insert("tap_rate".into(), 8000.into());
        let channels = if params.stereo { 2 } else { 1 };
        self.vars.insert("tap_channels".into(), channels.into());
        match (&params.uri, started.rtp_source) {
            (TapUri::Rtp { .. }, Some((addr, port))) => {
                self.vars.insert("tap_rtp_src_addr".into(), text(&addr));
                self.vars.insert("tap_rtp_src_port".into(), port.into());
            }
            _ => {
                self.vars.remove("tap_rtp_src_addr");
                self.vars.remove("tap_rtp_src_port");
            }
        }
    }

    /// `stop_tap` finished: `false` when no such tap was running.
    pub fn handle_tap_stopped(&mut self, succeeded: bool) {
        if matches!(self.waiting, Waiting::StopTap) {
            self.waiting = Waiting::Nothing;
            self.set_result("stop_tap_result", succeeded);
        }
    }

    /// A document for `execute` or `transfer` arrived (`Ok(text)`) or could not be fetched.
    pub fn handle_document_fetched(&mut self, fetched: Result<&str, String>) {
        let waiting = std::mem::replace(&mut self.waiting, Waiting::Nothing);
        let (url, params, transfer) = match waiting {
            Waiting::Execute { params, url } => (url, params, false),
            Waiting::Transfer { url } => (url, Value::Object(Map::new()), true),
            other => {
                self.waiting = other;
                return;
            }
        };
        let doc = match fetched {
            Err(reason) => return self.fail(SwmlError::DocumentFetchFailed { url, reason }),
            Ok(body) => match check(body) {
                Ok(doc) => Arc::new(doc),
                Err(errors) => return self.fail(SwmlError::DocumentInvalid { url, errors }),
            },
        };
        let Some(main) = doc.section("main").cloned() else {
            return;
        };
        if transfer {
            self.frames.clear();
        }
        self.frames.push(Frame::new(doc, main, params));
    }

    /// The remote party hung up: the script ends.
    pub fn handle_hangup(&mut self) {
        self.frames.clear();
        self.waiting = Waiting::Nothing;
        self.pending.clear();
    }

    /// The next thing for the shell to do.
    pub fn poll_action(&mut self) -> Action {
        if let Some(action) = self.pending.pop_front() {
            return action;
        }
        if self.finished {
            return Action::Finished;
        }
        if !matches!(self.waiting, Waiting::Nothing) {
            return Action::Wait;
        }
        for _ in 0..STEP_BUDGET {
            let Some(frame) = self.frames.last_mut() else {
                self.finished = true;
                return Action::Finished;
            };
            let Some((steps, pc)) = frame.blocks.last_mut() else {
                self.frames.pop();
                continue;
            };
            let Some(step) = steps.get(*pc).cloned() else {
                frame.blocks.pop();
                if frame.blocks.is_empty() {
                    self.frames.pop();
                }
                continue;
            };
            *pc += 1;
            if let Some(action) = self.run(&step) {
                return action;
            }
            if let Some(action) = self.pending.pop_front() {
                return action;
            }
        }
        let path = self
            .frames
            .last()
            .and_then(|f| f.blocks.last())
            .and_then(|(steps, pc)| steps.get(*pc))
            .map_or_else(String::new, |s| s.path.clone());
        self.frames.clear();
        Action::Failed {
            error: SwmlError::StepBudgetExceeded {
                path,
                steps: STEP_BUDGET,
            },
        }
    }

    fn fail(&mut self, error: SwmlError) {
        self.frames.clear();
        self.waiting = Waiting::Nothing;
        self.pending.push_back(Action::Failed { error });
    }

    fn set_result(&mut self, name: &str, succeeded: bool) {
        let value = if succeeded { "success" } else { "failed" };
        self.vars.insert(name.into(), text(value));
    }

    fn set_tap_vars(&mut self, uri: &str, succeeded: bool) {
        self.vars.insert("tap_uri".into(), text(uri));
        self.set_result("tap_result", succeeded);
    }

    fn scopes(&self) -> Scopes<'_> {
        static EMPTY: Value = Value::Null;
        Scopes {
            call: &self.call,
            vars: &self.vars,
            params: self.frames.last().map_or(&EMPTY, |f| &f.params),
            envs: &self.envs,
        }
    }

    fn evaluate(&self, condition: &Condition) -> Result<JsValue, SwmlError> {
        let scopes = self.scopes();
        match &condition.parsed {
            Some(expr) => expr.evaluate(&scopes),
            None => Expr::parse(&substitute(&condition.source, &scopes)?)?.evaluate(&scopes),
        }
    }

    /// Runs one step; `Some` when the shell has something to do.
    fn run(&mut self, step: &Step) -> Option<Action> {
        let path = &step.path;
        let failed = |error| {
            Some(Action::StepFailed {
                path: path.clone(),
                error,
            })
        };
        match &step.kind {
            StepKind::Method { method, params } => self.method(*method, path, params),
            StepKind::Set(map) => {
                for (name, value) in map {
                    match substitute_value(value, &self.scopes()) {
                        Ok(v) => {
                            self.vars.insert(name.clone(), v);
                        }
                        Err(e) => return failed(e),
                    }
                }
                None
            }
            StepKind::Unset(names) => {
                for name in names {
                    match substitute(name, &self.scopes()) {
                        Ok(n) => {
                            self.vars.remove(&n);
                        }
                        Err(e) => return failed(e),
                    }
                }
                None
            }
            StepKind::Label(_) => None,
            StepKind::Goto { label, when, max } => {
                if let Some(when) = when {
                    match self.evaluate(when) {
                        Ok(v) if v.truthy() => {}
                        Ok(_) => return None,
                        Err(e) => return failed(e),
                    }
                }
                let frame = self.frames.last_mut()?;
                let count = frame.goto_counts.entry(path.clone()).or_insert(0);
                if *count >= *max {
                    return None;
                }
                *count += 1;
                let (section, _) = frame.blocks.first()?;
                let target = section
                    .iter()
                    .position(|s| matches!(&s.kind, StepKind::Label(l) if l == label));
                match target {
                    Some(i) => {
                        frame.blocks.truncate(1);
                        if let Some(first) = frame.blocks.first_mut() {
                            first.1 = i + 1;
                        }
                        None
                    }
                    None => {
                        self.fail(SwmlError::NotFound {
                            path: path.clone(),
                            kind: "label",
                            name: label.clone(),
                        });
                        None
                    }
                }
            }
            StepKind::Cond {
                branches,
                otherwise,
            } => {
                for (when, then) in branches {
                    match self.evaluate(when) {
                        Ok(v) if v.truthy() => return self.enter(then.clone()),
                        Ok(_) => {}
                        Err(e) => return failed(e),
                    }
                }
                otherwise.clone().and_then(|steps| self.enter(steps))
            }
            StepKind::Switch {
                variable,
                cases,
                default,
            } => {
                let value = match self.evaluate(variable) {
                    Ok(v) => v.to_template_string(),
                    Err(e) => return failed(e),
                };
                let chosen = cases
                    .iter()
                    .find(|(key, _)| *key == value)
                    .map(|(_, steps)| steps.clone())
                    .or_else(|| default.clone());
                chosen.and_then(|steps| self.enter(steps))
            }
            StepKind::Execute { dest, params } => {
                let scopes = self.scopes();
                let (dest, params) =
                    match (substitute(dest, &scopes), substitute_value(params, &scopes)) {
                        (Ok(d), Ok(p)) => (d, p),
                        (Err(e), _) | (_, Err(e)) => return failed(e),
                    };
                if self.frames.len() >= MAX_EXECUTE_DEPTH {
                    self.fail(SwmlError::ExecuteTooDeep {
                        path: path.clone(),
                        max: MAX_EXECUTE_DEPTH,
                    });
                    return None;
                }
                if is_url(&dest) {
                    let body = self.fetch_body(&params);
                    self.waiting = Waiting::Execute {
                        params,
                        url: dest.clone(),
                    };
                    return Some(Action::FetchDocument { url: dest, body });
                }
                let doc = self.frames.last()?.doc.clone();
                match doc.section(&dest).cloned() {
                    Some(steps) => self.frames.push(Frame::new(doc, steps, params)),
                    None => self.fail(SwmlError::NotFound {
                        path: path.clone(),
                        kind: "section",
                        name: dest,
                    }),
                }
                None
            }
            StepKind::Return { value } => {
                match value {
                    Some(v) => match substitute_value(v, &self.scopes()) {
                        Ok(v) => {
                            self.vars.insert("return_value".into(), v);
                        }
                        Err(e) => return failed(e),
                    },
                    None => {
                        self.vars.remove("return_value");
                    }
                }
                self.frames.pop();
                None
            }
            StepKind::Transfer { dest } => {
                let dest = match substitute(dest, &self.scopes()) {
                    Ok(d) => d,
                    Err(e) => return failed(e),
                };
                self.transfers += 1;
                if self.transfers > MAX_TRANSFERS {
                    self.fail(SwmlError::TooManyTransfers {
                        path: path.clone(),
                        max: MAX_TRANSFERS,
                    });
                    return None;
                }
                if is_url(&dest) {
                    let body = self.fetch_body(&Value::Object(Map::new()));
                    self.waiting = Waiting::Transfer { url: dest.clone() };
                    return Some(Action::FetchDocument { url: dest, body });
                }
                let doc = self.frames.last()?.doc.clone();
                match doc.section(&dest).cloned() {
                    Some(steps) => {
                        self.frames.clear();
                        self.frames
                            .push(Frame::new(doc, steps, Value::Object(Map::new())));
                    }
                    None => self.fail(SwmlError::NotFound {
                        path: path.clone(),
                        kind: "section",
                        name: dest,
                    }),
                }
                None
            }
        }
    }

    fn fetch_body(&self, params: &Value) -> Value {
        json!({"call": self.call, "vars": self.vars, "params": params})
    }

    fn enter(&mut self, steps: Steps) -> Option<Action> {
        self.frames.last_mut()?.blocks.push((steps, 0));
        None
    }

    fn method(&mut self, method: Method, path: &str, raw: &Value) -> Option<Action> {
        let at = format!("{path}.{}", method.name());
        let mut invalid_tap = None;
        let typed = substitute_value(raw, &self.scopes()).and_then(|v| {
            let mut c = Checker::new(Mode::Run);
            match params::check(&mut c, method, &at, &v) {
                Some(p) if c.errors.is_empty() => Ok(p),
                _ => {
                    if method == Method::Tap {
                        let uri = v.get("uri").and_then(Value::as_str).unwrap_or_default();
                        self.set_tap_vars(uri, false);
                        invalid_tap = Some(v);
                    }
                    Err(SwmlError::InvalidParams { errors: c.errors })
                }
            }
        });
        let typed = match typed {
            Ok(t) => t,
            Err(error) => {
                match method {
                    Method::Play => self.set_result("play_result", false),
                    Method::Request => self.set_result("request_result", false),
                    Method::StopTap => self.set_result("stop_tap_result", false),
                    Method::Tap => self.set_result("tap_result", false),
                    Method::Connect => {
                        self.vars.insert("connect_result".into(), text("failed"));
                        self.vars
                            .insert("connect_failed_reason".into(), text("invalid_params"));
                    }
                    Method::Answer | Method::Hangup | Method::Sleep => {}
                }
                if let Some(params) = invalid_tap {
                    return Some(Action::TapInvalid {
                        path: path.to_owned(),
                        error,
                        params,
                    });
                }
                return Some(Action::StepFailed {
                    path: path.to_owned(),
                    error,
                });
            }
        };
        Some(match typed {
            MethodParams::Answer(p) => Action::Answer(p),
            MethodParams::Hangup(reason) => {
                self.frames.clear();
                Action::Hangup { reason }
            }
            MethodParams::Play(urls) => {
                self.waiting = Waiting::Play;
                Action::Play { urls }
            }
            MethodParams::Sleep(duration) => {
                let until = self.now + duration;
                self.waiting = Waiting::Sleep { until };
                Action::Sleep { until, duration }
            }
            MethodParams::Request(p) => {
                self.waiting = Waiting::Request {
                    save_variables: p.save_variables,
                };
                Action::Request(p)
            }
            MethodParams::Connect(p) => {
                self.waiting = Waiting::Connect;
                Action::Connect(p)
            }
            MethodParams::Tap(p) => {
                self.waiting = Waiting::Tap(p.clone());
                Action::StartTap(p)
            }
            MethodParams::StopTap(id) => {
                let id = id.or_else(|| {
                    self.vars
                        .get("tap_control_id")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                });
                let Some(control_id) = id else {
                    // No id given and no tap started: there is nothing to stop.
                    self.set_result("stop_tap_result", false);
                    return None;
                };
                self.waiting = Waiting::StopTap;
                Action::StopTap { control_id }
            }
        })
    }
}
