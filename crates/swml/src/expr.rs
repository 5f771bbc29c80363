//! [`Expr`]: the expressions of `cond`, `switch`, `goto.when` and `${…}`, parsed by a
//! tokenizer and a precedence-climbing (Pratt) parser, and evaluated with JavaScript's rules
//! (ECMA-262 §13: operators, precedence and associativity of the subset below).
//!
//! Grammar, loosest first: `||`, `&&`, `== != === !==`, `< <= > >=`, `+ -`, `* / %`, prefix
//! `! - +`, then member access `a.b` and `a[expr]`. Operands: string literals (`'…'` or
//! `"…"`), numbers, `true`, `false`, `null`, `undefined`, and names, which are variable
//! paths (see [`Scopes`]). `&&` and `||` return one of their operands, as in JavaScript.
//!
//! Limits keep hostile documents cheap: at most [`MAX_EXPRESSION_LEN`] characters, a tree
//! at most [`MAX_DEPTH`] deep (so evaluation recursion is bounded too), and strings built by
//! `+` at most [`MAX_STRING_LEN`] bytes. Every error names its character position.

use crate::error::SwmlError;
use crate::scope::{Scopes, Segment, property};
use crate::value::JsValue;

/// The longest expression accepted, in characters.
pub const MAX_EXPRESSION_LEN: usize = 4096;
/// The deepest expression tree accepted.
pub const MAX_DEPTH: usize = 64;
/// The longest string an expression or a substitution may build, in bytes.
pub const MAX_STRING_LEN: usize = 64 * 1024;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal value.
    Literal(JsValue),
    /// A name: a scope (`vars`, `call`, `params`, `envs`) or a bare variable.
    Name(String),
    /// `object.name` or `object[index]`.
    Member {
        /// What is indexed.
        object: Box<Expr>,
        /// The key; a string literal for `.name`.
        key: Box<Expr>,
    },
    /// A prefix operator.
    Unary {
        /// Which.
        op: UnaryOp,
        /// Its operand.
        operand: Box<Expr>,
    },
    /// A binary operator (`&&` and `||` included).
    Binary {
        /// Which.
        op: BinaryOp,
        /// Left operand.
        left: Box<Expr>,
        /// Right operand.
        right: Box<Expr>,
    },
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `!`
    Not,
    /// `-`
    Negate,
    /// `+`
    Plus,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// `==`
    LooseEq,
    /// `!=`
    LooseNe,
    /// `===`
    StrictEq,
    /// `!==`
    StrictNe,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinaryOp {
    /// Left binding power; every operator here is left-associative.
    fn binding_power(self) -> u8 {
        match self {
            Self::Or => 1,
            Self::And => 2,
            Self::LooseEq | Self::LooseNe | Self::StrictEq | Self::StrictNe => 3,
            Self::Lt | Self::Le | Self::Gt | Self::Ge => 4,
            Self::Add | Self::Sub => 5,
            Self::Mul | Self::Div | Self::Rem => 6,
        }
    }
}

const PREFIX_POWER: u8 = 7;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Str(String),
    Ident(String),
    Op(BinaryOp),
    Not,
    Dot,
    LBracket,
    RBracket,
    LParen,
    RParen,
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Self::Number(n) => format!("number {}", crate::value::number_to_string(*n)),
            Self::Str(s) => format!("string {s:?}"),
            Self::Ident(s) => format!("name {s:?}"),
            Self::Op(_) | Self::Not => "an operator".to_owned(),
            Self::Dot => "\".\"".to_owned(),
            Self::LBracket => "\"[\"".to_owned(),
            Self::RBracket => "\"]\"".to_owned(),
            Self::LParen => "\"(\"".to_owned(),
            Self::RParen => "\")\"".to_owned(),
            Self::End => "the end".to_owned(),
        }
    }
}

fn tokenize(chars: &[char]) -> Result<Vec<(usize, Token)>, SwmlError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied();
    while let Some(c) = at(i) {
        let start = i;
        let token = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '0'..='9' => {
                while at(i).is_some_and(|c| c.is_ascii_alphanumeric() || c == '.') {
                    // An exponent's sign belongs to the number: 1e-3.
                    if matches!(at(i), Some('e' | 'E')) && matches!(at(i + 1), Some('+' | '-')) {
                        i += 1;
                    }
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                Token::Number(parse_number(&text).ok_or(SwmlError::InvalidNumber {
                    position: start,
                    text,
                })?)
            }
            '.' if at(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                i += 1;
                while at(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                Token::Number(parse_number(&text).ok_or(SwmlError::InvalidNumber {
                    position: start,
                    text,
                })?)
            }
            '"' | '\'' => {
                let (s, end) = string_literal(chars, start)?;
                i = end;
                Token::Str(s)
            }
            c if c.is_alphabetic() || c == '_' || c == '$' => {
                while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                    i += 1;
                }
                Token::Ident(chars[start..i].iter().collect())
            }
            _ => {
                let (token, len) =
                    punctuation(c, at(i + 1), at(i + 2)).ok_or(SwmlError::UnexpectedCharacter {
                        position: start,
                        found: c,
                    })?;
                i += len;
                token
            }
        };
        tokens.push((start, token));
    }
    tokens.push((chars.len(), Token::End));
    Ok(tokens)
}

fn punctuation(c: char, next: Option<char>, third: Option<char>) -> Option<(Token, usize)> {
    use BinaryOp as B;
    Some(match (c, next, third) {
        ('=', Some('='), Some('=')) => (Token::Op(B::StrictEq), 3),
        ('!', Some('='), Some('=')) => (Token::Op(B::StrictNe), 3),
        ('=', Some('='), _) => (Token::Op(B::LooseEq), 2),
        ('!', Some('='), _) => (Token::Op(B::LooseNe), 2),
        ('<', Some('='), _) => (Token::Op(B::Le), 2),
        ('>', Some('='), _) => (Token::Op(B::Ge), 2),
        ('&', Some('&'), _) => (Token::Op(B::And), 2),
        ('|', Some('|'), _) => (Token::Op(B::Or), 2),
        ('<', ..) => (Token::Op(B::Lt), 1),
        ('>', ..) => (Token::Op(B::Gt), 1),
        ('+', ..) => (Token::Op(B::Add), 1),
        ('-', ..) => (Token::Op(B::Sub), 1),
        ('*', ..) => (Token::Op(B::Mul), 1),
        ('/', ..) => (Token::Op(B::Div), 1),
        ('%', ..) => (Token::Op(B::Rem), 1),
        ('!', ..) => (Token::Not, 1),
        ('.', ..) => (Token::Dot, 1),
        ('[', ..) => (Token::LBracket, 1),
        (']', ..) => (Token::RBracket, 1),
        ('(', ..) => (Token::LParen, 1),
        (')', ..) => (Token::RParen, 1),
        _ => return None,
    })
}

/// JavaScript numeric literals: decimal with fraction and exponent, `0x`, `0o`, `0b`.
fn parse_number(text: &str) -> Option<f64> {
    let radix = [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ];
    for (prefix, radix) in radix {
        if let Some(digits) = text.strip_prefix(prefix) {
            if digits.is_empty() {
                return None;
            }
            return digits.chars().try_fold(0.0_f64, |acc, c| {
                c.to_digit(radix)
                    .map(|d| acc * f64::from(radix) + f64::from(d))
            });
        }
    }
    let ok = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if !ok || text.ends_with(['e', 'E', '+', '-']) {
        return None;
    }
    text.parse().ok()
}

fn string_literal(chars: &[char], start: usize) -> Result<(String, usize), SwmlError> {
    let quote = chars[start];
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(SwmlError::UnterminatedString { position: start });
        };
        i += 1;
        match c {
            c if c == quote => return Ok((out, i)),
            '\\' => {
                let Some(&e) = chars.get(i) else {
                    return Err(SwmlError::UnterminatedString { position: start });
                };
                i += 1;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    'u' => {
                        let hex: String = chars.get(i..i + 4).unwrap_or(&[]).iter().collect();
                        let c = u32::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| hex.len() == 4)
                            .and_then(char::from_u32)
                            .ok_or(SwmlError::UnexpectedToken {
                                position: i - 2,
                                expected: "\\u and four hex digits",
                                found: format!("\\u{hex}"),
                            })?;
                        out.push(c);
                        i += 4;
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens.get(self.next).map_or(&Token::End, |(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.next).map_or(0, |(p, _)| *p)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        self.next += 1;
        t
    }

    fn unexpected(&self, expected: &'static str) -> SwmlError {
        SwmlError::UnexpectedToken {
            position: self.position(),
            expected,
            found: self.peek().describe(),
        }
    }

    fn too_deep(&self) -> SwmlError {
        SwmlError::ExpressionTooDeep {
            position: self.position(),
            max: MAX_DEPTH,
        }
    }

    /// Parses operators binding tighter than `min_power`; returns the tree and its height.
    fn expression(&mut self, min_power: u8, depth: usize) -> Result<(Expr, usize), SwmlError> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep());
        }
        let (mut left, mut height) = self.prefix(depth)?;
        while let Token::Op(op) = *self.peek() {
            let power = op.binding_power();
            if power <= min_power {
                break;
            }
            self.bump();
            let (right, right_height) = self.expression(power, depth + 1)?;
            height = height.max(right_height) + 1;
            if height > MAX_DEPTH {
                return Err(self.too_deep());
            }
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok((left, height))
    }

    fn prefix(&mut self, depth: usize) -> Result<(Expr, usize), SwmlError> {
        let op = match self.peek() {
            Token::Not => Some(UnaryOp::Not),
            Token::Op(BinaryOp::Sub) => Some(UnaryOp::Negate),
            Token::Op(BinaryOp::Add) => Some(UnaryOp::Plus),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            if depth + 1 > MAX_DEPTH {
                return Err(self.too_deep());
            }
            let (operand, height) = self.expression(PREFIX_POWER - 1, depth + 1)?;
            let operand = Box::new(operand);
            return Ok((Expr::Unary { op, operand }, height + 1));
        }
        let (mut expr, mut height) = match self.bump() {
            Token::Number(n) => (Expr::Literal(JsValue::Number(n)), 1),
            Token::Str(s) => (Expr::Literal(JsValue::String(s)), 1),
            Token::Ident(name) => (
                match name.as_str() {
                    "true" => Expr::Literal(JsValue::Bool(true)),
                    "false" => Expr::Literal(JsValue::Bool(false)),
                    "null" => Expr::Literal(JsValue::Null),
                    "undefined" => Expr::Literal(JsValue::Undefined),
                    _ => Expr::Name(name),
                },
                1,
            ),
            Token::LParen => {
                let inner = self.expression(0, depth + 1)?;
                if self.bump() != Token::RParen {
                    self.next -= 1;
                    return Err(self.unexpected("\")\""));
                }
                inner
            }
            _ => {
                self.next -= 1;
                return Err(self.unexpected("a value, a name or \"(\""));
            }
        };
        loop {
            let key = match self.peek() {
                Token::Dot => {
                    self.bump();
                    match self.bump() {
                        Token::Ident(name) => (Expr::Literal(JsValue::String(name)), 1),
                        _ => {
                            self.next -= 1;
                            return Err(self.unexpected("a name after \".\""));
                        }
                    }
                }
                Token::LBracket => {
                    self.bump();
                    let key = self.expression(0, depth + 1)?;
                    if self.bump() != Token::RBracket {
                        self.next -= 1;
                        return Err(self.unexpected("\"]\""));
                    }
                    key
                }
                _ => break,
            };
            height = height.max(key.1) + 1;
            if height > MAX_DEPTH {
                return Err(self.too_deep());
            }
            expr = Expr::Member {
                object: Box::new(expr),
                key: Box::new(key.0),
            };
        }
        Ok((expr, height))
    }
}

impl Expr {
    /// Parses an expression; the error names the character position.
    pub fn parse(source: &str) -> Result<Self, SwmlError> {
        let chars: Vec<char> = source.chars().take(MAX_EXPRESSION_LEN + 1).collect();
        if chars.len() > MAX_EXPRESSION_LEN {
            return Err(SwmlError::ExpressionTooLong {
                len: source.chars().count(),
                max: MAX_EXPRESSION_LEN,
            });
        }
        let tokens = tokenize(&chars)?;
        let mut parser = Parser { tokens, next: 0 };
        let (expr, _) = parser.expression(0, 0)?;
        if *parser.peek() != Token::End {
            return Err(parser.unexpected("an operator or the end"));
        }
        Ok(expr)
    }

    /// Evaluates the expression against the scopes.
    pub fn evaluate(&self, scopes: &Scopes<'_>) -> Result<JsValue, SwmlError> {
        Ok(match self {
            Self::Literal(v) => v.clone(),
            Self::Name(name) => scopes.root(name),
            Self::Member { object, key } => {
                let mut segments = Vec::new();
                if static_path(self, &mut segments) {
                    scopes.lookup(&segments)
                } else {
                    property(&object.evaluate(scopes)?, &key.evaluate(scopes)?)
                }
            }
            Self::Unary { op, operand } => {
                let v = operand.evaluate(scopes)?;
                match op {
                    UnaryOp::Not => JsValue::Bool(!v.truthy()),
                    UnaryOp::Negate => JsValue::Number(-v.to_number()),
                    UnaryOp::Plus => JsValue::Number(v.to_number()),
                }
            }
            Self::Binary { op, left, right } => {
                let l = left.evaluate(scopes)?;
                match op {
                    BinaryOp::And if !l.truthy() => return Ok(l),
                    BinaryOp::Or if l.truthy() => return Ok(l),
                    BinaryOp::And | BinaryOp::Or => return right.evaluate(scopes),
                    _ => {}
                }
                let r = right.evaluate(scopes)?;
                binary(*op, &l, &r)?
            }
        })
    }
}

/// Collects `a.b[0]` into path segments when every key is a literal name or index, so
/// lookups walk the scopes without copying them.
fn static_path<'e>(expr: &'e Expr, out: &mut Vec<Segment<'e>>) -> bool {
    match expr {
        Expr::Name(name) => {
            out.push(Segment::Name(name));
            true
        }
        Expr::Member { object, key } => {
            if !static_path(object, out) {
                return false;
            }
            match key.as_ref() {
                Expr::Literal(JsValue::String(s)) => out.push(Segment::Name(s)),
                Expr::Literal(JsValue::Number(n)) if n.fract() == 0.0 && *n >= 0.0 => {
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "a non-negative integral index; huge ones saturate and miss"
                    )]
                    out.push(Segment::Index(*n as usize));
                }
                _ => return false,
            }
            true
        }
        _ => false,
    }
}

fn binary(op: BinaryOp, l: &JsValue, r: &JsValue) -> Result<JsValue, SwmlError> {
    use BinaryOp as B;
    let num = |f: fn(f64, f64) -> f64| JsValue::Number(f(l.to_number(), r.to_number()));
    Ok(match op {
        B::LooseEq => JsValue::Bool(l.loose_equals(r)),
        B::LooseNe => JsValue::Bool(!l.loose_equals(r)),
        B::StrictEq => JsValue::Bool(l.strict_equals(r)),
        B::StrictNe => JsValue::Bool(!l.strict_equals(r)),
        B::Lt => JsValue::Bool(l.less_than(r) == Some(true)),
        B::Gt => JsValue::Bool(r.less_than(l) == Some(true)),
        B::Le => JsValue::Bool(r.less_than(l) == Some(false)),
        B::Ge => JsValue::Bool(l.less_than(r) == Some(false)),
        B::Add => {
            let v = l.add(r);
            if matches!(&v, JsValue::String(s) if s.len() > MAX_STRING_LEN) {
                return Err(SwmlError::StringTooLong {
                    max: MAX_STRING_LEN,
                });
            }
            v
        }
        B::Sub => num(|a, b| a - b),
        B::Mul => num(|a, b| a * b),
        B::Div => num(|a, b| a / b),
        B::Rem => num(|a, b| a % b),
        B::And | B::Or => unreachable_logical(l, r, op),
    })
}

/// `&&` and `||` short-circuit in [`Expr::evaluate`]; kept total so no input can panic.
fn unreachable_logical(l: &JsValue, r: &JsValue, op: BinaryOp) -> JsValue {
    match (op, l.truthy()) {
        (BinaryOp::And, true) | (BinaryOp::Or, false) => r.clone(),
        _ => l.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn eval_with(source: &str, vars: &Value) -> JsValue {
        let vars = vars.as_object().expect("vars are an object");
        let call = json!({"from": "sip:alice@example.com", "direction": "inbound"});
        let envs = json!({"region": "eu"});
        let params = json!({"lang": "en"});
        let scopes = Scopes {
            call: &call,
            vars,
            params: &params,
            envs: &envs,
        };
        Expr::parse(source)
            .expect("the case parses")
            .evaluate(&scopes)
            .expect("the case evaluates")
    }

    fn eval(source: &str) -> JsValue {
        eval_with(
            source,
            &json!({"n": 5, "s": "5", "empty": "", "t": true, "list": [1, 2], "obj": {"k": "v"}, "nul": null}),
        )
    }

    #[test]
    fn javascript_semantics_table() {
        use JsValue::{Bool, Null, Number as N, String as S};
        let s = |v: &str| S(v.to_owned());
        let cases: Vec<(&str, JsValue)> = vec![
            (r#""1" == 1"#, Bool(true)),
            (r#""1" === 1"#, Bool(false)),
            (r#""a" + 1"#, s("a1")),
            ("1 + true", N(2.0)),
            ("null == undefined", Bool(true)),
            ("null === undefined", Bool(false)),
            ("vars.unset == null", Bool(true)),
            ("unset_name == undefined", Bool(true)),
            ("nul == null", Bool(true)),
            ("nul == 0", Bool(false)),
            (r#""" || "x""#, s("x")),
            (r#""a" && "b""#, s("b")),
            ("0 && x", N(0.0)),
            ("!''", Bool(true)),
            ("!!'0'", Bool(true)),
            ("'0' == false", Bool(true)),
            ("'' == 0", Bool(true)),
            ("' 12 ' == 12", Bool(true)),
            ("true == 1", Bool(true)),
            ("true == '1'", Bool(true)),
            ("true === 1", Bool(false)),
            ("NaN_unset == NaN_unset", Bool(true)),
            ("-'3'", N(-3.0)),
            ("1 - '1'", N(0.0)),
            ("'3' * '4'", N(12.0)),
            ("7 % 3", N(1.0)),
            ("-7 % 3", N(-1.0)),
            ("1 / 0 > 1e308", Bool(true)),
            ("1 + 2 * 3", N(7.0)),
            ("(1 + 2) * 3", N(9.0)),
            ("1 + 2 + 'x'", s("3x")),
            ("'x' + 1 + 2", s("x12")),
            ("10 - 2 - 3", N(5.0)),
            ("'10' < '9'", Bool(true)),
            ("10 < 9", Bool(false)),
            ("'10' < 9", Bool(false)),
            ("'a' < 1", Bool(false)),
            ("'a' >= 1", Bool(false)),
            ("null >= 0", Bool(true)),
            ("undefined >= 0", Bool(false)),
            ("1 < 2 == true", Bool(true)),
            ("n == s", Bool(true)),
            ("n === s", Bool(false)),
            ("vars.n + 1", N(6.0)),
            ("s + 1", s("51")),
            ("t && n", N(5.0)),
            ("empty || 'fallback'", s("fallback")),
            ("list + ''", s("1,2")),
            ("list == '1,2'", Bool(true)),
            ("obj + ''", s("[object Object]")),
            ("obj.k", s("v")),
            ("obj['k']", s("v")),
            ("list[1]", N(2.0)),
            ("list.length", N(2.0)),
            ("call.from", s("sip:alice@example.com")),
            ("direction == 'inbound'", Bool(true)),
            ("region", s("eu")),
            ("envs.region", s("eu")),
            ("params.lang", s("en")),
            ("'it\\'s'", s("it's")),
            ("\"\\u0041\"", s("A")),
            ("0x10 + 0.5", N(16.5)),
            ("1e3", N(1000.0)),
            ("null + 1", N(1.0)),
            ("undefined + 1 == undefined + 1", Bool(false)),
            (
                "'b' > 'a' && 2 >= 2 && 2 <= 2 && 3 != 4 && 3 !== '3'",
                Bool(true),
            ),
            ("null", Null),
            ("!obj", Bool(false)),
            ("s.length", N(1.0)),
        ];
        for (source, expected) in cases {
            let got = eval(source);
            match (&got, &expected) {
                (N(a), N(b)) => assert!(a == b, "{source}: {got:?} != {expected:?}"),
                _ => assert_eq!(got, expected, "{source}"),
            }
        }
    }

    #[test]
    fn nan_comparisons_are_false() {
        assert_eq!(eval("undefined + 1 < 1"), JsValue::Bool(false));
        assert!(matches!(eval("undefined + 1"), JsValue::Number(n) if n.is_nan()));
        assert_eq!(eval("'x' * 1 == 'x' * 1"), JsValue::Bool(false));
    }

    #[test]
    fn errors_name_the_position() {
        let cases = [
            (
                "1 +",
                "at position 3: expected a value, a name or \"(\", found the end",
            ),
            ("(1", "at position 2: expected \")\", found the end"),
            ("a # b", "at position 2: unexpected character '#'"),
            ("'abc", "at position 0: string literal is not closed"),
            (
                "1 2",
                "at position 2: expected an operator or the end, found number 2",
            ),
            (
                "a.",
                "at position 2: expected a name after \".\", found the end",
            ),
            ("12abc", "at position 0: invalid number \"12abc\""),
            ("a = 1", "at position 2: unexpected character '='"),
        ];
        for (source, message) in cases {
            let err = Expr::parse(source).expect_err("the case is malformed");
            assert_eq!(err.to_string(), message, "{source}");
        }
    }

    #[test]
    fn limits_are_enforced() {
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert!(matches!(
            Expr::parse(&deep),
            Err(SwmlError::ExpressionTooDeep { .. })
        ));
        let chain = vec!["1"; 200].join("+");
        assert!(matches!(
            Expr::parse(&chain),
            Err(SwmlError::ExpressionTooDeep { .. })
        ));
        let nots = "!".repeat(100) + "1";
        assert!(matches!(
            Expr::parse(&nots),
            Err(SwmlError::ExpressionTooDeep { .. })
        ));
        let long = "1".repeat(MAX_EXPRESSION_LEN + 1);
        assert!(matches!(
            Expr::parse(&long),
            Err(SwmlError::ExpressionTooLong { .. })
        ));
        let vars = json!({"big": "x".repeat(40_000)});
        let vars_map = vars.as_object().expect("an object");
        let scopes = Scopes {
            call: &Value::Null,
            vars: vars_map,
            params: &Value::Null,
            envs: &Value::Null,
        };
        let expr = Expr::parse("big + big").expect("parses");
        assert!(matches!(
            expr.evaluate(&scopes),
            Err(SwmlError::StringTooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(source in "\\PC{0,200}") {
            if let Ok(expr) = Expr::parse(&source) {
                let vars = serde_json::Map::new();
                let scopes = Scopes { call: &Value::Null, vars: &vars, params: &Value::Null, envs: &Value::Null };
                let _ = expr.evaluate(&scopes);
            }
        }

        #[test]
        fn operator_soup_never_panics(source in "[-+*/%!=<>&|() .\\[\\]'\"a-c0-9]{0,120}") {
            if let Ok(expr) = Expr::parse(&source) {
                let vars = serde_json::Map::new();
                let scopes = Scopes { call: &Value::Null, vars: &vars, params: &Value::Null, envs: &Value::Null };
                let _ = expr.evaluate(&scopes);
            }
        }

        #[test]
        fn integer_arithmetic_matches(a in -1000_i32..1000, b in -1000_i32..1000) {
            let v = json!({});
            prop_assert_eq!(eval_with(&format!("{a} + {b}"), &v), JsValue::Number(f64::from(a + b)));
            prop_assert_eq!(eval_with(&format!("{a} < {b}"), &v), JsValue::Bool(a < b));
            prop_assert_eq!(eval_with(&format!("'{a}' == {b}"), &v), JsValue::Bool(a == b));
        }
    }
}
