//! Audit records: one JSON object per line, chained by the hash of the line before
//! (PRODUCT.md section 7). Field names are a public interface.

use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use super::time::rfc3339_micros;
use crate::core::digest::hex;

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

/// One event, before it is placed in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: &'static str,
    pub fields: Map<String, Json>,
}

impl Event {
    pub fn new(name: &'static str, fields: Json) -> Event {
        let fields = match fields {
            Json::Object(map) => map,
            _ => Map::new(),
        };
        Event { name, fields }
    }
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
    let text = |s: &str| Json::String(s.to_owned()).to_string();
    let mut line = format!(
        r#"{{"v":{SCHEMA},"ts":"{}","seq":{},"event":{},"session":{},"server":{},"prev":{}"#,
        rfc3339_micros(micros),
        head.seq + 1,
        text(event.name),
        text(&origin.session),
        text(&origin.server),
        text(&head.hash),
    );
    for (key, value) in &event.fields {
        line.push(',');
        line.push_str(&Json::String(key.clone()).to_string());
        line.push(':');
        line.push_str(&value.to_string());
    }
    line.push('}');
    line
}

/// The head after appending `line`.
pub fn advance(head: &ChainHead, line: &str) -> ChainHead {
    ChainHead { seq: head.seq + 1, hash: line_hash(line.as_bytes()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    }
}
