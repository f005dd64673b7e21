//! Redacting a short excerpt of raw input (the `rejected` record): the bytes may be
//! invalid, ambiguous or cut-off JSON, so this reads them as loosely as a server might
//! and removes whatever could be a secret: the value after a secret-looking key (a
//! string, a number, a whole object or array, or the rest of the text when it is cut
//! off), string literals that hold a secret once their escapes are decoded, and secrets
//! in well-known formats anywhere in the text.

use super::cut::cut;
use super::secrets::{is_secret_key, is_secret_value, redact_secrets, REDACTED};

/// How much of the input is read: a secret that starts within the excerpt is redacted
/// whole before the excerpt is cut.
pub const WINDOW: usize = 64 << 10;
/// Characters of excerpt kept.
pub const EXCERPT_CHARS: usize = 512;

/// The loggable excerpt of `bytes`: the first [`EXCERPT_CHARS`] characters (a marker says
/// how much was cut), with secrets replaced by `"[REDACTED]"`.
pub fn redact_excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(WINDOW)]);
    let redacted = redact_json_text(&text);
    let shown: String = redacted.chars().take(EXCERPT_CHARS).collect();
    let rest = redacted.chars().count().saturating_sub(EXCERPT_CHARS) + bytes.len().saturating_sub(WINDOW);
    if rest == 0 {
        shown
    } else {
        format!("{shown}…[cut {rest} more]")
    }
}

/// `text` read as JSON-like text, secrets replaced.
pub fn redact_json_text(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] != b'"' {
            i += 1;
            continue;
        }
        let end = string_end(b, i);
        let literal = &text[i..end];
        let decoded = decode(literal);
        let after = skip_ws(b, end);
        if b.get(after) == Some(&b':') {
            if is_secret_key(&decoded) || is_secret_key(literal) {
                let start = skip_ws(b, after + 1);
                let stop = value_end(b, start);
                out.push_str(&text[copied..start]);
                out.push('"');
                out.push_str(REDACTED);
                out.push('"');
                copied = stop;
                i = stop;
                continue;
            }
        } else if is_secret_value(&decoded) || is_secret_value(literal) {
            out.push_str(&text[copied..i]);
            out.push('"');
            out.push_str(&redact_secrets(&decoded).replace(['"', '\\'], ""));
            out.push('"');
            copied = end;
        }
        i = end;
    }
    out.push_str(&text[copied..]);
    redact_secrets(&out).into_owned()
}

/// Just past the closing quote of the string literal that opens at `at` (or the end of
/// the text when it is cut off).
fn string_end(b: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The end of the value that starts at `at`: a string, a bracketed value (balanced,
/// strings respected), or a scalar up to the next delimiter.
fn value_end(b: &[u8], at: usize) -> usize {
    match b.get(at) {
        None => at,
        Some(b'"') => string_end(b, at),
        Some(b'{' | b'[') => {
            let mut depth = 0usize;
            let mut i = at;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = string_end(b, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            b.len()
        }
        Some(_) => {
            let mut i = at;
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']' | b'\n') {
                i += 1;
            }
            i
        }
    }
}

/// A string literal's text with its escapes decoded, as loosely as possible (a literal
/// that is cut off or malformed decodes as far as it goes).
fn decode(literal: &str) -> String {
    let inner = literal.strip_prefix('"').unwrap_or(literal);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    if !inner.contains('\\') {
        return inner.to_owned();
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') | Some('f') => {}
            Some('u') => {
                // Only hex digits belong to the escape: a broken one must not swallow the
                // text after it (a secret's first characters, say).
                let hex: String = chars.as_str().chars().take(4).take_while(char::is_ascii_hexdigit).collect();
                for _ in 0..hex.len() {
                    chars.next();
                }
                match (hex.len() == 4).then(|| u32::from_str_radix(&hex, 16).ok()).flatten().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push('\u{fffd}'),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// An excerpt cut for the log without redaction would be a leak: this is [`cut`] after
/// redaction, for callers that already hold text.
pub fn redact_and_cut(text: &str) -> String {
    cut(&redact_json_text(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_lose_their_values_even_in_broken_json() {
        let dup = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"login","arguments":{"user":"ann","password":"hunter2","password":"x"}}}"#;
        let out = redact_excerpt(dup);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains(r#""user":"ann""#), "{out}");
        assert!(out.contains(r#""password":"[REDACTED]""#), "{out}");

        let cut_off = br#"{"params":{"arguments":{"token": "abcdef"#;
        assert!(!redact_excerpt(cut_off).contains("abcdef"));
        let nested = br#"{"credentials":{"user":"u","x":"y\"}"},"ok":1}"#;
        let out = redact_excerpt(nested);
        assert_eq!(out, r#"{"credentials":"[REDACTED]","ok":1}"#);
        let number = br#"{"pin": 1234, "n": 5}"#;
        assert_eq!(redact_excerpt(number), r#"{"pin": "[REDACTED]", "n": 5}"#);
        let escaped_key = br#"{"pass\u0077ord":"hunter2"}"#;
        assert!(!redact_excerpt(escaped_key).contains("hunter2"));
    }

    #[test]
    fn secret_formats_go_anywhere_and_escapes_do_not_hide_them() {
        let array_args =
            br#"{"method":"tools/call","params":{"name":"x","arguments":["sk-proj-abcdefghijklmnopqrstuvwx"]}}"#;
        let out = redact_excerpt(array_args);
        assert!(!out.contains("abcdefghijklmnop"), "{out}");
        let escaped = br#"["sk\u002dproj-abcdefghijklmnopqrstuvwx"]"#;
        assert!(!redact_excerpt(escaped).contains("abcdefghijklmnop"));
        // A broken escape before a secret (found by fuzzing:
        // fuzz/regressions/redact/escape-swallows-secret-prefix).
        let swallowed = b"\"\\\\\\u sk-proj-Zq8fuzzPlantedSecret0123456789 .";
        let out = redact_excerpt(swallowed);
        assert!(!out.contains("PlantedSecret"), "{out}");
        let not_json = b"garbage postgresql://admin:hunter2@db/app Bearer abcdefghijkl";
        let out = redact_excerpt(not_json);
        assert!(!out.contains("hunter2") && !out.contains("abcdefghijkl"), "{out}");
    }

    #[test]
    fn a_secret_across_the_cut_is_redacted_whole() {
        let mut text = format!(r#"{{"pad":"{}","#, "x".repeat(EXCERPT_CHARS - 20));
        text.push_str(r#""note":"sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"}"#);
        let out = redact_excerpt(text.as_bytes());
        assert!(!out.contains("sk-proj-abc"), "{out}");
        assert!(out.contains("…[cut "), "{out}");
        assert_eq!(redact_excerpt(b"{}"), "{}");
    }
}
