//! The scanner behind [`scan_envelope`] and [`parse`]: the top of the JSON layers, over
//! the keys (`keys.rs`) and the raw view (`raw.rs`).

use std::borrow::Cow;
use std::cell::Cell;

use super::keys::{duplicate_key, find_duplicate, key_hash};
use super::raw::Raw;
use super::special::{find_special, find_special_or_high};
use super::{number_round_trips, simple_escape, Ambiguity, JsonError, Map, Value, MAX_DEPTH};

/// The top-level members of a JSON-RPC message, as raw JSON text (validated, not decoded).
/// A key that appears twice keeps its first value and sets `ambiguity`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Envelope<'a> {
    pub jsonrpc: Option<&'a str>,
    pub id: Option<&'a str>,
    pub method: Option<&'a str>,
    pub params: Option<&'a str>,
    pub result: Option<&'a str>,
    pub error: Option<&'a str>,
    /// `result.isError`, read on the way (a tool result's outcome without a second pass).
    pub result_is_error: Option<&'a str>,
    /// The first ambiguity anywhere in the message.
    pub ambiguity: Option<Ambiguity>,
}

/// What a line holds, after the whole of it was validated.
#[derive(Debug, Clone, PartialEq)]
pub enum Message<'a> {
    Single(Envelope<'a>),
    /// A JSON array: the raw text of each element, in order.
    Batch(Vec<&'a str>),
    /// Valid JSON that is neither an object nor an array.
    Other,
}

/// Validates `bytes` as one JSON value (UTF-8 included) and returns its JSON-RPC envelope.
/// Builds no tree: the cost is one pass over the bytes plus the keys of open objects.
pub fn scan_envelope(bytes: &[u8]) -> Result<Message<'_>, JsonError> {
    Scanner::of(bytes, false).envelope_message()
}

/// [`scan_envelope`] over text already known to be UTF-8 (a [`Shared`](super::Shared)
/// line), without checking it again.
pub fn scan_envelope_str(text: &str) -> Result<Message<'_>, JsonError> {
    Scanner::of(text.as_bytes(), true).envelope_message()
}

/// Why [`parse`] refused its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Invalid(JsonError),
    #[error("{0}")]
    Ambiguous(Ambiguity),
}

/// Parses `bytes` as one JSON value into a borrowed tree, refusing ambiguous input.
pub fn parse(bytes: &[u8]) -> Result<Value<'_>, Refusal> {
    Scanner::of(bytes, false).tree()
}

/// The trees of a [`Raw`], built by the scanner (the raw view under it builds none).
impl<'a> Raw<'a> {
    /// A tree of this value, for small parts only: it costs tens of bytes per value.
    pub fn parse(&self) -> Result<Value<'a>, Refusal> {
        Scanner::of(self.text().as_bytes(), true).tree()
    }

    /// A tree of an object holding only the members named in `keys` (first of each), and
    /// of those only the ones whose text is at most `limit` bytes: what a reader of a few
    /// small members needs, at a bounded cost whatever else the object carries. Members
    /// that do not parse are left out too.
    pub fn pick(&self, keys: &[&str], limit: usize) -> Value<'a> {
        let mut picked: Vec<(Cow<'a, str>, Value<'a>)> = Vec::new();
        for (key, value) in self.members() {
            let wanted = keys.contains(&&*key) && !picked.iter().any(|(k, _)| *k == key);
            if wanted && value.text().len() <= limit {
                if let Ok(tree) = value.parse() {
                    picked.push((key, tree));
                }
            }
        }
        Value::Object(picked)
    }
}

/// Reads bytes that may not be UTF-8 and checks them on the way: outside strings only ASCII
/// is valid JSON, so only the bytes inside strings can be other than ASCII, and at the
/// first such byte everything from there on is checked at once (`check_rest`). A line
/// that is all ASCII is so never walked twice.
///
/// What makes its text views sound: every byte before `pos` has been read, and is ASCII
/// unless `checked`, which is set only once all bytes from the first byte ≥ 0x80 on were
/// found to be UTF-8. So `bytes[..pos]` is always UTF-8, and [`Scanner::span`] hands out
/// parts of it cut where characters begin.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// All the bytes at and after the first byte ≥ 0x80 read (if any) are UTF-8: those
    /// bytes no longer stop a run inside a string.
    checked: bool,
    depth: usize,
    ambiguity: Option<Ambiguity>,
    /// Hashes of the keys of the objects currently open, for duplicate detection while
    /// skipping (eight bytes a key, whatever the keys hold).
    keys: Vec<u64>,
}

type Scan<T> = Result<T, JsonError>;

thread_local! {
    /// The key list of the last scan on this thread, empty, kept for the next one: every
    /// line is scanned, and a small one then allocates no list.
    static KEYS: Cell<Vec<u64>> = const { Cell::new(Vec::new()) };
}

/// A key list longer than this (a message with many keys open at once) is not kept.
const KEEP_KEYS: usize = 4096;

impl Drop for Scanner<'_> {
    fn drop(&mut self) {
        if self.keys.capacity() <= KEEP_KEYS {
            self.keys.clear();
            let keys = std::mem::take(&mut self.keys);
            let _ = KEYS.try_with(|kept| kept.set(keys));
        }
    }
}

impl<'a> Scanner<'a> {
    /// A scanner over `bytes`, which are known to be UTF-8 when `checked`.
    fn of(bytes: &'a [u8], checked: bool) -> Self {
        // The room of the last scan on this thread, or room for a small message's keys.
        let mut keys = KEYS.try_with(Cell::take).unwrap_or_default();
        keys.reserve(16);
        Scanner { bytes, pos: 0, checked, depth: 0, ambiguity: None, keys }
    }

    /// The message in the whole input (see [`scan_envelope`]).
    fn envelope_message(mut self) -> Scan<Message<'a>> {
        self.ws();
        let message = match self.peek() {
            Some(b'{') => Message::Single(self.envelope()?),
            Some(b'[') => {
                let mut items = Vec::new();
                self.array(|s| {
                    let start = s.pos;
                    s.skip_value()?;
                    items.push(s.span(start, s.pos));
                    Ok(())
                })?;
                Message::Batch(items)
            }
            _ => {
                self.skip_value()?;
                Message::Other
            }
        };
        self.end()?;
        Ok(message)
    }

    /// The whole input as a tree (see [`parse`]).
    fn tree(mut self) -> Result<Value<'a>, Refusal> {
        let value = self.value().map_err(Refusal::Invalid)?;
        self.end().map_err(Refusal::Invalid)?;
        match self.ambiguity.take() {
            Some(a) => Err(Refusal::Ambiguous(a)),
            None => Ok(value),
        }
    }

    /// `bytes[start..end]` as text, for `end` at most `pos` and both ends where a
    /// character begins (or at `pos`): true of every part the scanner cuts, at ASCII bytes.
    #[allow(unsafe_code)]
    fn span(&self, start: usize, end: usize) -> &'a str {
        // Not a UTF-8 continuation byte; `pos` itself ends the UTF-8 before it.
        let begins = |at: usize| at == self.pos || (self.bytes[at] as i8) >= -0x40;
        assert!(start <= end && end <= self.pos && begins(start) && begins(end), "a text view cut badly");
        let bytes = &self.bytes[start..end];
        // Checked again in tests and fuzzing, for small views only: an object's view is
        // taken at every depth, so checking large ones would cost the input's size each.
        debug_assert!(bytes.len() > 4096 || std::str::from_utf8(bytes).is_ok());
        // SAFETY: `bytes[..pos]` is UTF-8 (the invariant above), and a part of UTF-8 cut
        // where characters begin is UTF-8.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// At the first byte ≥ 0x80 (inside a string): checks it and everything after it.
    fn check_rest(&mut self) -> Scan<()> {
        super::utf8::check(&self.bytes[self.pos..])
            .map_err(|e| JsonError { what: e.what, offset: self.pos + e.offset })?;
        self.checked = true;
        Ok(())
    }

    fn err<T>(&self, what: &'static str) -> Scan<T> {
        Err(JsonError { what, offset: self.pos })
    }

    fn note(&mut self, ambiguity: Ambiguity) {
        self.ambiguity.get_or_insert(ambiguity);
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn end(&mut self) -> Scan<()> {
        self.ws();
        if self.pos != self.bytes.len() {
            return self.err("trailing characters after the JSON value");
        }
        Ok(())
    }

    fn literal(&mut self, word: &'static str) -> Scan<()> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            self.err("invalid literal")
        }
    }

    fn enter(&mut self) -> Scan<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        self.pos += 1;
        Ok(())
    }

    /// Walks `[ item, ... ]`, calling `item` with the scanner at each element.
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Scan<()>) -> Scan<()> {
        self.enter()?;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.err("expected ',' or ']' in array"),
            }
        }
    }

    /// Walks `{ "key": value, ... }`, calling `member` with each decoded key and the
    /// scanner at its value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Scan<()>) -> Scan<()> {
        self.enter()?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return self.err("expected a string key in object");
            }
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return self.err("expected ':' after object key");
            }
            self.pos += 1;
            self.ws();
            member(self, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return self.err("expected ',' or '}' in object"),
            }
        }
    }

    fn envelope(&mut self) -> Scan<Envelope<'a>> {
        let mut env = Envelope::default();
        let frame = self.keys.len();
        let open = self.pos;
        self.object(|s, key| {
            let start = s.pos;
            if &*key == "result" && s.peek() == Some(b'{') {
                let is_error = s.skip_object(Some("isError"))?;
                env.result_is_error = env.result_is_error.or(is_error);
            } else {
                s.skip_value()?;
            }
            let raw = s.span(start, s.pos);
            let slot = match &*key {
                "jsonrpc" => Some(&mut env.jsonrpc),
                "id" => Some(&mut env.id),
                "method" => Some(&mut env.method),
                "params" => Some(&mut env.params),
                "result" => Some(&mut env.result),
                "error" => Some(&mut env.error),
                _ => None,
            };
            if let Some(slot) = slot {
                slot.get_or_insert(raw);
            }
            s.keys.push(key_hash(&key));
            Ok(())
        })?;
        self.close_keys(frame, open);
        env.ambiguity = self.ambiguity.take();
        Ok(env)
    }

    /// Checks the keys of the object that opened at `open` (their hashes pushed since
    /// `frame`) for duplicates, then forgets them.
    fn close_keys(&mut self, frame: usize, open: usize) {
        let object = self.span(open, self.pos);
        if let Some(dup) = duplicate_key(&mut self.keys[frame..], object) {
            self.note(Ambiguity::DuplicateKey(dup));
        }
        self.keys.truncate(frame);
    }

    /// Skips an object, checking its keys; returns the raw value of member `want`.
    fn skip_object(&mut self, want: Option<&str>) -> Scan<Option<&'a str>> {
        let frame = self.keys.len();
        let open = self.pos;
        let mut wanted = None;
        self.object(|s, key| {
            let start = s.pos;
            s.skip_value()?;
            if wanted.is_none() && want == Some(&*key) {
                wanted = Some(s.span(start, s.pos));
            }
            s.keys.push(key_hash(&key));
            Ok(())
        })?;
        self.close_keys(frame, open);
        Ok(wanted)
    }

    fn skip_value(&mut self) -> Scan<()> {
        match self.peek() {
            Some(b'{') => self.skip_object(None).map(drop),
            Some(b'[') => self.array(Self::skip_value),
            Some(b'"') => self.skip_string(),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(_) => self.err("unexpected character"),
            None => self.err("unexpected end of input"),
        }
    }

    fn value(&mut self) -> Scan<Value<'a>> {
        self.ws();
        match self.peek() {
            Some(b'{') => {
                let mut members: Map<'a> = Vec::new();
                self.object(|s, key| {
                    let v = s.value()?;
                    members.push((key, v));
                    Ok(())
                })?;
                let mut keys: Vec<&str> = members.iter().map(|(k, _)| &**k).collect();
                if let Some(at) = find_duplicate(&mut keys, |k| *k) {
                    let dup = keys[at].to_owned();
                    self.note(Ambiguity::DuplicateKey(dup));
                }
                Ok(Value::Object(members))
            }
            Some(b'[') => {
                let mut items = Vec::new();
                self.array(|s| {
                    items.push(s.value()?);
                    Ok(())
                })?;
                Ok(Value::Array(items))
            }
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true").map(|_| Value::Bool(true)),
            Some(b'f') => self.literal("false").map(|_| Value::Bool(false)),
            Some(b'n') => self.literal("null").map(|_| Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(|n| Value::Number(Cow::Borrowed(n))),
            Some(_) => self.err("unexpected character"),
            None => self.err("unexpected end of input"),
        }
    }

    /// Reads a number (RFC 8259 grammar) and notes it when it is not exact as a double.
    fn number(&mut self) -> Scan<&'a str> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return self.err("invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.err("invalid number: no digit after '.'");
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return self.err("invalid number: no digit in exponent");
            }
            self.digits();
        }
        let text = self.span(start, self.pos);
        if !number_round_trips(text) {
            self.note(Ambiguity::Number(text.to_owned()));
        }
        Ok(text)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// Reads a string starting at its opening quote, decoding escapes only when there are
    /// any.
    fn string(&mut self) -> Scan<Cow<'a, str>> {
        self.string_as(true)
    }

    /// Checks a string that nobody reads (escapes, surrogates, controls) without decoding it.
    fn skip_string(&mut self) -> Scan<()> {
        self.string_as(false).map(drop)
    }

    /// A string, decoded when `decode` says so (else the result is empty).
    fn string_as(&mut self, decode: bool) -> Scan<Cow<'a, str>> {
        self.pos += 1;
        let mut owned: Option<String> = None;
        let mut run = self.pos;
        loop {
            self.pos = match self.checked {
                true => find_special(self.bytes, self.pos),
                false => find_special_or_high(self.bytes, self.pos),
            };
            match self.peek() {
                Some(b'"') => {
                    let tail = if decode { self.span(run, self.pos) } else { "" };
                    self.pos += 1;
                    return Ok(match owned {
                        None => Cow::Borrowed(tail),
                        Some(mut s) => {
                            s.push_str(tail);
                            Cow::Owned(s)
                        }
                    });
                }
                Some(b'\\') => {
                    if decode {
                        owned.get_or_insert_with(String::new).push_str(self.span(run, self.pos));
                    }
                    self.pos += 1;
                    self.escape(&mut owned)?;
                    run = self.pos;
                }
                Some(0x80..) => self.check_rest()?,
                Some(_) => return self.err("control character in string"),
                None => return self.err("unterminated string"),
            }
        }
    }

    /// Decodes one escape (the backslash already consumed) onto `out`.
    fn escape(&mut self, out: &mut Option<String>) -> Scan<()> {
        let Some(c) = self.peek() else {
            return self.err("unterminated escape");
        };
        self.pos += 1;
        let ch = match (c, simple_escape(c)) {
            (_, Some(ch)) => ch,
            (b'u', None) => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        if self.bytes[self.pos..].starts_with(b"\\u") {
                            let save = self.pos;
                            self.pos += 2;
                            let low = self.hex4()?;
                            if (0xDC00..=0xDFFF).contains(&low) {
                                let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                                char::from_u32(code).unwrap_or('\u{FFFD}')
                            } else {
                                self.pos = save;
                                self.note(Ambiguity::LoneSurrogate);
                                '\u{FFFD}'
                            }
                        } else {
                            self.note(Ambiguity::LoneSurrogate);
                            '\u{FFFD}'
                        }
                    }
                    0xDC00..=0xDFFF => {
                        self.note(Ambiguity::LoneSurrogate);
                        '\u{FFFD}'
                    }
                    _ => char::from_u32(unit).unwrap_or('\u{FFFD}'),
                }
            }
            _ => return self.err("invalid escape"),
        };
        if let Some(buf) = out.as_mut() {
            buf.push(ch);
        }
        Ok(())
    }

    fn hex4(&mut self) -> Scan<u32> {
        let Some(digits) = self.bytes.get(self.pos..self.pos + 4) else {
            return self.err("truncated \\u escape");
        };
        let mut unit = 0;
        for &b in digits {
            let Some(digit) = char::from(b).to_digit(16) else {
                return self.err("invalid \\u escape");
            };
            unit = unit << 4 | digit;
        }
        self.pos += 4;
        Ok(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(line: &str) -> Envelope<'_> {
        match scan_envelope(line.as_bytes()).unwrap() {
            Message::Single(e) => e,
            other => panic!("not an envelope: {other:?}"),
        }
    }

    #[test]
    fn envelope_fields_are_raw_spans() {
        let e = env(r#" {"jsonrpc":"2.0","id":7,"method":"tools\/call","params":{"name":"x"}} "#);
        assert_eq!(e.jsonrpc, Some(r#""2.0""#));
        assert_eq!(e.id, Some("7"));
        assert_eq!(e.method, Some(r#""tools\/call""#));
        assert_eq!(e.params, Some(r#"{"name":"x"}"#));
        assert_eq!(e.ambiguity, None);
        let e = env(r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"isError":false}],"isError":true}}"#);
        assert_eq!(e.result_is_error, Some("true"));
        let e = env(r#"{"jsonrpc":"2.0","id":7,"result":{"content":[]}}"#);
        assert_eq!(e.result_is_error, None);
    }

    #[test]
    fn duplicate_keys_anywhere_are_ambiguous() {
        let e = env(r#"{"method":"a","method":"b"}"#);
        assert_eq!(e.method, Some(r#""a""#));
        assert_eq!(e.ambiguity, Some(Ambiguity::DuplicateKey("method".into())));
        let e = env(r#"{"params":{"arguments":{"p":1,"x":[{"a":1,"a":2}]}}}"#);
        assert_eq!(e.ambiguity, Some(Ambiguity::DuplicateKey("a".into())));
        // Escaped spellings of the same key are the same key.
        let e = env(r#"{"params":{"name":"a","n\u0061me":"b"}}"#);
        assert_eq!(e.ambiguity, Some(Ambiguity::DuplicateKey("name".into())));
        // Same key in sibling objects is fine; many keys take the sorting path.
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let line = format!("{{\"a\":{{\"x\":1}},\"b\":{{\"x\":1}},{}}}", many.join(","));
        assert_eq!(env(&line).ambiguity, None);
        let line = format!("{{{},\"k7\":0}}", many.join(","));
        assert_eq!(env(&line).ambiguity, Some(Ambiguity::DuplicateKey("k7".into())));
    }

    #[test]
    fn lone_surrogates_are_ambiguous_pairs_are_not() {
        assert_eq!(parse(br#""\ud83d\ude00""#).unwrap(), Value::String("😀".into()));
        for s in [r#""\ud83d""#, r#""\ude00x""#, r#""\ud83d\u0041""#, r#""a\udfff""#] {
            assert_eq!(parse(s.as_bytes()), Err(Refusal::Ambiguous(Ambiguity::LoneSurrogate)), "{s}");
        }
    }

    #[test]
    fn escapes_decode() {
        let v = parse(br#"{"k":"a\"b\\c\/d\b\f\n\r\t\u00e9"}"#).unwrap();
        assert_eq!(v.get("k").unwrap().as_str(), Some("a\"b\\c/d\u{8}\u{c}\n\r\té"));
    }

    #[test]
    fn inexact_numbers_are_ambiguous() {
        assert!(matches!(parse(b"[1, 9007199254740993]"), Err(Refusal::Ambiguous(Ambiguity::Number(_)))));
        assert_eq!(parse(b"[1.5e3]").unwrap(), Value::Array(vec![Value::Number("1.5e3".into())]));
    }

    #[test]
    fn garbage_is_invalid() {
        for bad in [
            &b""[..],
            b"{",
            b"}",
            b"{\"a\"}",
            b"{\"a\":}",
            b"[1,]",
            b"{\"a\":1,}",
            b"01",
            b"1.",
            b"-",
            b"1e",
            b"+1",
            b"tru",
            b"nul",
            b"\"abc",
            b"\"a\x01b\"",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"{} {}",
            b"NaN",
            b"Infinity",
            b"'a'",
            b"\xff",
            b"\"\xc3\x28\"",
            b"{\"a\" 1}",
        ] {
            assert!(matches!(parse(bad), Err(Refusal::Invalid(_))), "{:?}", String::from_utf8_lossy(bad));
            assert!(scan_envelope(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn utf8_is_checked_on_the_way() {
        let offset = |bytes: &[u8]| scan_envelope(bytes).map(drop).map_err(|e| (e.what, e.offset));
        // Inside a string, from the first byte >= 0x80 on: where it stops being UTF-8.
        assert_eq!(offset(b"\"ab\xc3\x28\""), Err(("invalid UTF-8", 3)));
        assert_eq!(offset(b"[\"\xc3\xa9\",\"\xe2\x82\xac\xff\"]"), Err(("invalid UTF-8", 10)));
        assert_eq!(offset(b"{\"k\xed\xa0\x80\":1}"), Err(("invalid UTF-8", 3)));
        // Outside a string no such byte is JSON, UTF-8 or not.
        assert_eq!(offset(b"[1,\xff]"), Err(("unexpected character", 3)));
        assert_eq!(offset("[1]é".as_bytes()), Err(("trailing characters after the JSON value", 3)));
        // Valid text reads the same as text already checked.
        let text = r#"{"id":"日本","method":"é","params":{"😀":"\u00e9x"}}"#;
        assert_eq!(scan_envelope(text.as_bytes()), scan_envelope_str(text));
        assert_eq!(parse(text.as_bytes()).unwrap().get("method").unwrap().as_str(), Some("é"));
    }

    #[test]
    fn depth_is_limited() {
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(scan_envelope(deep.as_bytes()).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(scan_envelope(ok.as_bytes()).is_ok());
    }

    #[test]
    fn batches_and_scalars() {
        let m = scan_envelope(br#"[{"id":1}, {"id":2} ]"#).unwrap();
        assert_eq!(m, Message::Batch(vec![r#"{"id":1}"#, r#"{"id":2}"#]));
        assert_eq!(scan_envelope(b"42").unwrap(), Message::Other);
    }
}
