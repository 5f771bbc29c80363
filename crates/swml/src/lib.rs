//! SWML for earshot: the document model, complete validation, expressions and a sans-IO
//! interpreter.
//!
//! The SWML subset spec (`spec/swml.md`, with `spec/tap.md` for `tap`) is the source of truth for what is
//! accepted. Nothing a document contains can panic the node: every problem is a
//! [`ValidationError`] that names its place, or a [`SwmlError`].

mod checker;
mod document;
mod error;
mod expr;
pub mod fuzz;
mod interpreter;
mod load;
mod params;
mod scope;
mod template;
mod value;

pub use document::{Condition, Document, Method, Step, StepKind, Steps};
pub use error::{SwmlError, ValidationError};
pub use expr::{BinaryOp, Expr, MAX_DEPTH, MAX_EXPRESSION_LEN, MAX_STRING_LEN, UnaryOp};
pub use interpreter::{
    Action, Interpreter, MAX_EXECUTE_DEPTH, MAX_TRANSFERS, STEP_BUDGET, TapStarted,
};
pub use load::{
    MAX_DOCUMENT_LEN, YAML_MAX_ANCHORS, YAML_MAX_DEPTH, YAML_MAX_EVENTS,
    YAML_MAX_EXPANSIONS_PER_ANCHOR, YAML_MAX_NODES, YAML_MAX_REPLAYED_EVENTS, check,
};
pub use params::{
    AnswerParams, Codec, ConnectParams, HangupReason, HttpMethod, PlayUrl, Reconnect,
    RequestParams, TapDirection, TapParams, TapUri, check_tap,
};
pub use scope::Scopes;
pub use template::{is_template, substitute, substitute_value};
pub use value::JsValue;
