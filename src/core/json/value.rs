//! A JSON tree that borrows from the message it was read from.
//!
//! Numbers keep their original text (the gate compares and canonicalizes them itself);
//! strings borrow unless they contained escapes. Object members keep their order, and the
//! strict scanner guarantees their keys are unique.

use std::borrow::Cow;

pub type Map<'a> = Vec<(Cow<'a, str>, Value<'a>)>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    Object(Map<'a>),
}

impl<'a> Value<'a> {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as a double (the scanner guarantees the conversion is exact).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(Cow::Owned(n.into_owned())),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(items) => Value::Array(items.into_iter().map(Value::into_owned).collect()),
            Value::Object(members) => {
                Value::Object(members.into_iter().map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned())).collect())
            }
        }
    }

    /// Converts to a `serde_json::Value` (for records and display; numbers become doubles,
    /// which the scanner guarantees is exact).
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => number_to_serde(n),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(items) => serde_json::Value::Array(items.iter().map(Value::to_serde).collect()),
            Value::Object(members) => {
                serde_json::Value::Object(members.iter().map(|(k, v)| (k.to_string(), v.to_serde())).collect())
            }
        }
    }
}

/// A number as serde_json holds it: integers as integers, everything else as the double
/// that `str::parse` (correctly rounded, as RFC 8785 and every JavaScript peer read it)
/// gives. serde_json's own float reading is only best-effort without its `float_roundtrip`
/// feature and can land one ulp away (`5.1E+25` became `5.0999999999999995e25`), which
/// would show the approver and the audit log a different number from the one digested
/// and executed.
fn number_to_serde(text: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Number>(text) {
        Ok(n) if !n.is_f64() => serde_json::Value::Number(n),
        _ => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
    }
}

#[cfg(test)]
mod tests {
    use crate::core::json::parse;

    /// Found by the `digest` fuzz target: serde_json read `5.1E+25` one ulp low.
    #[test]
    fn to_serde_keeps_the_exact_double() {
        for text in [
            "5.1E+25",
            "5.1e+25",
            "1.7976931348623157e308",
            "0.1",
            "-0",
            "1.0",
            "42",
            "-42",
            "9007199254740992",
            "1e21",
        ] {
            let v = parse(text.as_bytes()).unwrap().to_serde();
            let exact: f64 = text.parse().unwrap();
            assert_eq!(v.as_f64(), Some(exact), "{text}");
            // What the approver and the log show reads back as the same double.
            assert_eq!(v.to_string().parse::<f64>().unwrap(), exact, "{text}");
        }
        assert!(parse(b"42").unwrap().to_serde().is_u64(), "integers stay integers");
        assert!(parse(b"-42").unwrap().to_serde().is_i64(), "integers stay integers");
        let nested = parse(br#"{"a":[5.1E+25]}"#).unwrap().to_serde();
        assert_eq!(nested["a"][0].as_f64(), Some(5.1e25));
    }
}
