//! A `tools/call` as the gate sees it, the decision about it, and the answer a denied call
//! gets (PRODUCT.md section 5).

use std::fmt;

use super::classify::Class;
use super::digest::call_digest_raw;
use super::json::{Kind, Raw, Shared};
use super::protocol::{Id, Revision};

/// Why a call was allowed or denied. The denial codes are part of the public interface:
/// the model reads them and users query them in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    AllowedByPolicy,
    ApprovedByOperator,
    ApprovedByLease,
    /// A receipt (a pending approval the operator approved later) allowed it, once.
    ApprovedByReceipt,
    DeniedByRule,
    DeniedByOperator,
    DeniedHeadless,
    ApprovalTimeout,
    /// Nobody could be asked now: the call is kept as a pending approval (section 6a).
    ApprovalPending,
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
            Reason::ApprovedByReceipt => "approved_by_receipt",
            Reason::DeniedByRule => "denied_by_rule",
            Reason::DeniedByOperator => "denied_by_operator",
            Reason::DeniedHeadless => "denied_headless",
            Reason::ApprovalTimeout => "approval_timeout",
            Reason::ApprovalPending => "approval_pending",
            Reason::AuditUnavailable => "audit_unavailable",
            Reason::AmbiguousPayload => "ambiguous_payload",
            Reason::TooManyHeld => "too_many_held",
            Reason::Cancelled => "cancelled",
            Reason::ToolChanged => "tool_changed",
        }
    }

    pub fn allows(self) -> bool {
        matches!(
            self,
            Reason::AllowedByPolicy | Reason::ApprovedByOperator | Reason::ApprovedByLease | Reason::ApprovedByReceipt
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `tools/call` request, read from its params. The arguments stay JSON text inside
/// the received line (shared, never copied or turned into a tree): policy reads them
/// through [`Call::raw_arguments`], the prompt shows [`Call::arguments_json`], the audit
/// thread redacts them from the text (`Args::Call`).
#[derive(Debug, Clone)]
pub struct Call {
    pub id: Id,
    pub name: String,
    /// `params.arguments` as JSON text sharing the received line (an object when present).
    pub arguments: Option<Shared>,
    pub digest: String,
    /// `params.task` was given (2025-11-25 task-augmented call).
    pub task: bool,
    /// `params._meta.progressToken`, as JSON text.
    pub progress_token: Option<String>,
    /// The call carries `inputResponses` or `requestState` (a 2026-07-28 retry).
    pub retry: bool,
    /// `params.requestState` as JSON text (a 2026-07-28 retry's opaque state).
    pub request_state: Option<Shared>,
    /// `params.inputResponses` as JSON text (a 2026-07-28 retry's answers).
    pub input_responses: Option<Shared>,
}

/// Why the params of a `tools/call` cannot be gated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("tools/call params must be an object with a string `name`")]
    NoName,
    #[error("tools/call `arguments` must be an object")]
    BadArguments,
}

/// The members of a call's params that countersign reads, found in one walk over them
/// (the first of each key counts; duplicates never get this far: the scanner refuses them).
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<'a> {
    name: Option<Raw<'a>>,
    arguments: Option<Raw<'a>>,
    task: bool,
    /// `params._meta`, which the session also reads (the revision of a 2026-07-28 request).
    pub meta: Option<Raw<'a>>,
    input_responses: Option<Raw<'a>>,
    request_state: Option<Raw<'a>>,
}

impl<'a> Params<'a> {
    /// `None` when `params` is not an object.
    pub fn read(params: Raw<'a>) -> Option<Params<'a>> {
        if params.kind() != Some(Kind::Object) {
            return None;
        }
        let mut p = Params::default();
        for (key, value) in params.members() {
            match &*key {
                "name" if p.name.is_none() => p.name = Some(value),
                "arguments" if p.arguments.is_none() => p.arguments = Some(value),
                "task" => p.task = true,
                "_meta" if p.meta.is_none() => p.meta = Some(value),
                "inputResponses" if p.input_responses.is_none() => p.input_responses = Some(value),
                "requestState" if p.request_state.is_none() => p.request_state = Some(value),
                _ => {}
            }
        }
        Some(p)
    }
}

impl Call {
    /// Reads a call from its params, walked once by [`Params::read`] over the JSON text of
    /// `params` inside `line` (the received message, already validated by
    /// `json::scan_envelope`; `None`: they were not an object). Reads the name, the markers
    /// and the progress token; the arguments are only walked once, to digest them.
    /// `params` outside `line` still works, with a copy of the arguments.
    pub fn from_params(id: Id, params: Option<&Params<'_>>, line: &Shared) -> Result<Call, CallError> {
        let p = params.ok_or(CallError::NoName)?;
        let name = p.name.and_then(|n| n.as_str()).ok_or(CallError::NoName)?.into_owned();
        if p.arguments.is_some_and(|a| a.kind() != Some(Kind::Object)) {
            return Err(CallError::BadArguments);
        }
        let digest = call_digest_raw(&name, p.arguments).ok_or(CallError::BadArguments)?;
        let progress_token = p
            .meta
            .and_then(|m| m.get("progressToken"))
            .filter(|t| matches!(t.kind(), Some(Kind::String | Kind::Number)))
            .and_then(|t| t.parse().ok())
            .map(|t| t.to_serde().to_string());
        Ok(Call {
            id,
            name,
            arguments: p.arguments.map(|a| line.part(a.text())),
            digest,
            task: p.task,
            progress_token,
            retry: p.input_responses.is_some() || p.request_state.is_some(),
            request_state: p.request_state.map(|r| line.part(r.text())),
            input_responses: p.input_responses.map(|r| line.part(r.text())),
        })
    }

    /// The arguments as a lazy view (`{}` when the call gave none), for the policy.
    pub fn raw_arguments(&self) -> Raw<'_> {
        self.arguments.as_ref().map_or(Raw::new("{}"), Shared::raw)
    }

    /// The arguments' JSON text as received (`{}` when the call gave none), for the prompt.
    pub fn arguments_json(&self) -> &str {
        self.raw_arguments().text()
    }
}

/// Who decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum By {
    Policy,
    Headless,
    Operator {
        user: String,
        place: Place,
    },
    Lease(String),
    /// A receipt allowed the call: who approved it and where, as the receipt says
    /// (`operator:<user>@cli`).
    Receipt(String),
}

impl fmt::Display for By {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            By::Policy => f.write_str("policy"),
            By::Headless => f.write_str("headless"),
            By::Operator { user, place } => write!(f, "operator:{user}@{}", place.as_str()),
            By::Lease(id) => write!(f, "lease:{id}"),
            By::Receipt(by) => f.write_str(by),
        }
    }
}

/// Where the operator answered (the `@…` of `by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The operator's terminal (the prompt).
    Tty,
    /// The approver console.
    Console,
    /// The browser approval page.
    Web,
    /// The client's own dialog (elicitation).
    Client,
}

impl Place {
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Tty => "tty",
            Place::Console => "console",
            Place::Web => "web",
            Place::Client => "client",
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
    /// The receipt that allowed the call (its id), for the record.
    pub receipt: Option<String>,
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
        Decision { reason, class, rule, by, waited_ms, detail, receipt: None }
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
        Reason::ApprovalPending => "this call needs a human's approval and nobody could be asked now".to_owned(),
        Reason::AuditUnavailable => "the audit log cannot be written, so nothing that changes state may run".to_owned(),
        Reason::AmbiguousPayload => "the request can be read in more than one way".to_owned(),
        Reason::TooManyHeld => "too many calls are already waiting for the operator".to_owned(),
        Reason::ToolChanged => "the server changed this tool's definition since it was pinned, and no operator can be asked here; the user can review it with `countersign pins` and accept it with `countersign pins accept`".to_owned(),
        _ => "this call was not allowed".to_owned(),
    };
    let detail = match (decision.detail.as_deref(), decision.reason) {
        (None, _) => String::new(),
        // These details go on to say what the user can do: sentences of their own.
        (Some(d), Reason::ApprovalPending | Reason::ApprovalTimeout | Reason::DeniedHeadless) => format!(": {d}"),
        (Some(d), _) => format!(" ({d})"),
    };
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
    use crate::core::digest::call_digest;
    use crate::core::json::parse;

    fn read_call(id: Id, params: Option<Raw<'_>>, line: &Shared) -> Result<Call, CallError> {
        Call::from_params(id, params.and_then(Params::read).as_ref(), line)
    }

    fn read(params: &str) -> Result<Call, CallError> {
        let line = Shared::new(params.to_owned());
        read_call(Id::Number("1".into()), Some(line.raw()), &line)
    }

    #[test]
    fn call_reads_params() {
        let c = read(r#"{"name":"refund","arguments":{"amount":5},"_meta":{"progressToken":"p1"},"task":{"ttl":1}}"#)
            .unwrap();
        assert_eq!(c.name, "refund");
        assert!(c.task);
        assert!(!c.retry);
        assert_eq!(c.progress_token.as_deref(), Some("\"p1\""));
        assert_eq!(c.digest, call_digest("refund", parse(br#"{"amount":5}"#).ok().as_ref()));
        assert_eq!(c.arguments_json(), r#"{"amount":5}"#);
        assert_eq!(c.raw_arguments().pointer("/amount").unwrap().as_f64(), Some(5.0));
        assert_eq!(read(r#"{"name":"x","arguments":[1]}"#).unwrap_err(), CallError::BadArguments);
        assert_eq!(read(r#"{"name":7}"#).unwrap_err(), CallError::NoName);
        assert_eq!(read("[]").unwrap_err(), CallError::NoName);
        assert_eq!(
            read_call(Id::Number("1".into()), None, &Shared::new(String::new())).unwrap_err(),
            CallError::NoName
        );
        let retry = read(r#"{"name":"x","requestState":"abc"}"#).unwrap();
        assert!(retry.retry);
        assert_eq!(retry.request_state.unwrap().as_str(), r#""abc""#);
        assert!(read(r#"{"name":"x","inputResponses":{}}"#).unwrap().retry);
        let bare = read(r#"{"name":"t\u00e9","_meta":{"progressToken":7}}"#).unwrap();
        assert_eq!(bare.name, "té");
        assert_eq!(bare.arguments_json(), "{}");
        assert_eq!(bare.progress_token.as_deref(), Some("7"));
        assert_eq!(bare.digest, call_digest("té", None));
    }

    #[test]
    fn arguments_share_the_received_line() {
        let line =
            Shared::new(r#"{"jsonrpc":"2.0","id":1,"params":{"name":"x","arguments":{"big":[1,2,3]}}}"#.to_owned());
        let params = line.raw().get("params");
        let c = read_call(Id::Number("1".into()), params, &line).unwrap();
        let args = c.arguments.as_ref().unwrap();
        assert_eq!(args.as_str(), r#"{"big":[1,2,3]}"#);
        let within = args.as_str().as_ptr() as usize - line.as_str().as_ptr() as usize;
        assert!(within < line.as_str().len(), "a part of the same buffer, not a copy");
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
            receipt: None,
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
        assert_eq!(By::Operator { user: "ann".into(), place: Place::Tty }.to_string(), "operator:ann@tty");
        assert_eq!(By::Operator { user: "ann".into(), place: Place::Console }.to_string(), "operator:ann@console");
        assert_eq!(By::Lease("l1".into()).to_string(), "lease:l1");
        assert_eq!(By::Headless.to_string(), "headless");
    }
}
