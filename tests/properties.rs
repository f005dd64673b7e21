//! Properties of the strict core over generated inputs, each checked against an oracle
//! written here rather than against the code under test:
//!
//! - the call digest does not depend on member order, insignificant whitespace or how
//!   numbers and strings are spelled;
//! - the canonical form is the one an independent RFC 8785 implementation
//!   (`serde_json_canonicalizer`, over serde_json's reading) writes, and where the two
//!   would spell a number differently countersign refuses the message;
//! - a duplicate key or a number that a double cannot hold, anywhere in a message, is
//!   refused by `parse` and flagged by `scan_envelope`;
//! - `scan_envelope` and `parse`, which check UTF-8 while they scan, accept only bytes
//!   the standard library takes for UTF-8, and read UTF-8 as the scan of checked text does;
//! - the sanitizer never lets a control character (C0, C1, DEL), a bidi control or a
//!   zero-width character through;
//! - `normalize` never returns `.`, `..` or empty segments and never climbs out, and a
//!   `path` rule never matches a path that resolves outside it.
//!
//! The fuzz targets in fuzz/ check the same things on unstructured input
//! (docs/fuzzing.md); these run on every `cargo test` in well under a second.
#![allow(clippy::unwrap_used)]

use countersign::core::classify::Class;
use countersign::core::digest::{call_digest, canonicalize, hex};
use countersign::core::json::{parse, scan_envelope, scan_envelope_str, Ambiguity, Message, Refusal, Value};
use countersign::core::policy::{from_toml, normalize, Action};
use countersign::core::sanitize::{inert, inert_cut};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use sha2::{Digest as _, Sha256};

/// A JSON value as the tests build it: numbers as doubles that are exact by construction.
#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z]{0,4}", "[a-zA-Z0-9_\\-\u{e9}\u{20ac}\u{1f600}\u{fb33}\"\\\\/\u{0}-\u{1f}]{0,5}", "\\PC{0,4}",]
}

fn json() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        // Every integer up to 2^53 in magnitude is exact.
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(J::Int),
        (-1000i64..1000).prop_map(J::Int),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(J::Float),
        (-1e6f64..1e6).prop_map(J::Float),
        "\\PC{0,10}".prop_map(J::Str),
        "[\u{0}-\u{1f}\"\\\\/\u{7f}-\u{a0}\u{2028}\u{202e}\u{fffd}\u{1f600}a]{0,6}".prop_map(J::Str),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(J::Arr),
            // Unique keys: a map, turned into members.
            prop::collection::btree_map(key(), inner, 0..5).prop_map(|m| J::Obj(m.into_iter().collect())),
        ]
    })
}

/// A small deterministic generator driving the choices of one spelling.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Insignificant whitespace (RFC 8259: space, tab, LF, CR), often none.
    fn ws(&mut self, out: &mut String) {
        for _ in 0..self.pick(4).saturating_sub(1) {
            out.push([' ', '\t', '\n', '\r'][self.pick(4)]);
        }
    }
}

/// Writes `v` as JSON with a shuffled member order, random whitespace between tokens, and
/// numbers and strings in one of several equivalent spellings.
fn spell(v: &J, c: &mut Choices, out: &mut String) {
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Int(i) => match c.pick(4) {
            0 => out.push_str(&i.to_string()),
            1 => out.push_str(&format!("{i}.0")),
            2 => out.push_str(&format!("{i}e0")),
            _ => out.push_str(&format!("{}", *i as f64)),
        },
        J::Float(f) => float(*f, c, out),
        J::Str(s) => string(s, c, out),
        J::Arr(items) => {
            out.push('[');
            c.ws(out);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    c.ws(out);
                }
                spell(item, c, out);
                c.ws(out);
            }
            out.push(']');
        }
        J::Obj(members) => {
            let mut order: Vec<&(String, J)> = members.iter().collect();
            for i in (1..order.len()).rev() {
                order.swap(i, c.pick(i + 1));
            }
            out.push('{');
            c.ws(out);
            for (i, (k, item)) in order.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    c.ws(out);
                }
                string(k, c, out);
                c.ws(out);
                out.push(':');
                c.ws(out);
                spell(item, c, out);
                c.ws(out);
            }
            out.push('}');
        }
    }
}

/// A double in one of several spellings of the decimal that JCS writes for it (ECMAScript's
/// shortest, closest form): as is, or as `digits × 10^exponent` with padding zeros and
/// either exponent letter. Rust's and serde_json's shortest forms are not used: where two
/// 17-digit decimals are equally close to a double they pick the other one, a different
/// value that JCS would change, which countersign refuses.
fn float(f: f64, c: &mut Choices, out: &mut String) {
    let mut buffer = ryu_js::Buffer::new();
    let shortest = buffer.format_finite(f);
    let (sign, unsigned) = match shortest.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", shortest),
    };
    let (mantissa, exponent) = match unsigned.split_once('e') {
        Some((m, e)) => (m, e.parse::<i64>().expect("exponent")),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int}{frac}");
    let digits = all.trim_start_matches('0');
    let exponent = exponent - frac.len() as i64;
    let zeros = "0".repeat(c.pick(3));
    match c.pick(4) {
        0 => out.push_str(shortest),
        _ if digits.is_empty() => out.push_str(["0.0", "-0", "0e7", "0E-3"][c.pick(4)]),
        1 => out.push_str(&format!("{sign}{digits}{zeros}e{}", exponent - zeros.len() as i64)),
        2 => out.push_str(&format!("{sign}0.{digits}{zeros}E{:+}", exponent + digits.len() as i64)),
        _ => out.push_str(&format!("{sign}{digits}.0{zeros}E{exponent}")),
    }
}

/// A JSON string with each character written plainly or as a `\u` escape (surrogate pairs
/// beyond the BMP, either hex case), or a short escape where one exists.
fn string(s: &str, c: &mut Choices, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        let must_escape = ch < ' ' || ch == '"' || ch == '\\';
        match c.pick(3) {
            0 if !must_escape => out.push(ch),
            1 => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    if c.pick(2) == 0 {
                        out.push_str(&format!("\\u{unit:04x}"));
                    } else {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
            }
            _ => match ch {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' => out.push_str("\\/"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            },
        }
    }
    out.push('"');
}

fn spelled(v: &J, seed: u64) -> String {
    let mut c = Choices(seed | 1);
    let mut out = String::new();
    c.ws(&mut out);
    spell(v, &mut c, &mut out);
    c.ws(&mut out);
    out
}

fn jcs(v: &Value<'_>) -> String {
    let mut out = String::new();
    canonicalize(v, &mut out);
    out
}

/// The oracle: RFC 8785 as `serde_json_canonicalizer` writes it, over serde_json's reading
/// of `text` (`None` when serde_json refuses it).
fn oracle(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    serde_json_canonicalizer::to_string(&value).ok()
}

/// The call digest computed from the oracle's canonical form of the whole payload.
fn oracle_call_digest(name: &str, arguments: &str) -> Option<String> {
    let payload = format!(r#"{{"name":{},"arguments":{arguments}}}"#, serde_json::to_string(name).ok()?);
    Some(format!("sha256:{}", hex(&Sha256::digest(oracle(&payload)?.as_bytes()))))
}

/// A decimal number as (significant digits, exponent) with `0.digits × 10^exponent` its
/// magnitude, so two spellings compare as the decimals they denote.
fn decimal(text: &str) -> (bool, String, i64) {
    let negative = text.starts_with('-');
    let unsigned = text.trim_start_matches('-');
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().expect("exponent")),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int}{frac}");
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_matches('0').to_owned();
    if digits.is_empty() {
        return (false, digits, 0);
    }
    (negative, digits, exponent + int.len() as i64 - leading as i64)
}

/// One spelling of a number, checked against the oracle: when countersign accepts it, its
/// canonical form is the oracle's; when it refuses it, the refusal names the number and the
/// oracle would have written another decimal than the one sent (docs/design.md, "Numbers
/// at a 17-digit tie").
fn number_agrees_with_oracle(text: &str) -> Result<(), TestCaseError> {
    let theirs = oracle(text).ok_or_else(|| TestCaseError::fail(format!("serde_json refuses {text}")))?;
    match parse(text.as_bytes()) {
        Ok(v) => prop_assert_eq!(jcs(&v), theirs, "{}", text),
        Err(Refusal::Ambiguous(Ambiguity::Number(_))) => {
            prop_assert_ne!(decimal(text), decimal(&theirs), "{} refused, but JCS keeps its decimal", text)
        }
        Err(e) => return Err(TestCaseError::fail(format!("{text} refused: {e:?}"))),
    }
    Ok(())
}

/// An MCP `tools/call` line whose arguments are `arguments` (raw JSON text).
fn call_line(arguments: &str) -> String {
    format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"t","arguments":{arguments}}}}}"#)
}

/// `parse` refuses `line` as ambiguous, and `scan_envelope` accepts it but flags it.
fn refused_and_flagged(line: &str) -> Result<(), TestCaseError> {
    match parse(line.as_bytes()) {
        Err(Refusal::Ambiguous(_)) => {}
        other => return Err(TestCaseError::fail(format!("parse gave {other:?} for {line}"))),
    }
    match scan_envelope(line.as_bytes()) {
        Ok(Message::Single(env)) => prop_assert!(env.ambiguity.is_some(), "not flagged: {}", line),
        other => return Err(TestCaseError::fail(format!("scan_envelope gave {other:?} for {line}"))),
    }
    Ok(())
}

/// Puts `member` (raw `"key":value` text) into the object at some depth of `v`'s spelling,
/// wrapping `v` in objects and arrays as needed.
fn with_member(v: &J, member: &str, depth: usize, seed: u64) -> String {
    let mut inner = format!("{{{member},\"v\":{}}}", spelled(v, seed));
    for level in 0..depth {
        inner = if level % 2 == 0 { format!("[1,{inner}]") } else { format!("{{\"x{level}\":{inner}}}") };
    }
    inner
}

/// Numbers that no double holds exactly: odd integers above 2^53 + 1, decimals with 20 or
/// more significant digits, and magnitudes beyond the double range.
/// Bytes to put into a message (`true`) or write over it: characters of every length,
/// and the ways UTF-8 goes wrong (a stray continuation byte, a sequence cut short, an
/// overlong form, an encoded surrogate, past U+10FFFF, bytes that never occur).
fn utf8_edit() -> impl Strategy<Value = (bool, Vec<u8>)> {
    let piece = prop_oneof![
        "[a\u{e9}\u{20ac}\u{1f600}\u{fb33}\"\\\\]{1,3}".prop_map(String::into_bytes),
        Just(vec![0x80]),
        Just(vec![0xc3]),
        Just(vec![0xe2, 0x82]),
        Just(vec![0xf0, 0x9f, 0x98]),
        Just(vec![0xc0, 0xaf]),
        Just(vec![0xed, 0xa0, 0x80]),
        Just(vec![0xf4, 0x90, 0x80, 0x80]),
        Just(vec![0xff]),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    (any::<bool>(), piece)
}

/// `parse` over text known to be UTF-8, through the raw view (which scans it as checked).
fn parse_checked(text: &str) -> Result<Value<'_>, Refusal> {
    countersign::core::json::Raw::new(text).parse()
}

fn lossy_number() -> impl Strategy<Value = String> {
    prop_oneof![
        // Every double above 2^53 is even, so an odd integer there has no double.
        (0u64..(1u64 << 62)).prop_map(|k| ((1u64 << 53) + 1 + 2 * k).to_string()),
        (1u64..1000).prop_map(|k| ((1u64 << 53) + 2 * k + 1).to_string()),
        "[1-9][0-9]{16,40}[13579]",
        // 20+ significant digits (the last one nonzero): a double's shortest form has at
        // most 17, so the text cannot be that form.
        "0\\.[0-9]{0,5}[1-9][0-9]{18,30}[1-9]",
        "[1-9]\\.[0-9]{18,30}[1-9](e[+-]?[0-9]{1,2})?",
        "[1-9][0-9]{2,8}\\.[0-9]{16,30}[1-9]",
        // Outside the double range: infinity, or a nonzero value that becomes zero.
        "[1-9](\\.[0-9]{1,3})?[eE]\\+?(3[1-9][0-9]|[4-9][0-9]{2}|[1-9][0-9]{3,6})",
        "[1-9](\\.[0-9]{1,3})?[eE]-([4-9][0-9]{2}|[1-9][0-9]{3,6})",
    ]
    .prop_flat_map(|n| (Just(n), any::<bool>()))
    .prop_map(|(n, negative)| if negative { format!("-{n}") } else { n })
}

/// What the sanitizer promises to keep out, written independently of `is_unsafe`.
fn forbidden(c: char) -> bool {
    c.is_control() // C0, DEL, C1
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
        || matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,30}",
        "[\u{0}-\u{a0}\u{61c}\u{200b}-\u{200f}\u{2028}-\u{202e}\u{2060}-\u{2069}\u{feff}\u{e0000}-\u{e007f}a\\\\u{}]{0,40}",
    ]
}

/// A path from segments that are often `.`, `..` or empty.
fn path() -> impl Strategy<Value = String> {
    (prop::collection::vec(prop_oneof!["", "\\.", "\\.\\.", "[a-z]{1,3}", "\\.[a-z.]{1,3}"], 0..10), any::<bool>())
        .prop_map(|(parts, absolute)| format!("{}{}", if absolute { "/" } else { "" }, parts.join("/")))
}

/// Lexical resolution by a stack, the oracle for `normalize`: `None` when it climbs out.
fn resolve(path: &str) -> Option<Vec<&str>> {
    let mut stack = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                stack.pop()?;
            }
            name => stack.push(name),
        }
    }
    Some(stack)
}

const SCRATCH_POLICY: &str = r#"
[[rules]]
id = "scratch"
tool = "write_file"
action = "allow"
[rules.args]
"/path" = { path = "/home/me/scratch/**" }
"#;

proptest! {
    // Regressions live beside this file (tests/properties.proptest-regressions). Found by
    // default, they would go to a folder at the top of the project, since tests/ holds
    // the binary's main.rs.
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn digest_is_blind_to_member_order_whitespace_and_spelling(v in json(), a in any::<u64>(), b in any::<u64>()) {
        let (one, two) = (spelled(&v, a), spelled(&v, b));
        let x = parse(one.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {one}")))?;
        let y = parse(two.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {two}")))?;
        prop_assert_eq!(jcs(&x), jcs(&y), "{} vs {}", one, two);
        let (x, y) = (Value::Object(vec![("v".into(), x)]), Value::Object(vec![("v".into(), y)]));
        prop_assert_eq!(call_digest("tool", Some(&x)), call_digest("tool", Some(&y)));
        // The canonical form is a fixed point.
        let canonical = jcs(&x);
        prop_assert_eq!(jcs(&parse(canonical.as_bytes()).unwrap()), canonical.clone());
        // It is what an independent implementation writes, and so is the digest.
        prop_assert_eq!(oracle(&one), Some(jcs(&parse(one.as_bytes()).unwrap())), "{}", one);
        prop_assert_eq!(oracle_call_digest("tool", &one), Some(call_digest("tool", Some(&parse(one.as_bytes()).unwrap()))));
        // And the whole message scans clean.
        let line = call_line(&one);
        match scan_envelope(line.as_bytes()) {
            Ok(Message::Single(env)) => prop_assert_eq!(env.ambiguity, None),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn utf8_checked_while_scanning_is_utf8(
        v in json(),
        seed in any::<u64>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), utf8_edit()), 0..4),
    ) {
        // A message with bytes put in or written over anywhere: in strings, keys, numbers,
        // between tokens.
        let mut bytes = call_line(&spelled(&v, seed)).into_bytes();
        for (at, (insert, edit)) in &edits {
            let at = at.index(bytes.len());
            let end = if *insert { at } else { (at + edit.len()).min(bytes.len()) };
            bytes.splice(at..end, edit.iter().copied());
        }
        match std::str::from_utf8(&bytes) {
            Err(_) => {
                prop_assert!(scan_envelope(&bytes).is_err(), "{:?}", bytes);
                prop_assert!(parse(&bytes).is_err(), "{:?}", bytes);
            }
            Ok(text) => {
                prop_assert_eq!(scan_envelope(&bytes), scan_envelope_str(text));
                prop_assert_eq!(parse(&bytes), parse_checked(text));
            }
        }
    }

    #[test]
    fn numbers_are_canonical_as_the_oracle_writes_them_or_refused(
        bits in any::<u64>(),
        // Where 17-digit ties are common: magnitudes near 2^50 with a fractional part.
        near in 1e14f64..1e16,
        small in -1e3f64..1e3,
    ) {
        for f in [f64::from_bits(bits), near, -near, small] {
            if !f.is_finite() {
                continue;
            }
            let mut js = ryu_js::Buffer::new();
            // ECMAScript's form, Rust's two shortest forms, and serde_json's (ryu).
            for text in [js.format_finite(f).to_owned(), format!("{f}"), format!("{f:e}"), serde_json::to_string(&f).unwrap()] {
                number_agrees_with_oracle(&text)?;
            }
        }
    }

    #[test]
    fn a_duplicate_key_anywhere_is_refused_and_flagged(
        v in json(),
        k in "[a-z\u{e9}\u{1f600}]{1,4}",
        escape_second in any::<bool>(),
        depth in 0usize..5,
        seed in any::<u64>(),
    ) {
        let mut c = Choices(seed | 1);
        let mut first = String::new();
        string(&k, &mut c, &mut first);
        // The same key in another spelling is the same key.
        let second = if escape_second {
            let units: String = k.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
            format!("\"{units}\"")
        } else {
            format!("\"{k}\"")
        };
        let member = format!("{first}:1,{second}:{}", spelled(&v, seed));
        refused_and_flagged(&call_line(&with_member(&v, &member, depth, seed)))?;
        // At the top level of the message too.
        refused_and_flagged(&format!(r#"{{"jsonrpc":"2.0","id":1,{first}:1,"method":"x",{second}:2}}"#))?;
    }

    #[test]
    fn a_number_no_double_holds_is_refused_and_flagged(
        n in lossy_number(),
        v in json(),
        depth in 0usize..5,
        seed in any::<u64>(),
    ) {
        refused_and_flagged(&call_line(&with_member(&v, &format!("\"n\":{n}"), depth, seed)))?;
        refused_and_flagged(&format!(r#"{{"jsonrpc":"2.0","id":{n},"method":"x"}}"#))?;
        refused_and_flagged(&format!(r#"{{"jsonrpc":"2.0","id":1,"result":{{"content":[],"isError":false,"n":[{n}]}}}}"#))?;
    }

    #[test]
    fn the_sanitizer_lets_no_control_bidi_or_zero_width_through(s in text(), max in 0usize..50) {
        let safe = inert(&s);
        prop_assert!(!safe.chars().any(forbidden), "{:?} -> {:?}", s, safe);
        // Nothing but what is escaped changes: ordinary text reads the same.
        let plain: String = s.chars().filter(|c| c.is_alphanumeric() || *c == ' ').collect();
        let kept: String = safe.chars().filter(|c| c.is_alphanumeric() || *c == ' ').collect();
        prop_assert!(plain.chars().all(|c| kept.contains(c)), "{:?} -> {:?}", s, safe);
        let cut = inert_cut(&s, max);
        prop_assert!(!cut.chars().any(forbidden), "{:?} -> {:?}", s, cut);
        prop_assert!(cut.starts_with(&safe.chars().take(max).collect::<String>()));
    }

    #[test]
    fn normalize_never_climbs_out(p in path()) {
        let got = normalize(&p);
        let oracle = resolve(&p);
        prop_assert_eq!(got.is_some(), oracle.is_some(), "{:?} -> {:?}", p, got);
        if let (Some(n), Some(stack)) = (got, oracle) {
            for bad in ["/../", "/./", "//"] {
                prop_assert!(!n.contains(bad), "{:?} -> {:?}", p, n);
            }
            let body = n.strip_prefix('/').unwrap_or(&n);
            prop_assert!(body.is_empty() || !body.split('/').any(|s| matches!(s, "" | "." | "..")), "{:?} -> {:?}", p, n);
            prop_assert_eq!(n.starts_with('/'), p.starts_with('/'), "{:?} -> {:?}", p, n);
            prop_assert_eq!(body, stack.join("/"));
            prop_assert_eq!(normalize(&n), Some(n.clone()), "not idempotent");
        }
    }

    #[test]
    fn a_path_rule_never_matches_outside_its_tree(p in path(), prefix in prop_oneof![Just(""), Just("/home/me/scratch/"), Just("/home/me/scratch/../")]) {
        let policy = from_toml(SCRATCH_POLICY).unwrap();
        let value = format!("{prefix}{p}");
        let args = serde_json::json!({ "path": value }).to_string();
        let verdict = policy.evaluate("fs", "write_file", Class::Destructive, countersign::core::json::Raw::new(&args));
        let inside = value.starts_with('/')
            && resolve(&value).is_some_and(|s| s.len() > 3 && s[..3] == ["home", "me", "scratch"]);
        prop_assert_eq!(verdict.action == Action::Allow, inside, "{:?} gave {:?}", value, verdict);
    }
}

/// The example behind docs/design.md's "Numbers at a 17-digit tie": 1658206780088562.25 is
/// the double, and 1658206780088562.2 and …2.3 are equally close to it. ECMAScript (and so
/// RFC 8785) writes the even one; Rust writes the other, which countersign refuses.
#[test]
fn a_17_digit_tie_is_written_as_ecmascript_does_and_the_other_spelling_is_refused() {
    // Exactly a double (a quarter is the step there); as a literal clippy would call it
    // too precise, by Rust's own shortest form.
    let double: f64 = "1658206780088562.25".parse().unwrap();
    assert_eq!((double - 1658206780088562.0, double.fract()), (0.25, 0.25));
    assert_eq!(format!("{double:e}"), "1.6582067800885623e15");
    assert_eq!(oracle("1.6582067800885623e15").as_deref(), Some("1658206780088562.2"));
    assert!(matches!(parse(b"1.6582067800885623e15"), Err(Refusal::Ambiguous(Ambiguity::Number(_)))));
    assert_eq!(jcs(&parse(b"1658206780088562.2").unwrap()), "1658206780088562.2");
    number_agrees_with_oracle("1.6582067800885623e15").unwrap();
    number_agrees_with_oracle("1658206780088562.2").unwrap();
}
