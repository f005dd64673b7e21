//! The JSON-RPC/MCP view of one message: what kind it is, its id and method, and the
//! revision rules that change what the gate may accept or must answer.

use std::fmt;

use super::json::{self, Envelope, Raw, Value};

/// The `_meta` key by which a 2026-07-28 request names its revision.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key by which a 2026-07-28 request names its client.
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// The 2026-07-28 client's capabilities, in every request's `_meta`.
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// MCP revisions that change the gate's behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Revision {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

impl Revision {
    pub const ALL: [Revision; 5] = [
        Revision::V2024_11_05,
        Revision::V2025_03_26,
        Revision::V2025_06_18,
        Revision::V2025_11_25,
        Revision::V2026_07_28,
    ];

    pub fn parse(text: &str) -> Option<Revision> {
        Revision::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Revision::V2024_11_05 => "2024-11-05",
            Revision::V2025_03_26 => "2025-03-26",
            Revision::V2025_06_18 => "2025-06-18",
            Revision::V2025_11_25 => "2025-11-25",
            Revision::V2026_07_28 => "2026-07-28",
        }
    }

    /// JSON-RPC batches exist only in 2025-03-26 (added there, removed in 2025-06-18).
    pub fn allows_batches(self) -> bool {
        self == Revision::V2025_03_26
    }

    /// The stateless era: no `initialize`, results carry `resultType`.
    pub fn is_stateless(self) -> bool {
        self >= Revision::V2026_07_28
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JSON-RPC id compared by value (`1` and `1.0` are one id; `"1"` is another).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Id {
    Number(String),
    String(String),
}

impl Id {
    /// Reads an id from its raw JSON text; `None` for anything but a string or number.
    pub fn from_raw(raw: &str) -> Option<Id> {
        // The usual ids need no parse: a string (decoded as the parser decodes it), or an
        // integer already in its canonical form (JCS writes an integer below 2^53 as its
        // digits; `-0` is `0`).
        if raw.starts_with('"') {
            return Raw::new(raw).as_str().map(|text| Id::String(text.into_owned()));
        }
        if canonical_integer(raw) {
            return Some(Id::Number(raw.to_owned()));
        }
        match json::parse(raw.as_bytes()).ok()? {
            Value::String(s) => Some(Id::String(s.into_owned())),
            number @ Value::Number(_) => {
                let mut canonical = String::new();
                super::digest::canonicalize(&number, &mut canonical);
                Some(Id::Number(canonical))
            }
            _ => None,
        }
    }

    /// The id as JSON text.
    pub fn to_json(&self) -> String {
        self.to_json_value().to_string()
    }

    pub fn to_json_value(&self) -> serde_json::Value {
        match self {
            // Integers as they are; anything else through a correctly rounded parse (the
            // text came from JCS, so the double is exact).
            Id::Number(n) => match n.parse::<i64>() {
                Ok(i) => serde_json::Value::from(i),
                Err(_) => n.parse::<f64>().ok().map_or(serde_json::Value::Null, serde_json::Value::from),
            },
            Id::String(s) => serde_json::Value::String(s.clone()),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Number(n) => f.write_str(n),
            Id::String(s) => write!(f, "{s:?}"),
        }
    }
}

/// What a single message is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Request {
        id: Id,
        method: String,
    },
    Notification {
        method: String,
    },
    Response {
        id: Id,
    },
    /// A JSON-RPC error response; `id` is `None` when the peer sent `null`.
    Error {
        id: Option<Id>,
    },
}

/// Why a message is not a JSON-RPC 2.0 message; carries the id when one could be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{why}")]
pub struct Invalid {
    pub why: &'static str,
    pub id: Option<Id>,
}

/// An integer written as JCS writes it: `0`, or an optional `-` and up to 15 digits
/// without a leading zero (below 2^53, so exact as a double).
fn canonical_integer(raw: &str) -> bool {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    let bytes = digits.as_bytes();
    match bytes {
        [b'0'] => raw == "0",
        [b'1'..=b'9', rest @ ..] => rest.len() < 15 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// Classifies an envelope as a request, notification, response or error.
pub fn kind_of(env: &Envelope<'_>) -> Result<Kind, Invalid> {
    let id = match env.id {
        None => None,
        Some(raw) => match Id::from_raw(raw) {
            Some(id) => Some(id),
            None if raw == "null" && env.error.is_some() => None,
            None => return Err(Invalid { why: "id must be a string or a number", id: None }),
        },
    };
    let invalid = |why| Err(Invalid { why, id: id.clone() });
    if env.jsonrpc != Some("\"2.0\"") {
        let spelled = env.jsonrpc.and_then(|raw| json::parse(raw.as_bytes()).ok());
        if spelled.as_ref().and_then(Value::as_str) != Some("2.0") {
            return invalid("jsonrpc must be \"2.0\"");
        }
    }
    if let Some(raw) = env.method {
        let Some(method) = Raw::new(raw).as_str() else {
            return invalid("method must be a string");
        };
        if env.result.is_some() || env.error.is_some() {
            return invalid("a request cannot carry result or error");
        }
        if let Some(params) = env.params {
            if !matches!(params.as_bytes().first(), Some(b'{' | b'[')) {
                return invalid("params must be an object or an array");
            }
        }
        let method = method.into_owned();
        return Ok(match id {
            Some(id) => Kind::Request { id, method },
            None => Kind::Notification { method },
        });
    }
    match (env.result.is_some(), env.error.is_some(), id) {
        (true, false, Some(id)) => Ok(Kind::Response { id }),
        (false, true, id) => Ok(Kind::Error { id }),
        (_, _, id) => Err(Invalid { why: "not a request, notification or response", id }),
    }
}

/// The revision a request names in `params._meta` (2026-07-28 and later).
pub fn meta_revision(params: Option<&Value<'_>>) -> Option<Result<Revision, String>> {
    let raw = params?.get("_meta")?.get(META_PROTOCOL_VERSION)?;
    Some(match raw.as_str() {
        Some(text) => Revision::parse(text).ok_or_else(|| text.to_owned()),
        None => Err(raw.type_name().to_owned()),
    })
}

/// Builds a JSON-RPC error response line (without the newline).
pub fn error_response(id: Option<&Id>, code: i64, message: &str) -> String {
    let id = id.map_or_else(|| "null".to_owned(), Id::to_json);
    let message = serde_json::Value::String(message.to_owned());
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{code},"message":{message}}}}}"#)
}

/// JSON-RPC 2.0 error codes used by the gate.
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json::{scan_envelope, Message};

    fn kind(line: &str) -> Result<Kind, Invalid> {
        match scan_envelope(line.as_bytes()).unwrap() {
            Message::Single(env) => kind_of(&env),
            _ => panic!("not single"),
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":1.0,"method":"tools\/call"}"#),
            Ok(Kind::Request { id: Id::Number("1".into()), method: "tools/call".into() })
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"\u0032.0","method":"notifications/initialized"}"#),
            Ok(Kind::Notification { method: "notifications/initialized".into() })
        );
        assert_eq!(
            kind(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#),
            Ok(Kind::Response { id: Id::String("a".into()) })
        );
        assert_eq!(kind(r#"{"jsonrpc":"2.0","id":null,"error":{}}"#), Ok(Kind::Error { id: None }));
    }

    #[test]
    fn invalid_messages_keep_their_id() {
        let e = kind(r#"{"jsonrpc":"1.0","id":5,"method":"x"}"#).unwrap_err();
        assert_eq!(e.id, Some(Id::Number("5".into())));
        assert!(kind(r#"{"id":5,"method":"x"}"#).is_err());
        assert!(kind(r#"{"jsonrpc":"2.0","id":5,"method":7}"#).is_err());
        assert!(kind(r#"{"jsonrpc":"2.0","id":[1],"method":"x"}"#).is_err());
        assert!(kind(r#"{"jsonrpc":"2.0","id":5,"method":"x","params":3}"#).is_err());
        assert!(kind(r#"{"jsonrpc":"2.0","id":5}"#).is_err());
        assert!(kind(r#"{"jsonrpc":"2.0","id":5,"method":"x","result":{}}"#).is_err());
    }

    #[test]
    fn meta_revision_is_read_from_params() {
        let p = json::parse(br#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#).unwrap();
        assert_eq!(meta_revision(Some(&p)), Some(Ok(Revision::V2026_07_28)));
        let p = json::parse(br#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"1999-01-01"}}"#).unwrap();
        assert_eq!(meta_revision(Some(&p)), Some(Err("1999-01-01".into())));
        assert_eq!(meta_revision(None), None);
    }

    #[test]
    fn numeric_ids_answer_as_the_same_number() {
        for raw in ["7", "-3", "5.1E+25", "0.1", "1e21"] {
            let id = Id::from_raw(raw).unwrap();
            let echoed = Id::from_raw(&id.to_json()).unwrap();
            assert_eq!(echoed, id, "{raw} came back as {}", id.to_json());
        }
    }

    #[test]
    fn usual_ids_read_without_a_parse_are_read_as_the_parse_reads_them() {
        let parsed = |raw: &str| match json::parse(raw.as_bytes()) {
            Ok(Value::String(s)) => Some(Id::String(s.into_owned())),
            Ok(number @ Value::Number(_)) => {
                let mut canonical = String::new();
                crate::core::digest::canonicalize(&number, &mut canonical);
                Some(Id::Number(canonical))
            }
            _ => None,
        };
        let empty = String::from("\"\"");
        for raw in [
            "0",
            "-0",
            "7",
            "-12",
            "100",
            "123456789012345",
            "-123456789012345",
            "1234567890123456",
            "9007199254740993",
            "01",
            "-",
            "1.0",
            "1e3",
            "-0.0",
            "true",
            r#""abc""#,
            &empty,
            r#""a\u0062""#,
            r#""\"""#,
            r#""é 😀""#,
        ] {
            assert_eq!(Id::from_raw(raw), parsed(raw), "{raw}");
        }
        let zero = kind(r#"{"jsonrpc":"2.0","id":0,"method":"x"}"#);
        assert_eq!(kind(r#"{"jsonrpc":"2.0","id":-0,"method":"x"}"#), zero);
    }

    #[test]
    fn error_response_shape() {
        assert_eq!(
            error_response(Some(&Id::String("x".into())), code::INVALID_REQUEST, "bad \"thing\""),
            r#"{"jsonrpc":"2.0","id":"x","error":{"code":-32600,"message":"bad \"thing\""}}"#
        );
        assert_eq!(
            error_response(None, -32700, "p"),
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"p"}}"#
        );
    }
}
