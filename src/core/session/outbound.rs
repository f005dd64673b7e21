//! A line from the server, read once into what the session needs to route it. Pure, and
//! run by the reader, so a giant result is validated off the task owning the session.

use std::ops::Range;

use bytes::Bytes;

use crate::core::json::{self, string_end_bytes, Message};
use crate::core::protocol::{kind_of, Id, Kind};

#[derive(Debug)]
pub enum ServerLine {
    Blank,
    /// Longer than the line limit: skipped, and `id` when the head of the line names one.
    TooLong {
        len: usize,
        id: Option<Id>,
    },
    /// Not JSON-RPC, or not JSON at all: dropped. `id` when a request id can still be read
    /// from the bytes, so that the request it answers is failed at once.
    Dropped {
        why: String,
        id: Option<Id>,
        bytes: Bytes,
    },
    Single(Answer),
    /// A 2025-03-26 batch: passed on element by element.
    Batch(Vec<Answer>),
}

/// One message from the server.
#[derive(Debug)]
pub struct Answer {
    pub bytes: Bytes,
    pub kind: AnswerKind,
}

#[derive(Debug)]
pub enum AnswerKind {
    /// A response or error to a request of the client (or of countersign itself).
    Reply {
        id: Id,
        /// A JSON-RPC error.
        error: bool,
        /// A tool result saying `isError: true` (or an error).
        is_error: bool,
        /// Where `result` is in `bytes`.
        result: Option<Range<usize>>,
    },
    ListChanged,
    /// Notifications, server-to-client requests, errors without an id: passed on.
    Other,
    Invalid {
        why: &'static str,
        id: Option<Id>,
    },
}

pub fn read(bytes: Bytes) -> ServerLine {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return ServerLine::Blank;
    }
    match json::scan_envelope(&bytes) {
        Ok(Message::Single(env)) => {
            let kind = answer_kind(&bytes, &env);
            ServerLine::Single(Answer { kind, bytes: bytes.clone() })
        }
        Ok(Message::Batch(items)) => ServerLine::Batch(
            items
                .into_iter()
                .filter_map(|element| {
                    let slice = bytes.slice_ref(element.as_bytes());
                    // Checked as part of the array.
                    let kind = match json::scan_envelope_str(element) {
                        Ok(Message::Single(env)) => answer_kind(&slice, &env),
                        _ => return None,
                    };
                    Some(Answer { bytes: slice, kind })
                })
                .collect(),
        ),
        Ok(Message::Other) => ServerLine::Dropped { why: "not a JSON-RPC object".into(), id: None, bytes },
        Err(e) => ServerLine::Dropped { why: format!("not JSON ({e})"), id: sniff_id(&bytes), bytes },
    }
}

fn answer_kind(bytes: &[u8], env: &json::Envelope<'_>) -> AnswerKind {
    let kind = match kind_of(env) {
        Ok(kind) => kind,
        Err(invalid) => return AnswerKind::Invalid { why: invalid.why, id: invalid.id },
    };
    match kind {
        Kind::Response { id } | Kind::Error { id: Some(id) } => AnswerKind::Reply {
            id,
            error: env.error.is_some(),
            is_error: env.result.is_none() || env.result_is_error == Some("true"),
            result: env.result.map(|r| span(bytes, r)),
        },
        Kind::Notification { method } if method == "notifications/tools/list_changed" => AnswerKind::ListChanged,
        _ => AnswerKind::Other,
    }
}

fn span(whole: &[u8], part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

/// The `id` of a top-level object, read leniently from text that may not be valid JSON
/// (too deep, cut short, bad escapes elsewhere): only its top level is walked.
pub fn sniff_id(bytes: &[u8]) -> Option<Id> {
    let mut depth = 0usize;
    let mut i = 0;
    let mut key_start = None;
    let mut after_key: Option<&[u8]> = None;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // An unterminated string runs to the end: nothing after it is read.
                let end = string_end_bytes(bytes, i).unwrap_or(bytes.len() + 1);
                if depth == 1 && key_start.is_none() && after_key.is_none() {
                    key_start = Some(&bytes[i + 1..end - 1]);
                }
                i = end - 1;
            }
            b':' if depth == 1 => {
                after_key = key_start.take();
                if after_key == Some(b"id") {
                    let rest = &bytes[i + 1..];
                    let rest = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
                    let end = if rest.first() == Some(&b'"') {
                        string_end_bytes(rest, 0)?
                    } else {
                        rest.iter()
                            .position(|b| matches!(b, b',' | b'}' | b' ' | b'\n' | b'\r' | b'\t'))
                            .unwrap_or(rest.len())
                    };
                    return std::str::from_utf8(&rest[..end]).ok().and_then(Id::from_raw);
                }
            }
            b',' if depth == 1 => {
                key_start = None;
                after_key = None;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_found_in_broken_or_deep_text() {
        assert_eq!(sniff_id(br#"{"jsonrpc":"2.0","id":7,"result":[[[[["#), Some(Id::Number("7".into())));
        assert_eq!(sniff_id(br#"{"result":{"id":1},"id":"x\"y"}"#), Some(Id::String("x\"y".into())));
        assert_eq!(sniff_id(br#"{"result":{"id":1}}"#), None, "only the top level counts");
        assert_eq!(sniff_id(br#"{"a":"id","b":2}"#), None, "a value is not a key");
        assert_eq!(sniff_id(b"garbage"), None);
        assert_eq!(sniff_id(br#"{"note":"unterminated \"#), None, "a string cut short ends the walk");
        assert_eq!(sniff_id(b"{\"x\":\"\xff\\\"\",\"id\":3,"), Some(Id::Number("3".into())), "bytes, not UTF-8");
    }

    #[test]
    fn an_answer_that_is_not_utf8_is_dropped_and_names_its_request() {
        let good =
            "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"日本語 é\"}]}}";
        assert!(matches!(read(Bytes::from(good)), ServerLine::Single(Answer { kind: AnswerKind::Reply { .. }, .. })));
        // Valid text first, then a byte that ends no character: the whole line goes.
        let at = good.find('é').unwrap() + 'é'.len_utf8();
        let bad = [&good.as_bytes()[..at], b"\xff", &good.as_bytes()[at..]].concat();
        let ServerLine::Dropped { why, id, .. } = read(Bytes::from(bad)) else {
            panic!("a line that is not UTF-8 read")
        };
        assert!(why.contains("invalid UTF-8"), "{why}");
        assert_eq!(id, Some(Id::Number("3".into())), "its request is failed at once");
    }

    #[test]
    fn replies_say_where_their_result_is() {
        let line = Bytes::from_static(br#"{"jsonrpc":"2.0","id":3,"result":{"isError":true}}"#);
        let ServerLine::Single(Answer { kind: AnswerKind::Reply { id, is_error, result, .. }, bytes }) = read(line)
        else {
            panic!()
        };
        assert_eq!(id, Id::Number("3".into()));
        assert!(is_error);
        assert_eq!(&bytes[result.unwrap()], br#"{"isError":true}"#);
    }
}
