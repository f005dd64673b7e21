//! A line from the client, read once into what the session needs. Pure, and run by the
//! reader before the session sees the line, so that the task owning the session only
//! routes: a giant message is validated (and its call digested) off that task.

use std::borrow::Cow;

use bytes::Bytes;

use crate::core::audit::redact::redact;
use crate::core::gate::{Call, CallError, Params};
use crate::core::json::{self, Message, Raw, Shared, Value};
use crate::core::protocol::{kind_of, meta_revision, Id, Kind, Revision, META_CLIENT_INFO};

/// One line from the client, examined.
#[derive(Debug)]
pub enum ClientLine {
    /// Only whitespace: ignored.
    Blank,
    /// Longer than the line limit; skipped whole.
    TooLong(usize),
    /// Not JSON (or not UTF-8).
    Unparsable {
        why: String,
        bytes: Bytes,
    },
    /// Valid JSON that is neither an object nor an array.
    NotObject(Bytes),
    Single(Item),
    /// A JSON array: each element examined on its own.
    Batch {
        bytes: Bytes,
        items: Vec<Item>,
    },
}

/// One JSON-RPC object and its original bytes (what is forwarded when it is).
#[derive(Debug)]
pub struct Item {
    pub bytes: Bytes,
    pub kind: ItemKind,
}

#[derive(Debug)]
pub enum ItemKind {
    /// Not a JSON-RPC message. `answer`: a request (or something that may be one) that
    /// gets an error back; a broken notification gets nothing.
    Invalid {
        why: &'static str,
        id: Option<Id>,
        answer: bool,
    },
    /// Well-formed, but a server could read it differently (PRODUCT.md section 5).
    Ambiguous {
        why: String,
        id: Option<Id>,
        method: Option<String>,
    },
    Request {
        id: Id,
        method: String,
        facts: Box<Facts>,
    },
    /// A `tools/call` without an id: never forwarded (PRODUCT.md section 8).
    CallNotification,
    Notification {
        method: String,
        cancels: Option<Id>,
    },
    /// An answer to a server-to-client request (sampling, elicitation, roots).
    /// A response or error (to a request of the server's, or of countersign's own dialog).
    Response {
        id: Option<Id>,
    },
}

/// What the session needs from a request's params, read once.
#[derive(Debug, Default)]
pub struct Facts {
    /// The revision and envelope a 2026-07-28 request carries in `_meta`.
    pub meta: Option<Meta>,
    /// `initialize`: the revision asked for and the client's identity.
    pub initialize: Option<Initialize>,
    /// `tools/list` without a cursor.
    pub first_page: bool,
    /// `tools/call`: the call, or why it cannot be gated.
    pub call: Option<Result<Call, CallError>>,
    /// `tasks/*` about a task countersign owns.
    pub owned_task: Option<String>,
}

#[derive(Debug)]
pub struct Meta {
    pub revision: Revision,
    /// The `io.modelcontextprotocol/*` members (revision, client info, capabilities):
    /// countersign's own requests carry the same.
    pub envelope: Vec<(String, Value<'static>)>,
    /// The client info, redacted for the log.
    pub client: Option<serde_json::Value>,
    pub client_name: Option<String>,
}

#[derive(Debug)]
pub struct Initialize {
    pub asked: Option<String>,
    /// The client declared form elicitation (its own dialog).
    pub elicits_form: bool,
    pub client: serde_json::Value,
    pub client_name: Option<String>,
}

/// Largest member of a request's params read as a tree (`_meta`, `clientInfo`, ...):
/// larger ones are not looked into.
const SMALL: usize = 1 << 20;

/// Reads one line from the client. The line is kept whole and shared: what is forwarded,
/// and a call's arguments, are parts of it, never copies.
pub fn read(line: Vec<u8>) -> ClientLine {
    if line.iter().all(u8::is_ascii_whitespace) {
        return ClientLine::Blank;
    }
    let line = match Shared::from_utf8(line) {
        Ok(line) => line,
        Err((e, bytes)) => return ClientLine::Unparsable { why: format!("parse error: {e}"), bytes: bytes.into() },
    };
    let bytes = Bytes::from_owner(line.clone());
    let items = match json::scan_envelope_str(line.as_str()) {
        Err(e) => return ClientLine::Unparsable { why: format!("parse error: {e}"), bytes },
        Ok(Message::Other) => return ClientLine::NotObject(bytes),
        Ok(Message::Single(env)) => return ClientLine::Single(Item { kind: item_kind(&line, env), bytes }),
        Ok(Message::Batch(items)) => items,
    };
    let items = items
        .into_iter()
        .map(|element| {
            let part = line.part(element);
            // Elements were validated as part of the array.
            let kind = match json::scan_envelope_str(part.as_str()) {
                Ok(Message::Single(env)) => item_kind(&part, env),
                _ => ItemKind::Invalid { why: "a batch element must be a JSON-RPC object", id: None, answer: true },
            };
            Item { bytes: Bytes::from_owner(part), kind }
        })
        .collect();
    ClientLine::Batch { bytes, items }
}

fn item_kind(line: &Shared, env: json::Envelope<'_>) -> ItemKind {
    let kind = match kind_of(&env) {
        Ok(kind) => kind,
        Err(invalid) => {
            let answer = env.id.is_some() || env.method.is_none();
            return ItemKind::Invalid { why: invalid.why, id: invalid.id, answer };
        }
    };
    if let Some(ambiguity) = &env.ambiguity {
        let (id, method) = match &kind {
            Kind::Request { id, method } => (Some(id.clone()), Some(method.clone())),
            Kind::Notification { method } => (None, Some(method.clone())),
            _ => (None, None),
        };
        return ItemKind::Ambiguous { why: ambiguity.to_string(), id, method };
    }
    match kind {
        Kind::Request { id, method } => {
            let raw = env.params.map(Raw::new);
            // Only the small members the session reads become a tree, in one walk over
            // the params; a call's arguments stay text. Most requests are read for `_meta`
            // alone, and without one nothing is built.
            if method == "tools/call" {
                // The call and its `_meta` from the same walk.
                let params = raw.and_then(Params::read);
                let small = raw.map(|_| meta_only(params.as_ref()));
                let mut facts = Box::new(facts(&method, small.as_ref()));
                facts.call = Some(Call::from_params(id.clone(), params.as_ref(), line));
                return ItemKind::Request { id, method, facts };
            }
            let keys: &[&str] = match method.as_str() {
                "initialize" | "tools/list" => &["_meta", "cursor", "protocolVersion", "clientInfo", "capabilities"],
                m if m.starts_with("tasks/") => &["_meta", "taskId"],
                _ => &["_meta"],
            };
            let small = raw.map(|r| r.pick(keys, SMALL));
            let facts = Box::new(facts(&method, small.as_ref()));
            ItemKind::Request { id, method, facts }
        }
        Kind::Notification { method } if method == "tools/call" => ItemKind::CallNotification,
        Kind::Notification { method } => {
            let cancels = (method == "notifications/cancelled")
                .then(|| env.params.and_then(|p| Raw::new(p).get("requestId")))
                .flatten()
                .and_then(|r| Id::from_raw(r.text()));
            ItemKind::Notification { method, cancels }
        }
        Kind::Response { id } => ItemKind::Response { id: Some(id) },
        Kind::Error { id } => ItemKind::Response { id },
    }
}

/// What `params.pick(&["_meta"], SMALL)` gives, from params already walked.
fn meta_only<'a>(params: Option<&Params<'a>>) -> Value<'a> {
    let meta = params.and_then(|p| p.meta).filter(|m| m.text().len() <= SMALL);
    let meta = meta.and_then(|m| m.parse().ok()).map(|tree| (Cow::Borrowed("_meta"), tree));
    Value::Object(meta.into_iter().collect())
}

fn facts(method: &str, params: Option<&Value<'_>>) -> Facts {
    let mut facts = Facts { meta: meta(params), ..Facts::default() };
    match method {
        "initialize" => {
            let info = params.and_then(|p| p.get("clientInfo"));
            facts.initialize = Some(Initialize {
                asked: params.and_then(|p| p.get("protocolVersion")).and_then(Value::as_str).map(str::to_owned),
                elicits_form: super::declares_form(params.and_then(|p| p.get("capabilities"))),
                client: info.map_or(serde_json::Value::Null, redact),
                client_name: info.and_then(|i| i.get("name")).and_then(Value::as_str).map(str::to_owned),
            });
        }
        "tools/list" => facts.first_page = params.and_then(|p| p.get("cursor")).is_none(),
        m if m.starts_with("tasks/") => facts.owned_task = crate::core::task::owned_task_id(params),
        _ => {}
    }
    facts
}

fn meta(params: Option<&Value<'_>>) -> Option<Meta> {
    let Some(Ok(revision)) = meta_revision(params) else {
        return None;
    };
    let Some(Value::Object(meta)) = params.and_then(|p| p.get("_meta")) else {
        return None;
    };
    let info = meta.iter().find(|(k, _)| k == META_CLIENT_INFO).map(|(_, v)| v);
    Some(Meta {
        revision,
        envelope: meta
            .iter()
            .filter(|(k, _)| k.starts_with("io.modelcontextprotocol/"))
            .map(|(k, v)| (k.to_string(), v.clone().into_owned()))
            .collect(),
        client: info.map(redact),
        client_name: info.and_then(|i| i.get("name")).and_then(Value::as_str).map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calls_meta_read_in_its_one_walk_is_what_picking_it_gives() {
        let big = format!(r#"{{"_meta":{{"pad":"{}"}},"name":"t"}}"#, "x".repeat(SMALL));
        for params in [
            r#"{"name":"t","arguments":{"_meta":1},"_meta":{"progressToken":7}}"#,
            r#"{"name":"t","\u005fmeta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#,
            r#"{"name":"t","arguments":{}}"#,
            r#"{"name":"t","_meta":[1,2]}"#,
            r#"{"_meta":{"a":1},"name":"t","_meta":{"a":2}}"#,
            r#"["_meta"]"#,
            r#""x""#,
            &big,
        ] {
            let raw = Raw::new(params);
            assert_eq!(meta_only(Params::read(raw).as_ref()), raw.pick(&["_meta"], SMALL), "{params}");
        }
    }

    fn single(line: &str) -> ItemKind {
        match read(line.as_bytes().to_vec()) {
            ClientLine::Single(item) => item.kind,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_call_is_read_with_its_digest() {
        let ItemKind::Request { method, facts, .. } =
            single(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm","arguments":{"p":1}}}"#)
        else {
            panic!()
        };
        assert_eq!(method, "tools/call");
        let call = facts.call.unwrap().unwrap();
        assert_eq!(call.name, "rm");
        assert!(call.digest.starts_with("sha256:"));
    }

    #[test]
    fn a_call_without_an_id_is_its_own_kind() {
        assert!(matches!(
            single(r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"rm"}}"#),
            ItemKind::CallNotification
        ));
        let batch = read(br#"[{"jsonrpc":"2.0","method":"tools/call","params":{"name":"rm"}}]"#.to_vec());
        let ClientLine::Batch { items, .. } = batch else { panic!() };
        assert!(matches!(items[0].kind, ItemKind::CallNotification));
    }

    #[test]
    fn a_cancellation_names_its_request() {
        let ItemKind::Notification { cancels, .. } =
            single(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"a"}}"#)
        else {
            panic!()
        };
        assert_eq!(cancels, Some(Id::String("a".into())));
    }

    #[test]
    fn ambiguity_is_reported_before_anything_is_read() {
        let kind = single(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}"#);
        assert!(matches!(kind, ItemKind::Ambiguous { id: Some(_), .. }), "{kind:?}");
    }
}
