//! A lazy, borrowed view over JSON text: [`Raw`] reads only what it is asked for.
//!
//! The gate runs over messages that [`scan_envelope`](super::scan_envelope) has validated,
//! and must not build a tree of a call's arguments (a 100 MiB array of numbers would take
//! gigabytes as a tree). A `Raw` is the text of one value; looking a member up skips the
//! values before it without decoding them, and decoding happens only for the piece asked
//! for. Nothing here panics or recurses without a bound, whatever the text: malformed text
//! gives `None`.
//!
//! The bottom of the scanner's layers: the keys (`keys.rs`) read with it and the scan
//! (`scan.rs`) on top of both, which also gives a `Raw` its trees ([`Raw::parse`],
//! [`Raw::pick`]). Nothing here imports either.

use std::borrow::Cow;
use std::sync::Arc;

use super::{simple_escape, JsonError};

/// The text of one JSON value (surrounding whitespace trimmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a> {
    text: &'a str,
}

/// What a [`Raw`] holds, read from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl<'a> Raw<'a> {
    /// A view of `text`, which should hold one JSON value.
    pub fn new(text: &'a str) -> Raw<'a> {
        Raw { text: text.trim_matches(is_ws_char) }
    }

    /// The value's JSON text, exactly as received.
    pub fn text(&self) -> &'a str {
        self.text
    }

    pub fn kind(&self) -> Option<Kind> {
        Some(match self.text.as_bytes().first()? {
            b'n' => Kind::Null,
            b't' | b'f' => Kind::Bool,
            b'-' | b'0'..=b'9' => Kind::Number,
            b'"' => Kind::String,
            b'[' => Kind::Array,
            b'{' => Kind::Object,
            _ => return None,
        })
    }

    pub fn type_name(&self) -> &'static str {
        match self.kind() {
            Some(Kind::Null) => "null",
            Some(Kind::Bool) => "boolean",
            Some(Kind::Number) => "number",
            Some(Kind::String) => "string",
            Some(Kind::Array) => "array",
            Some(Kind::Object) => "object",
            None => "invalid",
        }
    }

    /// The first member named `key` (keys compared decoded), skipping the values before it
    /// without decoding them.
    pub fn get(&self, key: &str) -> Option<Raw<'a>> {
        let mut members = self.members();
        while let Some((raw_key, value)) = members.next_raw() {
            if key_is(raw_key, key) {
                return Some(value);
            }
        }
        None
    }

    /// RFC 6901 JSON Pointer lookup (`""` is the whole value).
    pub fn pointer(&self, pointer: &str) -> Option<Raw<'a>> {
        if pointer.is_empty() {
            return Some(*self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/').try_fold(*self, |node, token| {
            let token = token.replace("~1", "/").replace("~0", "~");
            match node.kind()? {
                Kind::Object => node.get(&token),
                Kind::Array => {
                    let canonical = token == "0" || !token.starts_with('0');
                    let index: usize = token.parse().ok().filter(|_| canonical)?;
                    node.elements().nth(index)
                }
                _ => None,
            }
        })
    }

    /// The decoded string (borrowed unless it has escapes).
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        let (s, end) = decode_string(self.text, 0)?;
        (end == self.text.len()).then_some(s)
    }

    /// The string's decoded pieces, for readers that stream it (a string of any length is
    /// read without a copy).
    pub fn pieces(&self) -> Option<Unescape<'a>> {
        let end = string_end(self.text, 0)?;
        (end == self.text.len()).then(|| Unescape::new(self.text.get(1..end - 1).unwrap_or("")))
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.text {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// The number's text, when this is a number.
    pub fn number_text(&self) -> Option<&'a str> {
        (self.kind() == Some(Kind::Number)).then_some(self.text)
    }

    /// The number as a double (the scanner guarantees the conversion is exact).
    pub fn as_f64(&self) -> Option<f64> {
        self.number_text()?.parse().ok()
    }

    pub fn is_null(&self) -> bool {
        self.text == "null"
    }

    /// The members of an object, in order, keys decoded (empty for anything else).
    pub fn members(&self) -> Members<'a> {
        Members(Cursor::open(self.text, b'{'))
    }

    /// The elements of an array, in order (empty for anything else).
    pub fn elements(&self) -> Elements<'a> {
        Elements(Cursor::open(self.text, b'['))
    }
}

/// Iterator over an object's members: `(decoded key, value)`.
pub struct Members<'a>(Cursor<'a>);

impl<'a> Members<'a> {
    /// True once the iteration stopped on malformed text (or this was not an object).
    pub fn is_broken(&self) -> bool {
        self.0.broken
    }

    /// The next member with its key still as JSON text (quotes and escapes included).
    pub fn next_raw(&mut self) -> Option<(&'a str, Raw<'a>)> {
        let c = &mut self.0;
        if !c.next_item(b'}') {
            return None;
        }
        let key_start = c.pos;
        let key_end = c.fail_on(string_end(c.text, c.pos))?;
        c.pos = key_end;
        c.ws();
        if c.peek() != Some(b':') {
            return c.fail();
        }
        c.pos += 1;
        c.ws();
        let value = c.value()?;
        Some((c.text.get(key_start..key_end)?, value))
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = (Cow<'a, str>, Raw<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let (key, value) = self.next_raw()?;
        let (key, _) = decode_string(key, 0)?;
        Some((key, value))
    }
}

/// Iterator over an array's elements.
pub struct Elements<'a>(Cursor<'a>);

impl Elements<'_> {
    /// True once the iteration stopped on malformed text (or this was not an array).
    pub fn is_broken(&self) -> bool {
        self.0.broken
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Raw<'a>;

    fn next(&mut self) -> Option<Raw<'a>> {
        let c = &mut self.0;
        if !c.next_item(b']') {
            return None;
        }
        c.value()
    }
}

/// A position inside an array or object's text; stops for good at the first surprise.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    first: bool,
    done: bool,
    /// Stopped on malformed text rather than at the closing bracket.
    broken: bool,
}

impl<'a> Cursor<'a> {
    fn open(text: &'a str, open: u8) -> Cursor<'a> {
        let ok = text.as_bytes().first() == Some(&open);
        Cursor { text, pos: 1, first: true, done: !ok, broken: !ok }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
    }

    fn fail<T>(&mut self) -> Option<T> {
        self.done = true;
        self.broken = true;
        None
    }

    fn fail_on<T>(&mut self, v: Option<T>) -> Option<T> {
        if v.is_none() {
            self.fail::<()>();
        }
        v
    }

    /// Moves to the next item; false at the closing bracket or on malformed text.
    fn next_item(&mut self, close: u8) -> bool {
        if self.done {
            return false;
        }
        self.ws();
        match self.peek() {
            Some(c) if c == close => {
                self.done = true;
                // Only whitespace may follow the closing bracket.
                self.pos += 1;
                self.ws();
                self.broken = self.pos != self.text.len();
                return false;
            }
            Some(b',') if !self.first => {
                self.pos += 1;
                self.ws();
                if matches!(self.peek(), Some(b']' | b'}') | None) {
                    return self.fail::<()>().is_some();
                }
            }
            _ if self.first && self.peek().is_some() => {}
            _ => return self.fail::<()>().is_some(),
        }
        self.first = false;
        true
    }

    /// The value at the cursor, which moves past it.
    fn value(&mut self) -> Option<Raw<'a>> {
        let start = self.pos;
        let end = skip_value(self.text, start);
        let end = self.fail_on(end)?;
        self.pos = end;
        let text = self.text.get(start..end);
        self.fail_on(text).map(|text| Raw { text })
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_ws_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Where the value starting at `pos` in `text` ends (one past its last byte), for readers
/// that walk validated text by position. Containers are skipped by counting brackets
/// outside strings, with no recursion. `None` on text that ends too soon.
pub fn skip_value(text: &str, pos: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    match *bytes.get(pos)? {
        b'"' => string_end(text, pos),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = pos;
            loop {
                match *bytes.get(i)? {
                    b'"' => {
                        i = string_end(text, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            // A literal or a number: up to the next delimiter.
            let len = bytes[pos..]
                .iter()
                .position(|&b| matches!(b, b',' | b']' | b'}' | b':' | b'"' | b'[' | b'{') || is_ws(b))
                .unwrap_or(bytes.len() - pos);
            (len > 0).then_some(pos + len)
        }
    }
}

/// One past the closing quote of the string that opens at `pos` in `text`.
pub fn string_end(text: &str, pos: usize) -> Option<usize> {
    string_end_bytes(text.as_bytes(), pos)
}

/// [`string_end`] over bytes that need not be valid UTF-8 (a line read leniently).
pub fn string_end_bytes(bytes: &[u8], pos: usize) -> Option<usize> {
    if bytes.get(pos) != Some(&b'"') {
        return None;
    }
    let mut i = pos + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
        if bytes[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
}

/// Does the key written as JSON text `raw` (with its quotes) decode to `want`?
fn key_is(raw: &str, want: &str) -> bool {
    let inner = raw.get(1..raw.len().saturating_sub(1)).unwrap_or("");
    if !inner.contains('\\') {
        return inner == want;
    }
    decode_string(raw, 0).is_some_and(|(k, _)| k == want)
}

/// Decodes the string that opens at `pos`; returns it and the position after it. A lone
/// surrogate escape becomes U+FFFD, as in the scanner (which refuses such messages).
pub(super) fn decode_string(text: &str, pos: usize) -> Option<(Cow<'_, str>, usize)> {
    let end = string_end(text, pos)?;
    let inner = text.get(pos + 1..end - 1)?;
    if !inner.contains('\\') {
        return Some((Cow::Borrowed(inner), end));
    }
    let mut out = String::with_capacity(inner.len());
    let mut chunks = Unescape::new(inner);
    while let Some(piece) = chunks.next_piece() {
        match piece? {
            Piece::Text(s) => out.push_str(s),
            Piece::Char(c) => out.push(c),
        }
    }
    Some((Cow::Owned(out), end))
}

/// A piece of a decoded string: a run of plain text or one escaped character.
pub enum Piece<'a> {
    Text(&'a str),
    Char(char),
}

/// Decodes the inside of a JSON string (without quotes) piece by piece, without copying
/// its plain runs. `Some(None)` marks a malformed escape.
pub struct Unescape<'a> {
    rest: &'a str,
}

impl<'a> Unescape<'a> {
    pub fn new(inner: &'a str) -> Unescape<'a> {
        Unescape { rest: inner }
    }

    pub fn next_piece(&mut self) -> Option<Option<Piece<'a>>> {
        if self.rest.is_empty() {
            return None;
        }
        match self.rest.find('\\') {
            Some(0) => {}
            Some(at) => {
                let (run, rest) = self.rest.split_at(at);
                self.rest = rest;
                return Some(Some(Piece::Text(run)));
            }
            None => {
                let run = self.rest;
                self.rest = "";
                return Some(Some(Piece::Text(run)));
            }
        }
        let bytes = self.rest.as_bytes();
        let Some(&c) = bytes.get(1) else {
            self.rest = "";
            return Some(None);
        };
        let ch = match (c, simple_escape(c)) {
            (_, Some(ch)) => ch,
            (b'u', None) => {
                let Some(unit) = hex4(self.rest.get(2..6)) else {
                    self.rest = "";
                    return Some(None);
                };
                let mut used = 6;
                let ch = match unit {
                    0xD800..=0xDBFF => {
                        let low = self.rest.get(6..8).filter(|p| *p == "\\u").and_then(|_| hex4(self.rest.get(8..12)));
                        match low {
                            Some(low @ 0xDC00..=0xDFFF) => {
                                used = 12;
                                char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                            }
                            _ => None,
                        }
                    }
                    _ => char::from_u32(unit),
                };
                self.rest = self.rest.get(used..).unwrap_or("");
                return Some(Some(Piece::Char(ch.unwrap_or('\u{FFFD}'))));
            }
            _ => {
                self.rest = "";
                return Some(None);
            }
        };
        self.rest = self.rest.get(2..).unwrap_or("");
        Some(Some(Piece::Char(ch)))
    }
}

fn hex4(digits: Option<&str>) -> Option<u32> {
    let digits = digits?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// A received message's text, shared by every part kept from it, so that a call's
/// arguments reach the policy, the prompt and the audit thread without a copy.
#[derive(Clone, PartialEq, Eq)]
pub struct Shared {
    text: Arc<String>,
    start: usize,
    end: usize,
}

/// So that a part of a received line can be handed to a writer as bytes, without a copy.
impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Shared({} bytes)", self.end - self.start)
    }
}

impl Shared {
    /// The whole of `text`.
    pub fn new(text: String) -> Shared {
        let end = text.len();
        Shared { text: Arc::new(text), start: 0, end }
    }

    /// A received line, checked to be UTF-8 (no copy). Not UTF-8: the error (as the
    /// scanner words it) and the bytes back.
    pub fn from_utf8(bytes: Vec<u8>) -> Result<Shared, (JsonError, Vec<u8>)> {
        super::utf8::into_string(bytes).map(Shared::new)
    }

    pub fn as_str(&self) -> &str {
        self.text.get(self.start..self.end).unwrap_or("")
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.as_str().as_bytes()
    }

    pub fn raw(&self) -> Raw<'_> {
        Raw::new(self.as_str())
    }

    /// `part`, which must lie inside this text (a slice of it, such as a [`Raw`] read from
    /// it), as a handle sharing the same buffer. A string from elsewhere is copied.
    pub fn part(&self, part: &str) -> Shared {
        let base = self.as_str();
        let offset = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
        let inside = offset <= base.len() && part.len() <= base.len() - offset;
        match inside {
            true => {
                Shared { text: self.text.clone(), start: self.start + offset, end: self.start + offset + part.len() }
            }
            false => Shared::new(part.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json::parse;

    #[test]
    fn get_skips_and_decodes_only_what_is_asked() {
        let r = Raw::new(r#" {"a":[1,{"x":"}"}],"b\u0041":"v\n","c":{"d":[true,false,null]},"a":2} "#);
        assert_eq!(r.kind(), Some(Kind::Object));
        assert_eq!(r.get("a").unwrap().text(), r#"[1,{"x":"}"}]"#, "first member wins");
        assert_eq!(r.get("bA").unwrap().as_str().unwrap(), "v\n");
        assert_eq!(r.pointer("/c/d/1").unwrap().as_bool(), Some(false));
        assert!(r.pointer("/c/d/2").unwrap().is_null());
        assert!(r.pointer("/c/d/3").is_none());
        assert!(r.get("zz").is_none());
        assert_eq!(r.members().count(), 4);
        assert_eq!(r.get("a").unwrap().elements().count(), 2);
        assert!(r.get("a").unwrap().get("x").is_none());
        let picked = r.pick(&["bA", "c", "a"], 16);
        assert_eq!(picked.get("bA").unwrap().as_str(), Some("v\n"));
        assert!(picked.get("c").is_none(), "over the limit");
        assert_eq!(picked.get("a").unwrap().as_array().unwrap().len(), 2, "first of each");
    }

    #[test]
    fn pointer_follows_rfc_6901() {
        let v = Raw::new(r#"{"a":{"b/c":[10,{"~x":true}]},"":1}"#);
        assert_eq!(v.pointer("/a/b~1c/0").unwrap().as_f64(), Some(10.0));
        assert_eq!(v.pointer("/a/b~1c/1/~0x").unwrap().as_bool(), Some(true));
        assert_eq!(v.pointer("/").unwrap().as_f64(), Some(1.0));
        assert!(v.pointer("/a/b~1c/01").is_none());
        assert!(v.pointer("/a/missing").is_none());
        assert!(v.pointer("a").is_none());
        assert_eq!(v.pointer(""), Some(v));
    }

    #[test]
    fn strings_decode_like_the_scanner() {
        for text in [r#""plain""#, r#""a\"b\\c\/d\b\f\n\r\t\u00e9""#, r#""\ud83d\ude00""#, r#""\ud83dx""#, r#""""#] {
            let tree = parse(text.as_bytes()).map(|v| v.as_str().map(str::to_owned));
            let ours = Raw::new(text).as_str().map(Cow::into_owned);
            if let Ok(tree) = tree {
                assert_eq!(ours, tree, "{text}");
            }
        }
        assert_eq!(Raw::new(r#""\ud83dx""#).as_str().unwrap(), "\u{FFFD}x");
        assert!(Raw::new("12").as_str().is_none());
        assert!(Raw::new(r#""ab"c"#).as_str().is_none());
    }

    #[test]
    fn garbage_never_panics() {
        let samples = [
            "",
            "{",
            "[",
            "}",
            "]",
            "\"",
            "\"\\",
            "\"\\u12",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":1,",
            "[1,",
            "[,1]",
            "{,}",
            "{\"a\" 1}",
            "[1 2]",
            "\"\\ud800\\u",
            "{\"é",
            "[[[[",
            "]]]]",
            "{\"a\":}",
            "nul",
            "-",
            "é",
        ];
        for s in samples {
            let r = Raw::new(s);
            let _ = (r.kind(), r.get("a"), r.pointer("/a/0"), r.as_str(), r.as_f64(), r.as_bool());
            let _ = (r.members().count(), r.elements().count(), r.parse());
            for (i, _) in s.char_indices() {
                let r = Raw::new(&s[i..]);
                let _ = (r.members().count(), r.elements().count(), r.get("a"));
            }
        }
    }

    #[test]
    fn malformed_containers_are_reported() {
        for (text, broken) in [
            ("[1,2]", false),
            ("[]", false),
            ("[ ]", false),
            ("[1,", true),
            ("[1,]", true),
            ("[1 2]", true),
            ("[1]x", true),
        ] {
            let mut items = Raw::new(text).elements();
            items.by_ref().for_each(drop);
            assert_eq!(items.is_broken(), broken, "{text}");
        }
        for (text, broken) in [
            (r#"{"a":1}"#, false),
            ("{}", false),
            (r#"{"a":"#, true),
            (r#"{"a" 1}"#, true),
            (r#"{"a":1,}"#, true),
            ("{1:2}", true),
            ("[]", true),
        ] {
            let mut members = Raw::new(text).members();
            while members.next_raw().is_some() {}
            assert_eq!(members.is_broken(), broken, "{text}");
        }
    }

    #[test]
    fn shared_parts_share_the_buffer() {
        let line = Shared::new(r#"{"params":{"arguments":{"x":1}}}"#.to_owned());
        let args = line.raw().pointer("/params/arguments").unwrap();
        let part = line.part(args.text());
        assert_eq!(part.as_str(), r#"{"x":1}"#);
        assert!(Arc::ptr_eq(&part.text, &line.text));
        let nested = part.part(part.raw().get("x").unwrap().text());
        assert_eq!(nested.as_str(), "1");
        let elsewhere = line.part("{\"y\":2}");
        assert_eq!(elsewhere.as_str(), "{\"y\":2}");
        assert!(!Arc::ptr_eq(&elsewhere.text, &line.text));
        assert!(Shared::from_utf8(vec![b'"', 0xff, b'"']).is_err());
    }
}
