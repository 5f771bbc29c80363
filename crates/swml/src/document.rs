//! [`Document`]: an SWML document as the interpreter runs it — sections of [`Step`]s, with
//! control flow parsed and shell methods' parameters kept as written (they are substituted
//! and typed when they run).
//!
//! A `Document` only exists validated: it is built by [`crate::check`], which reports every
//! problem at once. Step lists are shared (`Arc`) so the interpreter can hold its place in
//! nested blocks without copying or borrowing the document.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::expr::Expr;

/// A list of steps.
pub type Steps = Arc<[Step]>;

/// A validated SWML document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The sections by name; `main` is always there.
    pub sections: BTreeMap<String, Steps>,
}

impl Document {
    /// The steps of a section.
    pub fn section(&self, name: &str) -> Option<&Steps> {
        self.sections.get(name)
    }
}

/// One step, with the path it was written at (`sections.main[2]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Where it is in the document.
    pub path: String,
    /// What it does.
    pub kind: StepKind,
}

/// The methods that the shell carries out; their parameters are typed when they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `answer`
    Answer,
    /// `hangup`
    Hangup,
    /// `play`
    Play,
    /// `sleep`
    Sleep,
    /// `request`
    Request,
    /// `connect`
    Connect,
    /// `tap`
    Tap,
    /// `stop_tap`
    StopTap,
}

impl Method {
    /// The method's name in SWML.
    pub fn name(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Hangup => "hangup",
            Self::Play => "play",
            Self::Sleep => "sleep",
            Self::Request => "request",
            Self::Connect => "connect",
            Self::Tap => "tap",
            Self::StopTap => "stop_tap",
        }
    }
}

/// A condition or value expression (`when`, `switch.variable`).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// As written.
    pub source: String,
    /// Parsed at load; `None` when the text holds `%{…}`, which is substituted and parsed
    /// when it runs.
    pub parsed: Option<Expr>,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// A method the shell carries out, with its parameters as written (validated).
    Method {
        /// Which.
        method: Method,
        /// The parameters (`null` when the step was a bare name).
        params: Value,
    },
    /// `set`: writes `vars`; string values are substituted.
    Set(Map<String, Value>),
    /// `unset`: removes `vars` (names are substituted).
    Unset(Vec<String>),
    /// `goto`: jumps to a label of the section, while `when` holds, at most `max` times.
    Goto {
        /// The label.
        label: String,
        /// Jump only when this is truthy.
        when: Option<Condition>,
        /// How many times this goto may jump (default 100).
        max: u32,
    },
    /// `label`: a target for `goto`.
    Label(String),
    /// `cond`: the first branch whose `when` holds runs; else `otherwise`.
    Cond {
        /// `when` / `then` pairs in order.
        branches: Vec<(Condition, Steps)>,
        /// `else`.
        otherwise: Option<Steps>,
    },
    /// `switch`: runs the case whose key equals the value's string form; else `default`.
    Switch {
        /// The value compared.
        variable: Condition,
        /// Cases in document order.
        cases: Vec<(String, Steps)>,
        /// `default`.
        default: Option<Steps>,
    },
    /// `execute`: runs a section or a URL document as a subroutine.
    Execute {
        /// A section name or an http(s) URL (substituted).
        dest: String,
        /// The callee's `params` (substituted).
        params: Value,
    },
    /// `return`: ends the current `execute` (or the script, at the top).
    Return {
        /// Stored as `vars.return_value` (substituted).
        value: Option<Value>,
    },
    /// `transfer`: continues in a section or a URL document, not returning.
    Transfer {
        /// A section name or an http(s) URL (substituted).
        dest: String,
    },
}
