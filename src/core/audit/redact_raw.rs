//! Redaction read straight from a call's JSON text: the same text as
//! [`redact`](super::redact::redact) on the tree of that text gives, without building a
//! tree.
//!
//! Only what the record shows is decoded: at most [`MAX_ITEMS`] members or elements per
//! level, [`MAX_DEPTH`] levels, [`MAX_STRING`] characters per string. The rest is counted
//! by skipping it. Secret checks use the predicates of `redact` on the decoded text; a
//! long string with escapes is decoded and checked a window at a time (overlapping, so a
//! secret shorter than the overlap is never missed; a window edge can only add a match),
//! so that no copy of a large value is made.

use std::borrow::Cow;

use super::redact::{is_secret_key, is_secret_value, MAX_DEPTH, MAX_ITEMS, MAX_STRING, REDACTED};
use crate::core::digest::canonical_string;
use crate::core::json::{Kind, Piece, Raw, Value};

/// Text decoded at a time when a long string with escapes is checked for secrets.
const WINDOW: usize = 1 << 20;
/// What consecutive windows share.
const OVERLAP: usize = 64 << 10;

/// The loggable form of the JSON text `value` as JSON text: the text of `redact` of its
/// tree.
pub fn redacted(value: Raw<'_>) -> String {
    let mut out = String::new();
    write_redacted(value, &mut out);
    out
}

/// Writes the loggable form of the JSON text `value` to `out`: the same text as `redact`
/// of its tree gives, without building either tree. This is what every `decision` record
/// does with a call's arguments.
pub fn write_redacted(value: Raw<'_>, out: &mut String) {
    write_at(value, 0, out);
}

fn write_at(value: Raw<'_>, depth: usize, out: &mut String) {
    if depth >= MAX_DEPTH {
        return canonical_string("[cut: nested too deep]", out);
    }
    match value.kind() {
        Some(Kind::String) if secret_value(value) => match value.as_str() {
            Some(s) if s.len() <= 1 << 20 => {
                canonical_string(&super::redact::cut(&super::secrets::redact_secrets(&s)), out);
            }
            _ => canonical_string(REDACTED, out),
        },
        Some(Kind::String) => canonical_string(&cut_raw(value), out),
        Some(Kind::Array) => {
            out.push('[');
            let mut items = value.elements();
            for (n, item) in items.by_ref().take(MAX_ITEMS).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_at(item, depth + 1, out);
            }
            let more = items.count();
            if more > 0 {
                out.push(',');
                canonical_string(&format!("[cut: {more} more items]"), out);
            }
            out.push(']');
        }
        Some(Kind::Object) => {
            // As serde_json's map writes it: keys in order, the last of equal keys wins.
            let mut shown: Vec<(Cow<'_, str>, String)> = Vec::new();
            let mut members = value.members();
            while shown.len() < MAX_ITEMS {
                let Some((key, v)) = members.next_raw() else { break };
                let key = Raw::new(key);
                let mut text = String::new();
                if secret_key(key) {
                    canonical_string(REDACTED, &mut text);
                } else {
                    write_at(v, depth + 1, &mut text);
                }
                shown.push((cut_raw(key), text));
            }
            let mut more = 0usize;
            while members.next_raw().is_some() {
                more += 1;
            }
            if more > 0 {
                let mut text = String::new();
                canonical_string(&format!("{more} more members"), &mut text);
                shown.push((Cow::Borrowed("[cut]"), text));
            }
            // Stable: among equal keys the last one written stays last.
            shown.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            let mut first = true;
            for (n, (key, text)) in shown.iter().enumerate() {
                if shown.get(n + 1).is_some_and(|next| next.0 == *key) {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                canonical_string(key, out);
                out.push(':');
                out.push_str(text);
            }
            out.push('}');
        }
        Some(Kind::Number) => {
            use std::fmt::Write;
            let _ = write!(out, "{}", Value::Number(Cow::Borrowed(value.text())).to_serde());
        }
        Some(Kind::Bool) => out.push_str(match value.as_bool() {
            Some(true) => "true",
            Some(false) => "false",
            None => "null",
        }),
        Some(Kind::Null) | None => out.push_str("null"),
    }
}

/// `cut` of the decoded string, decoding no more than it shows (and borrowed when it is
/// short and has no escapes, as most are).
fn cut_raw(value: Raw<'_>) -> Cow<'_, str> {
    let Some(mut pieces) = value.pieces() else {
        return Cow::Borrowed("");
    };
    let inner = value.text().get(1..value.text().len() - 1).unwrap_or("");
    if inner.len() <= MAX_STRING && !inner.contains('\\') {
        // At most MAX_STRING bytes, so at most as many characters: nothing to cut.
        return Cow::Borrowed(inner);
    }
    // The decoded text is never longer than the literal; what is kept, at most
    // MAX_STRING chars of up to four bytes.
    let mut shown = String::with_capacity(value.text().len().min(4 * MAX_STRING));
    let mut kept = 0usize;
    let mut more = 0usize;
    while let Some(Some(piece)) = pieces.next_piece() {
        match piece {
            Piece::Char(c) if kept < MAX_STRING => {
                shown.push(c);
                kept += 1;
            }
            Piece::Char(_) => more += 1,
            Piece::Text(s) => {
                let mut chars = s.chars();
                for c in chars.by_ref().take(MAX_STRING - kept) {
                    shown.push(c);
                    kept += 1;
                }
                more += chars.count();
            }
        }
    }
    if more > 0 {
        shown.push_str(&format!("…[cut {more} chars]"));
    }
    Cow::Owned(shown)
}

/// `is_secret_value` of the decoded string.
fn secret_value(value: Raw<'_>) -> bool {
    let text = value.text();
    if !text.contains('\\') || text.len() <= WINDOW {
        return value.as_str().is_some_and(|s| is_secret_value(&s));
    }
    windows(value, Some, is_secret_value)
}

/// `is_secret_key` of the decoded key. A long key can only hold a long fragment, so it is
/// checked folded (as `is_secret_key` folds it), a window at a time.
fn secret_key(key: Raw<'_>) -> bool {
    if key.text().len() <= WINDOW {
        return key.as_str().is_some_and(|k| is_secret_key(&k));
    }
    let fold = |c: char| (c != '_' && c != '-').then_some(c);
    windows(key, fold, |w| is_secret_key(&w.to_lowercase()))
}

/// Runs `check` over overlapping windows of the decoded string, each character passed
/// through `map` first (`None` drops it).
fn windows(value: Raw<'_>, map: impl Fn(char) -> Option<char>, check: impl Fn(&str) -> bool) -> bool {
    let Some(mut pieces) = value.pieces() else {
        return false;
    };
    let mut window = String::with_capacity(WINDOW + 8);
    let mut fresh = false;
    let mut push = |c: char, window: &mut String| -> bool {
        if let Some(c) = map(c) {
            window.push(c);
            fresh = true;
        }
        if window.len() < WINDOW {
            return false;
        }
        let found = check(window);
        let mut keep = window.len() - OVERLAP;
        while !window.is_char_boundary(keep) {
            keep += 1;
        }
        window.drain(..keep);
        fresh = false;
        found
    };
    while let Some(Some(piece)) = pieces.next_piece() {
        let found = match piece {
            Piece::Char(c) => push(c, &mut window),
            Piece::Text(s) => s.chars().any(|c| push(c, &mut window)),
        };
        if found {
            return true;
        }
    }
    fresh && check(&window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::redact::redact;
    use crate::core::json::parse;
    use serde_json::Value as Json;

    /// `redacted`, read back as a tree.
    fn redact_raw(value: Raw<'_>) -> Json {
        serde_json::from_str(&redacted(value)).unwrap()
    }

    fn same(json: &str) {
        let tree = redact(&parse(json.as_bytes()).unwrap());
        assert_eq!(redacted(Raw::new(json)), tree.to_string(), "{json}");
    }

    #[test]
    fn same_output_as_the_tree_redaction() {
        same(
            r#"{"user":"ann","Password":"hunter2","api_key":"x","headers":{"Authorization":"z"},"shipping":"ok","pin":"1234"}"#,
        );
        same(
            r#"{"note":"sk-proj-abcdefghijklmnopqrstuvwx","list":["ghp_abcdefghijklmnopqrstuvwxyz0123456789", 1, null]}"#,
        );
        same(r#"{"n":[1,-0,1.5e3,5.1E+25,9007199254740992,0.1,true,false,null],"e":"\u00e9\n\"\\\ud83d\ude00"}"#);
        same(r#"{"p\u0061ssword":"x","k\u0065y":"\u0041KIAIOSFODNN7EXAMPLE"}"#);
        let long = "é".repeat(MAX_STRING + 10);
        same(
            &serde_json::json!({ "s": long, "a": (0..100).collect::<Vec<_>>(), "t": "x".repeat(MAX_STRING) })
                .to_string(),
        );
        let long_key = format!(r#"{{"{}\n":1,"{}":2}}"#, "k".repeat(300), "é".repeat(257));
        same(&long_key);
        let many: Vec<String> = (0..100).map(|i| format!("\"k{i:03}\":{i}")).collect();
        same(&format!("{{{}}}", many.join(",")));
        // Keys that are the same once cut: the tree's map keeps the last, and so do we.
        same(&format!(r#"{{"{0}a":1,"{0}b":2}}"#, "x".repeat(MAX_STRING)));
        same(&("[".repeat(40) + &"]".repeat(40)));
        same(&(r#"{"a":"#.repeat(30) + "1" + &"}".repeat(30)));
        same("[]");
        same("{}");
        same(r#""plain""#);
        same("{\"\\u0000\\u001f\\b\\f\\t\\r\\n\\u007f\u{7f}é\":\"\\u2028\\\"\\\\/\"}");
        same(r#"{"b":1,"a":2,"":[{}],"c":{"z":[],"y":null}}"#);
        let wide: Vec<String> = (0..MAX_ITEMS + 3).map(|i| format!("\"k{i:03}\":{i}")).collect();
        same(&format!("{{{},\"[cut]\":0}}", wide.join(",")));
        same(&format!("[{}]", (0..MAX_ITEMS + 7).map(|i| i.to_string()).collect::<Vec<_>>().join(",")));
    }

    #[test]
    fn long_strings_with_escapes_are_checked_by_window() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        for at in [0, WINDOW - 30, WINDOW - OVERLAP + 5, 3 * WINDOW] {
            let mut s = "\\n".repeat(at / 2) + &" ".repeat(at % 2);
            s.push_str(jwt);
            s.push_str(&"\\t".repeat(WINDOW));
            let text = format!(r#"{{"v":"{s}"}}"#);
            assert_eq!(redact_raw(Raw::new(&text))["v"], REDACTED, "secret at {at}");
        }
        let text = format!(r#"{{"v":"{}"}}"#, "\\n".repeat(3 * WINDOW));
        let shown = redact_raw(Raw::new(&text));
        assert!(shown["v"].as_str().unwrap().ends_with(&format!("…[cut {} chars]", 3 * WINDOW - MAX_STRING)));
        let key = format!(r#"{{"{}my_pass-word":1,"{}":2}}"#, "\\u0041".repeat(WINDOW), "b".repeat(2 * WINDOW));
        let shown = redact_raw(Raw::new(&key));
        let values: Vec<&Json> = shown.as_object().unwrap().values().collect();
        assert!(values.contains(&&Json::String(REDACTED.into())), "long secret key");
        assert!(values.contains(&&Json::from(2)), "long plain key");
    }

    #[test]
    fn garbage_never_panics() {
        for s in ["", "{", "[1,", "{\"a\":", "\"\\u12", "{\"a\":1,}", "nope", "{\"a\" 1}", "\"\\"] {
            let _ = redacted(Raw::new(s));
        }
    }
}
