//! Checks shared by the fuzz targets.
#![allow(dead_code)]

use countersign::core::digest::canonicalize;
use countersign::core::json::{parse, scan_envelope, Message, Value};

/// The JCS form of `value`.
pub fn jcs(value: &Value<'_>) -> String {
    let mut out = String::new();
    canonicalize(value, &mut out);
    out
}

/// Canonicalization is idempotent: its output parses, and canonicalizes to itself.
pub fn check_idempotent(value: &Value<'_>) -> String {
    let first = jcs(value);
    let reparsed = parse(first.as_bytes()).unwrap_or_else(|e| panic!("canonical form refused ({e}): {first:?}"));
    let second = jcs(&reparsed);
    assert_eq!(first, second, "canonicalization is not idempotent");
    first
}

/// Is an ambiguity reported anywhere the relay looks: a single message's envelope, or
/// (as the relay does for batches) each element re-scanned on its own.
pub fn visible_ambiguity(bytes: &[u8]) -> bool {
    match scan_envelope(bytes).expect("re-scanning a validated span") {
        Message::Single(env) => env.ambiguity.is_some(),
        Message::Batch(items) => items.iter().any(|item| visible_ambiguity(item.as_bytes())),
        Message::Other => false,
    }
}

/// JSON equality with numbers compared as doubles (serde_json keeps `1` and `1.0` apart).
pub fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Null, J::Null) => true,
        (J::Bool(x), J::Bool(y)) => x == y,
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::String(x), J::String(y)) => x == y,
        (J::Array(x), J::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q)),
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => false,
    }
}

/// Every string anywhere in `value`, keys included.
pub fn strings<'v>(value: &'v Value<'_>, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(members) => {
            for (k, v) in members {
                out.push(k);
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// `ours` (from `Value::to_serde`) holds exactly the doubles the scanner read: each number
/// equals `str::parse::<f64>` of its text, which is correctly rounded.
pub fn exact_numbers(value: &Value<'_>, ours: &serde_json::Value) {
    use serde_json::Value as J;
    match (value, ours) {
        (Value::Number(text), J::Number(n)) => {
            let exact: f64 = text.parse().expect("scanned number parses");
            assert_eq!(n.as_f64(), Some(exact), "to_serde changed the number {text}");
        }
        (Value::Array(items), J::Array(theirs)) => {
            assert_eq!(items.len(), theirs.len());
            items.iter().zip(theirs).for_each(|(v, j)| exact_numbers(v, j));
        }
        (Value::Object(members), J::Object(theirs)) => {
            for (k, v) in members {
                exact_numbers(v, theirs.get(&**k).expect("to_serde kept every key"));
            }
        }
        (Value::Number(text), other) => panic!("to_serde turned the number {text} into {other}"),
        _ => {}
    }
}
