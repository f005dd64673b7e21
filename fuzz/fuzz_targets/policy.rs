//! The policy loader and matchers: `from_toml` never panics on any text, evaluating a
//! loaded policy against any JSON arguments never panics, and `normalize` never returns a
//! path that still holds `.`, `..` or an empty segment.
//!
//! Input: policy text, then optionally a 0xFF byte (never valid UTF-8) and the arguments.
#![no_main]

mod common;

use countersign::core::classify::Class;
use countersign::core::json::{number_round_trips, parse, Value};
use countersign::core::policy::{from_toml, normalize, Matcher};
use libfuzzer_sys::fuzz_target;

fn check_normalize(path: &str) {
    let Some(n) = normalize(path) else { return };
    for bad in ["/../", "/./", "//"] {
        assert!(!n.contains(bad), "normalize({path:?}) = {n:?} contains {bad:?}");
    }
    let body = n.strip_prefix('/').unwrap_or(&n);
    if !body.is_empty() {
        for seg in body.split('/') {
            assert!(!matches!(seg, "" | "." | ".."), "normalize({path:?}) = {n:?} keeps segment {seg:?}");
        }
    }
    assert_eq!(n.starts_with('/'), path.starts_with('/'), "normalize({path:?}) = {n:?} changed rootedness");
    assert_eq!(normalize(&n).as_deref(), Some(n.as_str()), "normalize is not idempotent on {path:?}");
}

/// Every number a policy compares with is one a message could carry: exact as a double.
fn exact(value: &Value<'_>) {
    match value {
        Value::Number(n) => assert!(number_round_trips(n), "policy holds the inexact number {n}"),
        Value::Array(items) => items.iter().for_each(exact),
        Value::Object(members) => members.iter().for_each(|(_, v)| exact(v)),
        _ => {}
    }
}

fn check_matcher(m: &Matcher) {
    match m {
        Matcher::Equals(v) => exact(v),
        Matcher::OneOf(vs) => vs.iter().for_each(exact),
        Matcher::Compare(_, bound) => assert!(bound.is_finite()),
        // The author's regex is matched whole: it must be a regex on its own, so that the
        // anchoring group around it cannot be closed from inside.
        Matcher::Regex(r) => {
            let inner = r.as_str().strip_prefix("^(?:").and_then(|s| s.strip_suffix(")$")).expect("anchored");
            assert!(regex::Regex::new(inner).is_ok(), "regex {inner:?} is not a regex alone, yet was accepted");
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let (text, args) = match data.iter().position(|&b| b == 0xff) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let args = args.and_then(|a| parse(a).ok());
    for line in text.lines() {
        check_normalize(line);
    }
    if let Some(args) = &args {
        let mut all = Vec::new();
        common::strings(args, &mut all);
        all.into_iter().for_each(check_normalize);
    }

    let Ok(policy) = from_toml(text) else { return };
    let _ = policy.to_string();
    for rule in &policy.rules {
        rule.args.iter().flat_map(|(_, ms)| ms).for_each(check_matcher);
    }
    let mut names: Vec<(&str, &str)> = vec![("", ""), ("bank", "refund"), ("fs", "write_file")];
    for rule in &policy.rules {
        let server = rule.server.as_ref().map_or("s", |s| s.text.as_str());
        names.push((server, rule.tool.text.as_str()));
    }
    for (server, tool) in names {
        for class in Class::ALL {
            let verdict = policy.evaluate(server, tool, class, args.as_ref());
            assert!(!verdict.rule.is_empty());
        }
    }
});
