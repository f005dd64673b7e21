//! The audit records a session writes (PRODUCT.md section 7), built from its values.

use std::sync::Arc;

use serde_json::json;

use crate::core::audit::redact::redact_excerpt;
use crate::core::audit::{Args, Event, Later, Members};
use crate::core::classify::{Class, Tool};
use crate::core::gate::{By, Call, Decision};
use crate::core::protocol::Id;

/// The `decision` record of one call. Its members (and the redacted arguments) are
/// written when the record is, on the audit thread.
pub(super) fn decision(id: &Id, tool: &str, args: Args, digest: Option<&str>, task: bool, d: &Decision) -> Event {
    let values =
        DecisionRecord { id: id.clone(), tool: tool.to_owned(), digest: digest.map(str::to_owned), task, d: d.clone() };
    Event::later("decision", Some(args), Arc::new(values))
}

struct DecisionRecord {
    id: Id,
    tool: String,
    digest: Option<String>,
    task: bool,
    d: Decision,
}

impl Later for DecisionRecord {
    fn members(&self, m: Members) -> Members {
        let d = &self.d;
        m.display("by", &d.by)
            .str("class", d.class.as_str())
            .str("decision", if d.allows() { "allow" } else { "deny" })
            .opt_str("detail", d.detail.as_deref())
            .opt_str("digest", self.digest.as_deref())
            .some_str(
                "lease",
                match &d.by {
                    By::Lease(id) => Some(id.as_str()),
                    _ => None,
                },
            )
            .str("reason", d.reason.as_str())
            .some_str("receipt", d.receipt.as_deref())
            .display("request_id", &self.id)
            .opt_str("rule", d.rule.as_deref())
            .bool("task", self.task)
            .str("tool", &self.tool)
            .num("waited_ms", d.waited_ms)
    }
}

/// A call's arguments as the log shows them: redacted, long values cut (what a pending
/// approval stores).
pub(super) fn redacted_arguments(call: &Call) -> String {
    match &call.arguments {
        Some(arguments) => crate::core::audit::redact_raw::redacted(arguments.raw()),
        None => "{}".to_owned(),
    }
}

pub(super) fn call_decision(call: &Call, d: &Decision) -> Event {
    decision(&call.id, &call.name, Args::Call(call.arguments.clone()), Some(&call.digest), call.task, d)
}

/// How a forwarded call came back.
pub(super) struct Outcome {
    /// A tool result saying `isError: true`, or a JSON-RPC error.
    pub is_error: bool,
    /// A JSON-RPC error.
    pub error: bool,
    pub ms: u64,
    pub bytes: usize,
}

/// The `result` record of a call the server answered (its members written on the audit
/// thread).
pub(super) fn result(id: &Id, tool: String, digest: String, class: Class, outcome: Outcome) -> Event {
    Event::later("result", None, Arc::new(ResultRecord { id: id.clone(), tool, digest, class, outcome }))
}

struct ResultRecord {
    id: Id,
    tool: String,
    digest: String,
    class: Class,
    outcome: Outcome,
}

impl Later for ResultRecord {
    fn members(&self, m: Members) -> Members {
        let o = &self.outcome;
        m.num("bytes", o.bytes as u64)
            .str("class", self.class.as_str())
            .str("digest", &self.digest)
            .num("duration_ms", o.ms)
            .bool("is_error", o.is_error)
            .bool("jsonrpc_error", o.error)
            .display("request_id", &self.id)
            .str("tool", &self.tool)
    }
}

/// Malformed or ambiguous input, with a short excerpt.
pub(super) fn rejected(from: &str, why: &str, bytes: &[u8]) -> Event {
    let excerpt = redact_excerpt(bytes);
    Event::new("rejected", json!({"from": from, "reason": why, "excerpt": excerpt}))
}

/// Tools learned (new or changed definitions), each with what its pin says (`notes`, by
/// position: `pin` = `new` / `same` / `changed`, and for `changed` the pinned digest and
/// the listed one).
pub(super) fn tools(changed: &[Tool], notes: &[Option<serde_json::Value>]) -> Event {
    let tools: Vec<_> = changed
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut tool = json!({"name": t.name, "title": t.title, "class": t.class.as_str(), "digest": t.digest});
            if let (Some(Some(serde_json::Value::Object(note))), Some(map)) = (notes.get(i), tool.as_object_mut()) {
                map.extend(note.clone());
            }
            tool
        })
        .collect();
    Event::new("tools", json!({ "tools": tools }))
}

/// The client's self-reported identity and revision.
pub(super) fn client(info: serde_json::Value, protocol: Option<&str>) -> Event {
    Event::new("client", json!({"client": info, "protocol": protocol}))
}
