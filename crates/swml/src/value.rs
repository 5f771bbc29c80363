//! [`JsValue`]: a value as an SWML expression sees it, with JavaScript's conversions
//! (ECMA-262 §7.1 ToBoolean, ToNumber, ToString, ToPrimitive) and comparisons
//! (§7.2.13 IsLessThan, §7.2.14 IsLooselyEqual, §7.2.15 IsStrictlyEqual).
//!
//! Objects and arrays come from variables (JSON); their primitive form is what JavaScript's
//! default `toString` gives (`[object Object]`, elements joined by commas). Two objects are
//! never equal to each other, as two distinct JavaScript objects are not.

use serde_json::Value;

/// A value during expression evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum JsValue {
    /// An unset path.
    Undefined,
    /// JSON `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Every number is an IEEE double, as in JavaScript.
    Number(f64),
    /// A string.
    String(String),
    /// A JSON object or array taken from a variable.
    Object(Value),
}

impl JsValue {
    /// The value of a JSON value found at a path.
    pub fn from_json(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) => Self::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Self::String(s.clone()),
            Value::Array(_) | Value::Object(_) => Self::Object(value.clone()),
        }
    }

    /// The value as JSON (`undefined` becomes `null`; non-finite numbers too, as
    /// `JSON.stringify` does).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Undefined | Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Number(n) => number_to_json(*n),
            Self::String(s) => Value::String(s.clone()),
            Self::Object(v) => v.clone(),
        }
    }

    /// ToBoolean.
    pub fn truthy(&self) -> bool {
        match self {
            Self::Undefined | Self::Null => false,
            Self::Bool(b) => *b,
            Self::Number(n) => *n != 0.0 && !n.is_nan(),
            Self::String(s) => !s.is_empty(),
            Self::Object(_) => true,
        }
    }

    /// ToNumber.
    pub fn to_number(&self) -> f64 {
        match self {
            Self::Undefined => f64::NAN,
            Self::Null => 0.0,
            Self::Bool(b) => f64::from(u8::from(*b)),
            Self::Number(n) => *n,
            Self::String(s) => string_to_number(s),
            Self::Object(_) => string_to_number(&self.to_js_string()),
        }
    }

    /// ToString, as `String(value)` gives it.
    pub fn to_js_string(&self) -> String {
        match self {
            Self::Undefined => "undefined".to_owned(),
            Self::Null => "null".to_owned(),
            Self::Bool(b) => b.to_string(),
            Self::Number(n) => number_to_string(*n),
            Self::String(s) => s.clone(),
            Self::Object(v) => json_to_js_string(v),
        }
    }

    /// The text that `%{…}` substitution puts in place of the value: like ToString, except
    /// that unset and `null` become the empty string and objects become JSON.
    pub fn to_template_string(&self) -> String {
        match self {
            Self::Undefined | Self::Null => String::new(),
            Self::Object(v) => v.to_string(),
            _ => self.to_js_string(),
        }
    }

    fn is_nullish(&self) -> bool {
        matches!(self, Self::Undefined | Self::Null)
    }

    /// ToPrimitive with the default hint: objects become their string form.
    fn to_primitive(&self) -> Self {
        match self {
            Self::Object(v) => Self::String(json_to_js_string(v)),
            other => other.clone(),
        }
    }

    /// `===`.
    pub fn strict_equals(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Undefined, Self::Undefined) | (Self::Null, Self::Null) => true,
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Number(a), Self::Number(b)) => a == b,
            (Self::String(a), Self::String(b)) => a == b,
            _ => false,
        }
    }

    /// `==`.
    pub fn loose_equals(&self, other: &Self) -> bool {
        match (self, other) {
            (a, b) if a.is_nullish() && b.is_nullish() => true,
            (a, b) if a.is_nullish() || b.is_nullish() => false,
            (Self::Object(_), Self::Object(_)) => false,
            (Self::Number(a), Self::String(_)) => *a == other.to_number(),
            (Self::String(_), Self::Number(b)) => self.to_number() == *b,
            (Self::Bool(_), _) => Self::Number(self.to_number()).loose_equals(other),
            (_, Self::Bool(_)) => self.loose_equals(&Self::Number(other.to_number())),
            (Self::Object(_), _) => self.to_primitive().loose_equals(other),
            (_, Self::Object(_)) => self.loose_equals(&other.to_primitive()),
            (a, b) => a.strict_equals(b),
        }
    }

    /// IsLessThan: `Some(self < other)`, or `None` when a NaN makes the comparison undefined.
    pub fn less_than(&self, other: &Self) -> Option<bool> {
        let (a, b) = (self.to_primitive(), other.to_primitive());
        if let (Self::String(a), Self::String(b)) = (&a, &b) {
            // JavaScript compares strings by UTF-16 code units.
            return Some(a.encode_utf16().lt(b.encode_utf16()));
        }
        let (a, b) = (a.to_number(), b.to_number());
        if a.is_nan() || b.is_nan() {
            None
        } else {
            Some(a < b)
        }
    }

    /// The `+` operator: concatenation when either primitive is a string, else addition.
    pub fn add(&self, other: &Self) -> Self {
        let (a, b) = (self.to_primitive(), other.to_primitive());
        if matches!(a, Self::String(_)) || matches!(b, Self::String(_)) {
            let mut s = a.to_js_string();
            s.push_str(&b.to_js_string());
            Self::String(s)
        } else {
            Self::Number(a.to_number() + b.to_number())
        }
    }
}

fn number_to_json(n: f64) -> Value {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        // Exact: |n| < 2^53.
        #[allow(
            clippy::cast_possible_truncation,
            reason = "n is integral and below 2^53"
        )]
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// ToNumber on a string (ECMA-262 §7.1.4.1.1 StringToNumber).
fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return 0.0;
    }
    let radix = |prefix: &[&str], radix: u32| {
        prefix.iter().find_map(|p| t.strip_prefix(p)).map(|digits| {
            if digits.is_empty() {
                return f64::NAN;
            }
            digits
                .chars()
                .try_fold(0.0_f64, |acc, c| {
                    c.to_digit(radix)
                        .map(|d| acc * f64::from(radix) + f64::from(d))
                })
                .unwrap_or(f64::NAN)
        })
    };
    if let Some(n) = radix(&["0x", "0X"], 16)
        .or_else(|| radix(&["0o", "0O"], 8))
        .or_else(|| radix(&["0b", "0B"], 2))
    {
        return n;
    }
    let (sign, body) = match t.as_bytes()[0] {
        b'+' => (1.0, &t[1..]),
        b'-' => (-1.0, &t[1..]),
        _ => (1.0, t),
    };
    if body == "Infinity" {
        return sign * f64::INFINITY;
    }
    // Rust accepts spellings JavaScript does not ("inf", "nan", "1e"); only digits, one dot
    // and an exponent may reach the parser.
    let valid = !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
        && body
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c == '.');
    if !valid {
        return f64::NAN;
    }
    body.parse::<f64>().map_or(f64::NAN, |n| sign * n)
}

/// Number::toString for the values SWML meets: integers without a fraction, `NaN`,
/// `Infinity`, and Rust's shortest round-trip digits otherwise.
pub(crate) fn number_to_string(n: f64) -> String {
    if n.is_nan() {
        "NaN".to_owned()
    } else if n.is_infinite() {
        if n > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else if n == 0.0 {
        "0".to_owned()
    } else if n.abs() >= 1e21 || n.abs() < 1e-6 {
        let s = format!("{n:e}");
        // JavaScript writes the exponent's sign: 1e+21, 1e-7.
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{n}")
    }
}

fn json_to_js_string(v: &Value) -> String {
    match v {
        Value::Array(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|item| match item {
                    Value::Null => String::new(),
                    other => JsValue::from_json(other).to_js_string(),
                })
                .collect();
            parts.join(",")
        }
        Value::Object(_) => "[object Object]".to_owned(),
        other => JsValue::from_json(other).to_js_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_number_follows_javascript() {
        for (s, n) in [
            ("", 0.0),
            ("  12 ", 12.0),
            ("0x1f", 31.0),
            ("-1.5", -1.5),
            ("1e3", 1000.0),
            (".5", 0.5),
            ("Infinity", f64::INFINITY),
        ] {
            assert_eq!(string_to_number(s), n, "{s:?}");
        }
        for s in ["abc", "1e", "inf", "nan", "0x", "1 2", "--1", "+"] {
            assert!(string_to_number(s).is_nan(), "{s:?}");
        }
    }

    #[test]
    fn numbers_print_as_javascript_does() {
        for (n, s) in [
            (1.0, "1"),
            (-0.0, "0"),
            (0.5, "0.5"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (f64::NAN, "NaN"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(number_to_string(n), s);
        }
    }
}
