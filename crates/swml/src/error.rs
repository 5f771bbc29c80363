//! The crate's errors: [`SwmlError`] for everything that can go wrong, and
//! [`ValidationError`], one finding of document validation, which names its place.
//!
//! Nothing here panics: every way a document, an expression or a shell outcome can be wrong
//! is a value of these types.

use std::fmt;

/// One problem found in a document or in a method's parameters: where, and what was expected.
///
/// Displayed as `PATH: MESSAGE`, e.g.
/// `sections.main[1].tap.direction: expected one of speak, listen, both, found "speek"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Where the problem is: `sections.main[1].tap.direction`; empty for the whole text.
    pub path: String,
    /// What was expected, and what was found.
    pub message: String,
}

impl ValidationError {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ValidationError {}

/// Everything that can go wrong in this crate, apart from the individual findings of validation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SwmlError {
    /// An expression is longer than the limit.
    #[error("expression is {len} characters long, at most {max} are allowed")]
    ExpressionTooLong {
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An expression nests parentheses, operators or indexes deeper than the limit.
    #[error("at position {position}: expression nests deeper than {max} levels")]
    ExpressionTooDeep {
        /// Character offset where the limit was reached.
        position: usize,
        /// The limit.
        max: usize,
    },
    /// A character that cannot start any token.
    #[error("at position {position}: unexpected character {found:?}")]
    UnexpectedCharacter {
        /// Character offset.
        position: usize,
        /// The character.
        found: char,
    },
    /// A string literal without its closing quote.
    #[error("at position {position}: string literal is not closed")]
    UnterminatedString {
        /// Character offset of the opening quote.
        position: usize,
    },
    /// A number literal that does not parse.
    #[error("at position {position}: invalid number {text:?}")]
    InvalidNumber {
        /// Character offset.
        position: usize,
        /// The literal as written.
        text: String,
    },
    /// A token where another was expected.
    #[error("at position {position}: expected {expected}, found {found}")]
    UnexpectedToken {
        /// Character offset.
        position: usize,
        /// What the grammar allows here.
        expected: &'static str,
        /// What is there instead.
        found: String,
    },
    /// A string produced by substitution or by `+` grew past the limit.
    #[error("a string grew past {max} bytes")]
    StringTooLong {
        /// The limit in bytes.
        max: usize,
    },
    /// The document text is larger than the limit.
    #[error("document is {len} bytes long, at most {max} are allowed")]
    DocumentTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A method's parameters were not valid once their variables were substituted.
    #[error("{}", join(errors))]
    InvalidParams {
        /// Every problem found.
        errors: Vec<ValidationError>,
    },
    /// A document fetched for `execute` or `transfer` did not load.
    #[error("document from {url} did not load: {}", join(errors))]
    DocumentInvalid {
        /// Where it came from.
        url: String,
        /// Every problem found.
        errors: Vec<ValidationError>,
    },
    /// The shell could not fetch a document for `execute` or `transfer`.
    #[error("document from {url} could not be fetched: {reason}")]
    DocumentFetchFailed {
        /// Where it was to come from.
        url: String,
        /// The shell's reason.
        reason: String,
    },
    /// `execute`, `transfer` or `goto` named something the document does not have.
    #[error("{path}: {kind} {name:?} does not exist")]
    NotFound {
        /// The step that named it.
        path: String,
        /// `section` or `label`.
        kind: &'static str,
        /// The name after substitution.
        name: String,
    },
    /// More `transfer`s than a call may make.
    #[error("{path}: more than {max} transfers in one call")]
    TooManyTransfers {
        /// The step that went past the limit.
        path: String,
        /// The limit.
        max: u32,
    },
    /// `execute` nested deeper than the limit.
    #[error("{path}: execute nests deeper than {max} levels")]
    ExecuteTooDeep {
        /// The step that went past the limit.
        path: String,
        /// The limit.
        max: usize,
    },
    /// The script ran this many steps without waiting for anything: a loop that never yields.
    #[error("{path}: {steps} steps ran without waiting for the call")]
    StepBudgetExceeded {
        /// The step that was about to run.
        path: String,
        /// The budget.
        steps: u32,
    },
}

fn join(errors: &[ValidationError]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    parts.join("; ")
}
