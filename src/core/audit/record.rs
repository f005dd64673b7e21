//! Audit records: one JSON object per line, chained by the hash of the line before
//! (PRODUCT.md section 7). Field names are a public interface.

use std::borrow::Cow;
use std::fmt::Write;
use std::sync::Arc;

use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::redact_raw::write_redacted;
use super::time::push_rfc3339_micros;
use crate::core::digest::{canonical_string, hex, push_hex, JsonEscaped};
use crate::core::json::Shared;

/// Schema version written in every record's `v`.
pub const SCHEMA: u64 = 1;
/// `prev` of the very first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash that the next line's `prev` names: hex SHA-256 of the line's bytes, without
/// its newline.
pub fn line_hash(line: &[u8]) -> String {
    hex(&Sha256::digest(line))
}

/// Where the chain stands: the last line's `seq` and hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: String,
}

impl ChainHead {
    pub fn genesis() -> ChainHead {
        ChainHead { seq: 0, hash: GENESIS.to_owned() }
    }
}

/// One event, before it is placed in the chain: its own members, as JSON text in key
/// order, or the values to write them from when the record is rendered.
#[derive(Clone)]
pub struct Event {
    pub name: &'static str,
    /// `"key":value` members, comma-separated, in key order (empty: none).
    members: String,
    /// Members written when the record is rendered, on the audit thread (the records of
    /// every call: the relay only moves their values here, off its path).
    later: Option<Arc<dyn Later>>,
    /// A call's arguments, redacted when the record is rendered (on the audit thread, off
    /// the relay's path). Written first, as `args`, the smallest key of a `decision`.
    args: Option<Args>,
    /// The server label the record is about, when it is not the writer's own (an
    /// approval of another server's call, changed by this process).
    server: Option<String>,
}

/// Members of an [`Event`] that are written when it is rendered (see [`Event::later`]).
pub trait Later: Send + Sync {
    /// Writes the members, in key order, after `args`.
    fn members(&self, m: Members) -> Members;
}

/// The `args` of a `decision` record.
#[derive(Debug, Clone, PartialEq)]
pub enum Args {
    /// The call's `arguments` (`{}` when it gave none): JSON text sharing the received
    /// line (`Call::arguments`), redacted and cut straight from the text, no tree built.
    Call(Option<Shared>),
    /// Not known: the payload could not be trusted (`null`).
    Unknown,
}

impl Event {
    /// An event from a JSON object (for the rare ones: session, client, tools, rejected).
    pub fn new(name: &'static str, fields: Json) -> Event {
        let mut members = String::new();
        if let Json::Object(map) = fields {
            for (key, value) in &map {
                if !members.is_empty() {
                    members.push(',');
                }
                canonical_string(key, &mut members);
                members.push(':');
                members.push_str(&value.to_string());
            }
        }
        Event { name, members, later: None, args: None, server: None }
    }

    /// The same event, about the server `label` whoever writes it.
    pub fn about(mut self, label: &str) -> Event {
        self.server = Some(label.to_owned());
        self
    }

    /// An event whose members are written from `later` when it is rendered, after `args`.
    pub fn later(name: &'static str, args: Option<Args>, later: Arc<dyn Later>) -> Event {
        Event { name, members: String::new(), later: Some(later), args, server: None }
    }

    /// The members as JSON text (written now when they are written later).
    fn members(&self) -> Cow<'_, str> {
        match &self.later {
            Some(later) => Cow::Owned(later.members(Members::onto(String::new())).done()),
            None => Cow::Borrowed(&self.members),
        }
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name)
            .field("members", &self.members())
            .field("args", &self.args)
            .field("server", &self.server)
            .finish()
    }
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.name == other.name
            && self.members() == other.members()
            && self.args == other.args
            && self.server == other.server
    }
}

/// Builds an [`Event`]'s members in key order, straight into JSON text. (Its methods are
/// inlined: the builder moves by value, and a call per member would copy it each time.)
pub struct Members {
    out: String,
    last: &'static str,
}

impl Members {
    /// Members written after what `out` holds.
    fn onto(out: String) -> Members {
        Members { out, last: "" }
    }

    #[inline]
    fn key(&mut self, key: &'static str) -> &mut String {
        debug_assert!(key > self.last && key > "args", "audit members out of key order: {key}");
        self.last = key;
        let out = &mut self.out;
        if !out.is_empty() {
            out.push(',');
        }
        out.push('"');
        out.push_str(key);
        out.push_str("\":");
        out
    }

    #[inline]
    pub fn str(mut self, key: &'static str, value: &str) -> Members {
        canonical_string(value, self.key(key));
        self
    }

    /// A value's `Display` text as a string, written in place.
    #[inline]
    pub fn display(mut self, key: &'static str, value: &impl std::fmt::Display) -> Members {
        let out = self.key(key);
        out.push('"');
        let _ = write!(JsonEscaped(out), "{value}");
        out.push('"');
        self
    }

    /// A string, or `null`.
    #[inline]
    pub fn opt_str(mut self, key: &'static str, value: Option<&str>) -> Members {
        match value {
            Some(value) => canonical_string(value, self.key(key)),
            None => self.key(key).push_str("null"),
        }
        self
    }

    /// A member only when there is a value (for the rare ones: no `null` in every record).
    #[inline]
    pub fn some_str(self, key: &'static str, value: Option<&str>) -> Members {
        match value {
            Some(_) => self.opt_str(key, value),
            None => self,
        }
    }

    #[inline]
    pub fn num(mut self, key: &'static str, value: u64) -> Members {
        decimal(value, self.key(key));
        self
    }

    #[inline]
    pub fn bool(mut self, key: &'static str, value: bool) -> Members {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// The members as JSON text.
    #[inline]
    pub fn done(self) -> String {
        self.out
    }
}

/// `n` in decimal, without `fmt` (every record has a few numbers).
fn decimal(mut n: u64, out: &mut String) {
    let mut text = [0u8; 20];
    let mut at = text.len();
    loop {
        at -= 1;
        text[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(text[at..].iter().map(|&b| char::from(b)));
}

/// Who wrote a record.
#[derive(Debug, Clone)]
pub struct Origin {
    pub session: String,
    pub server: String,
}

/// Renders `event` as the line that follows `head`, at time `micros`. The common fields
/// come first in a fixed order; event fields follow in key order.
pub fn render(head: &ChainHead, origin: &Origin, micros: i64, event: &Event) -> String {
    let mut line = String::with_capacity(256 + event.members.len() + if event.later.is_some() { 256 } else { 0 });
    render_onto(head, origin, micros, event, &mut line);
    line
}

/// [`render`] onto the end of `out` (a batch of lines), without a newline; returns where
/// the line starts in `out`.
pub fn render_onto(head: &ChainHead, origin: &Origin, micros: i64, event: &Event, out: &mut String) -> usize {
    let start = out.len();
    let mut line = std::mem::take(out);
    line.push_str(r#"{"v":"#);
    decimal(SCHEMA, &mut line);
    line.push_str(r#","ts":""#);
    push_rfc3339_micros(micros, &mut line);
    line.push_str(r#"","seq":"#);
    decimal(head.seq + 1, &mut line);
    for (key, value) in [
        ("event", event.name),
        ("session", &origin.session),
        ("server", event.server.as_deref().unwrap_or(&origin.server)),
        ("prev", &head.hash),
    ] {
        line.push_str(",\"");
        line.push_str(key);
        line.push_str("\":");
        canonical_string(value, &mut line);
    }
    match &event.args {
        None => {}
        Some(Args::Unknown) => line.push_str(r#","args":null"#),
        Some(Args::Call(None)) => line.push_str(r#","args":{}"#),
        Some(Args::Call(Some(arguments))) => {
            line.push_str(r#","args":"#);
            write_redacted(arguments.raw(), &mut line);
        }
    }
    match &event.later {
        // Straight into the line: each member after the first field starts with a comma.
        Some(later) => line = later.members(Members::onto(line)).done(),
        None if !event.members.is_empty() => {
            line.push(',');
            line.push_str(&event.members);
        }
        None => {}
    }
    line.push('}');
    // One record per line for every reader, and none reordered on a terminal
    // (docs/audit.md, "Characters"): the hash is over the line as written.
    if let std::borrow::Cow::Owned(escaped) = crate::core::sanitize::json_escaped(&line[start..]) {
        line.truncate(start);
        line.push_str(&escaped);
    }
    *out = line;
    start
}

/// The head after appending `line`.
pub fn advance(head: &ChainHead, line: &str) -> ChainHead {
    let mut next = head.clone();
    next.advance(line);
    next
}

impl ChainHead {
    /// The head after appending `line`, in place (the hash's text written over the last).
    pub fn advance(&mut self, line: &str) {
        self.seq += 1;
        self.hash.clear();
        push_hex(&Sha256::digest(line.as_bytes()), &mut self.hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event with its members written now (as the per-call ones are written later).
    fn built(name: &'static str, args: Option<Args>, members: impl FnOnce(Members) -> Members) -> Event {
        Event { name, members: members(Members::onto(String::new())).done(), later: None, args, server: None }
    }
    use crate::core::audit::redact::redact;
    use serde_json::json;

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 99, 1_000_000, u64::MAX] {
            let mut out = String::from("x");
            decimal(n, &mut out);
            assert_eq!(out, format!("x{n}"));
        }
    }

    #[test]
    fn records_carry_the_common_fields_and_chain() {
        let origin = Origin { session: "s1".into(), server: "bank".into() };
        let e = Event::new("decision", json!({"tool":"refund","decision":"deny"}));
        let head = ChainHead::genesis();
        let line = render(&head, &origin, 1_795_478_399_999_999, &e);
        let v: Json = serde_json::from_str(&line).unwrap();
        assert_eq!(v["v"], 1);
        assert_eq!(v["ts"], "2026-11-23T23:59:59.999999Z");
        assert_eq!(v["seq"], 1);
        assert_eq!(v["event"], "decision");
        assert_eq!(v["session"], "s1");
        assert_eq!(v["server"], "bank");
        assert_eq!(v["prev"], GENESIS);
        assert_eq!(v["tool"], "refund");
        assert!(line.starts_with(r#"{"v":1,"ts":"#), "{line}");
        let next = advance(&head, &line);
        assert_eq!(next.seq, 1);
        let line2 = render(&next, &origin, 1_795_478_400_000_000, &e);
        let v2: Json = serde_json::from_str(&line2).unwrap();
        assert_eq!(v2["prev"], line_hash(line.as_bytes()));
        assert_eq!(v2["seq"], 2);
        let about = render(&next, &origin, 0, &e.clone().about("files"));
        assert_eq!(serde_json::from_str::<Json>(&about).unwrap()["server"], "files", "an event about another server");
    }

    #[test]
    fn built_members_render_as_the_same_json_in_key_order() {
        let origin = Origin { session: "s\"1".into(), server: "bank\n".into() };
        let head = ChainHead::genesis();
        let text = r#"{"password":"hunter2","b":"\u001b[2J","a":[1.5,null]}"#;
        let arguments = crate::core::json::parse(text.as_bytes()).unwrap();
        let written = built("decision", Some(Args::Call(Some(Shared::new(text.to_owned())))), |m| {
            m.display("by", &"operator:me@tty")
                .opt_str("detail", None)
                .display("request_id", &"q\"\n\u{1}")
                .num("waited_ms", 12)
        });
        let from_json = Event::new(
            "decision",
            json!({"args": redact(&arguments), "by": "operator:me@tty", "detail": null, "request_id": "q\"\n\u{1}", "waited_ms": 12}),
        );
        let line = render(&head, &origin, 0, &written);
        assert_eq!(line, render(&head, &origin, 0, &from_json));
        let v: Json = serde_json::from_str(&line).unwrap();
        assert_eq!(v["args"]["password"], "[REDACTED]");
        assert_eq!(v["args"]["b"], "\u{1b}[2J");
        assert_eq!(v["session"], "s\"1");
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 12, "{line}");
        let empty = built("decision", Some(Args::Call(None)), |m| m);
        assert!(render(&head, &origin, 0, &empty).ends_with(r#","args":{}}"#));
        let unknown = built("decision", Some(Args::Unknown), |m| m.str("tool", "t"));
        assert!(render(&head, &origin, 0, &unknown).ends_with(r#","args":null,"tool":"t"}"#));
    }

    #[test]
    fn lines_rendered_onto_a_batch_and_heads_advanced_in_place_match_the_plain_ones() {
        let origin = Origin { session: "s".into(), server: "bank".into() };
        let (mut head, mut batch) = (ChainHead::genesis(), String::from("earlier line\n"));
        for n in 0..3u64 {
            let e = built("result", None, |m| m.num("bytes", n));
            let line = render(&head, &origin, 9, &e);
            let start = render_onto(&head, &origin, 9, &e, &mut batch);
            assert_eq!(&batch[start..], line);
            let next = advance(&head, &line);
            head.advance(&batch[start..]);
            assert_eq!(head, next);
            batch.push('\n');
        }
        assert!(batch.starts_with("earlier line\n{"));
    }

    #[test]
    fn members_written_later_render_as_members_written_now() {
        struct Values(String, u64);
        impl Later for Values {
            fn members(&self, m: Members) -> Members {
                m.str("tool", &self.0).num("waited_ms", self.1)
            }
        }
        let (origin, head) = (Origin { session: "s".into(), server: "bank".into() }, ChainHead::genesis());
        let args = Args::Call(Some(Shared::new(r#"{"token":"sk-1"}"#.to_owned())));
        let later = Event::later("decision", Some(args.clone()), Arc::new(Values("re\"fund\n".into(), 7)));
        let now = built("decision", Some(args), |m| m.str("tool", "re\"fund\n").num("waited_ms", 7));
        assert_eq!(render(&head, &origin, 5, &later), render(&head, &origin, 5, &now));
        assert_eq!(later, now);
        assert_eq!(format!("{later:?}"), format!("{now:?}"), "tests read members from the debug form");
        assert_ne!(later, Event::later("decision", None, Arc::new(Values("refund".into(), 7))));
    }
}
