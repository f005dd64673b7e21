//! A `tools/call` as the gate sees it, the decision about it, and the answer a denied call
//! gets (PRODUCT.md section 5).

use std::fmt;
use std::sync::Arc;

use super::classify::Class;
use super::digest::call_digest;
use super::json::Value;
use super::protocol::{Id, Revision};

/// Why a call was allowed or denied. The denial codes are part of the public interface:
/// the model reads them and users query them in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    AllowedByPolicy,
    ApprovedByOperator,
    ApprovedByLease,
    DeniedByRule,
    DeniedByOperator,
    DeniedHeadless,
    ApprovalTimeout,
    AuditUnavailable,
    AmbiguousPayload,
    /// More calls are held than one process may hold.
    TooManyHeld,
    /// The client cancelled the call while it was held: no answer is sent.
    Cancelled,
    /// The tool's definition differs from its pin and nobody can be asked (section 7a).
    ToolChanged,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::AllowedByPolicy => "allowed_by_policy",
            Reason::ApprovedByOperator => "approved_by_operator",
            Reason::ApprovedByLease => "approved_by_lease",
            Reason::DeniedByRule => "denied_by_rule",
            Reason::DeniedByOperator => "denied_by_operator",
            Reason::DeniedHeadless => "denied_headless",
            Reason::ApprovalTimeout => "approval_timeout",
            Reason::AuditUnavailable => "audit_unavailable",
            Reason::AmbiguousPayload => "ambiguous_payload",
            Reason::TooManyHeld => "too_many_held",
            Reason::Cancelled => "cancelled",
            Reason::ToolChanged => "tool_changed",
        }
    }

    pub fn allows(self) -> bool {
        matches!(self, Reason::AllowedByPolicy | Reason::ApprovedByOperator | Reason::ApprovedByLease)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `tools/call` request, read from its params.
#[derive(Debug, Clone)]
pub struct Call {
    pub id: Id,
    pub name: String,
    /// Shared with the audit records, which redact them on the audit thread.
    pub arguments: Option<Arc<Value<'static>>>,
    pub digest: String,
    /// `params.task` was given (2025-11-25 task-augmented call).
    pub task: bool,
    /// `params._meta.progressToken`, as JSON text.
    pub progress_token: Option<String>,
    /// The call carries `inputResponses` or `requestState` (a 2026-07-28 retry).
    pub retry: bool,
}

/// Why the params of a `tools/call` cannot be gated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("tools/call params must be an object with a string `name`")]
    NoName,
    #[error("tools/call `arguments` must be an object")]
    BadArguments,
}

impl Call {
    pub fn read(id: Id, params: Option<&Value<'_>>) -> Result<Call, CallError> {
        let params = params.ok_or(CallError::NoName)?;
        let name = params.get("name").and_then(Value::as_str).ok_or(CallError::NoName)?.to_owned();
        let arguments = match params.get("arguments") {
            None => None,
            Some(a @ Value::Object(_)) => Some(Arc::new(a.clone().into_owned())),
            Some(_) => return Err(CallError::BadArguments),
        };
        let digest = call_digest(&name, arguments.as_deref());
        let progress_token = params
            .get("_meta")
            .and_then(|m| m.get("progressToken"))
            .filter(|t| matches!(t, Value::String(_) | Value::Number(_)))
            .map(|t| t.to_serde().to_string());
        Ok(Call {
            id,
            name,
            arguments,
            digest,
            task: params.get("task").is_some(),
            progress_token,
            retry: params.get("inputResponses").is_some() || params.get("requestState").is_some(),
        })
    }
}

/// Who decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum By {
    Policy,
    Headless,
    Operator { user: String, console: bool },
    Lease(String),
}

impl fmt::Display for By {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            By::Policy => f.write_str("policy"),
            By::Headless => f.write_str("headless"),
            By::Operator { user, console: false } => write!(f, "operator:{user}@tty"),
            By::Operator { user, console: true } => write!(f, "operator:{user}@console"),
            By::Lease(id) => write!(f, "lease:{id}"),
        }
    }
}

/// The final word on one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub reason: Reason,
    pub class: Class,
    /// The deciding rule id (or `defaults.<class>`), when the policy had a say.
    pub rule: Option<String>,
    pub by: By,
    pub waited_ms: u64,
    /// Extra words for the model, e.g. what was ambiguous.
    pub detail: Option<String>,
}

impl Decision {
    pub fn new(
        reason: Reason,
        class: Class,
        rule: Option<String>,
        by: By,
        waited_ms: u64,
        detail: Option<String>,
    ) -> Decision {
        Decision { reason, class, rule, by, waited_ms, detail }
    }

    pub fn allows(&self) -> bool {
        self.reason.allows()
    }
}

/// The text a denied call's model reads.
pub fn denial_text(tool: &str, decision: &Decision, digest: Option<&str>) -> String {
    let why = match decision.reason {
        Reason::DeniedByRule => match &decision.rule {
            Some(rule) => format!("policy {rule} denies this call"),
            None => "the policy denies this call".to_owned(),
        },
        Reason::DeniedByOperator => "the operator denied this call".to_owned(),
        Reason::DeniedHeadless => {
            format!("this {} tool needs a human's approval and no operator can be asked here", decision.class)
        }
        Reason::ApprovalTimeout => "nobody approved this call in time".to_owned(),
        Reason::AuditUnavailable => "the audit log cannot be written, so nothing that changes state may run".to_owned(),
        Reason::AmbiguousPayload => "the request can be read in more than one way".to_owned(),
        Reason::TooManyHeld => "too many calls are already waiting for the operator".to_owned(),
        Reason::ToolChanged => "the server changed this tool's definition since it was pinned, and no operator can be asked here; the user can review it with `countersign pins` and accept it with `countersign pins accept`".to_owned(),
        _ => "this call was not allowed".to_owned(),
    };
    let detail = decision.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    let digest = digest.unwrap_or("none");
    format!("countersign denied {tool}: {why}{detail}. reason={} digest={digest}", decision.reason)
}

/// The JSON-RPC response that answers a denied call: a tool result with `isError`, never a
/// JSON-RPC error, so that the model reads why.
pub fn denial_response(id: &Id, revision: Option<Revision>, text: &str) -> String {
    let text = serde_json::Value::String(text.to_owned());
    // 2026-07-28 results say what kind of result they are.
    let result_type = match revision {
        Some(r) if r.is_stateless() => r#","resultType":"complete""#,
        _ => "",
    };
    format!(
        r#"{{"jsonrpc":"2.0","id":{},"result":{{"content":[{{"type":"text","text":{text}}}],"isError":true{result_type}}}}}"#,
        id.to_json()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::json::parse;

    #[test]
    fn call_reads_params() {
        let p = parse(br#"{"name":"refund","arguments":{"amount":5},"_meta":{"progressToken":"p1"},"task":{"ttl":1}}"#)
            .unwrap();
        let c = Call::read(Id::Number("1".into()), Some(&p)).unwrap();
        assert_eq!(c.name, "refund");
        assert!(c.task);
        assert!(!c.retry);
        assert_eq!(c.progress_token.as_deref(), Some("\"p1\""));
        assert_eq!(c.digest, call_digest("refund", parse(br#"{"amount":5}"#).ok().as_ref()));
        let bad = parse(br#"{"name":"x","arguments":[1]}"#).unwrap();
        assert_eq!(Call::read(Id::Number("1".into()), Some(&bad)).unwrap_err(), CallError::BadArguments);
        let bad = parse(br#"{"name":7}"#).unwrap();
        assert_eq!(Call::read(Id::Number("1".into()), Some(&bad)).unwrap_err(), CallError::NoName);
        let retry = parse(br#"{"name":"x","requestState":"abc"}"#).unwrap();
        assert!(Call::read(Id::Number("1".into()), Some(&retry)).unwrap().retry);
    }

    #[test]
    fn denial_is_a_tool_result_naming_reason_and_digest() {
        let d = Decision {
            reason: Reason::DeniedHeadless,
            class: Class::Destructive,
            rule: Some("defaults.destructive".into()),
            by: By::Headless,
            waited_ms: 0,
            detail: None,
        };
        let text = denial_text("refund", &d, Some("sha256:ab"));
        assert!(text.starts_with("countersign denied refund: "), "{text}");
        assert!(text.ends_with("reason=denied_headless digest=sha256:ab"), "{text}");
        let line = denial_response(&Id::String("7".into()), Some(Revision::V2025_11_25), &text);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["id"], "7");
        assert_eq!(v["result"]["isError"], true);
        assert_eq!(v["result"]["content"][0]["text"], text);
        assert!(v["result"].get("resultType").is_none());
        let line = denial_response(&Id::Number("7".into()), Some(Revision::V2026_07_28), &text);
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["result"]["resultType"], "complete");
        assert_eq!(v["id"], 7);
    }

    #[test]
    fn by_renders_as_in_the_audit_schema() {
        assert_eq!(By::Operator { user: "ann".into(), console: false }.to_string(), "operator:ann@tty");
        assert_eq!(By::Operator { user: "ann".into(), console: true }.to_string(), "operator:ann@console");
        assert_eq!(By::Lease("l1".into()).to_string(), "lease:l1");
        assert_eq!(By::Headless.to_string(), "headless");
    }
}
