//! The client's own dialog (PRODUCT.md section 6, step 3): a held call asked about with
//! MCP elicitation, form mode, where the policy allows it for this server
//! (`approve_in_client`) and the client declared it (2025-06-18 and 2025-11-25).
//!
//! The request is countersign's own: its id carries a secret the server never sees
//! (`countersign-dialog-<secret>-<n>`), the client's answer to it is read here and never
//! forwarded, and an answer decides only the call it was asked for. Accepting takes a
//! choice in the form (and, under `confirm = "digest"`, the digest's first four hex
//! digits), so a client that accepts dialogs by itself approves nothing. A dismissed
//! dialog, an error or an unreadable answer decides nothing: the call goes on to the
//! approval page.
//!
//! Spec: 2025-06-18 `client/elicitation` ("elicitation/create", `message` and a flat
//! `requestedSchema`; the result's `action` is accept, decline or cancel); 2025-11-25
//! adds `mode` (form when absent) and declares form support as `elicitation: {}` or
//! `elicitation: {"form": {}}`.

use bytes::Bytes;
use serde_json::json;

use super::{Action, Now, Session, Ticket};
use crate::core::gate::{By, Place};
use crate::core::json::Value;
use crate::core::prompt::{pretty_arguments, Confirm, Held, CODE_DIGITS, SHOWN_CHARS};
use crate::core::protocol::{Id, Revision};
use crate::core::sanitize::inert_cut;

/// Most argument lines the dialog's text shows.
const DIALOG_LINES: usize = 30;

/// Longest reason kept from the dialog.
const MAX_REASON: usize = 500;

/// The text and form the client shows.
pub(super) fn params(held: &Held) -> serde_json::Value {
    let mut text = format!(
        "countersign holds a tool call for your approval.\nServer: {}\nTool: {}\nClass: {} — {}\nArguments:\n",
        inert_cut(&held.server, 60),
        inert_cut(&held.tool, 80),
        held.class,
        inert_cut(&held.why, 120)
    );
    let args = pretty_arguments(&held.arguments, Some(SHOWN_CHARS));
    for line in args.iter().take(DIALOG_LINES) {
        text.push_str(&format!("  {line}\n"));
    }
    if args.len() > DIALOG_LINES {
        text.push_str(&format!("  … {} more lines\n", args.len() - DIALOG_LINES));
    }
    if let Some(changed) = &held.changed {
        text.push_str(&format!("The server changed this tool since it was pinned:\n{changed}\n"));
    }
    let short: String = held.digest.chars().take("sha256:".len() + 16).collect();
    text.push_str(&format!("Digest: {short}…\n"));
    let mut properties = serde_json::Map::new();
    properties.insert(
        "decision".into(),
        json!({"type": "string", "title": "Your answer", "enum": ["approve", "deny"], "enumNames": ["Approve this call once", "Deny it"]}),
    );
    let mut required = vec!["decision"];
    if held.confirm == Confirm::Digest {
        text.push_str(&format!("To approve, also type the digest's first {CODE_DIGITS} hex digits.\n"));
        properties.insert(
            "code".into(),
            json!({"type": "string", "title": format!("The digest's first {CODE_DIGITS} hex digits"), "minLength": CODE_DIGITS, "maxLength": CODE_DIGITS}),
        );
        required.push("code");
    }
    properties.insert(
        "reason".into(),
        json!({"type": "string", "title": "Reason for a denial (optional; passed on to the model)", "maxLength": MAX_REASON}),
    );
    json!({
        "message": text,
        "requestedSchema": {"type": "object", "properties": properties, "required": required},
    })
}

/// What the client's answer said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Said {
    Approve,
    Deny(Option<String>),
    /// Nothing decided, and why.
    Nothing(String),
}

/// Reads the client's answer (a JSON-RPC response line) to a dialog about `held`.
fn read(bytes: &[u8], held: &Held) -> Said {
    let Ok(message) = crate::core::json::parse(bytes) else {
        return Said::Nothing("the client's answer to the dialog could not be read".into());
    };
    let Some(result) = message.get("result") else {
        return Said::Nothing("the client could not show its dialog".into());
    };
    read_result(result, held)
}

/// Reads an elicitation result (`{action, content}`) about `held`.
pub(super) fn read_result(result: &Value<'_>, held: &Held) -> Said {
    let field = |name: &str| result.get("content").and_then(|c| c.get(name)).and_then(Value::as_str);
    match result.get("action").and_then(Value::as_str) {
        Some("decline") => Said::Deny(None),
        Some("accept") => match field("decision") {
            Some("deny") => {
                let reason = field("reason").map(str::trim).filter(|r| !r.is_empty());
                Said::Deny(reason.map(|r| r.chars().take(MAX_REASON).collect()))
            }
            Some("approve") if held.confirm == Confirm::Digest => {
                let code: String =
                    held.digest.strip_prefix("sha256:").unwrap_or("").chars().take(CODE_DIGITS).collect();
                let typed = field("code").map(|c| c.trim().to_ascii_lowercase());
                if code.len() == CODE_DIGITS && typed.as_deref() == Some(code.as_str()) {
                    Said::Approve
                } else {
                    Said::Nothing("the code typed in the client's dialog is not the digest's".into())
                }
            }
            Some("approve") => Said::Approve,
            _ => Said::Nothing("the client's dialog came back without a choice".into()),
        },
        _ => Said::Nothing("the client's dialog was dismissed".into()),
    }
}

impl Session {
    /// Whether a held call may be asked about in the client's dialog now.
    pub(super) fn dialog_possible(&self) -> bool {
        self.settings.dialog.is_some()
            && match self.revision {
                Some(Revision::V2025_06_18 | Revision::V2025_11_25) => self.client_elicits,
                Some(Revision::V2026_07_28) => self.envelope_elicits(),
                _ => false,
            }
    }

    /// Who answers in the client's dialog.
    pub(super) fn in_client(&self) -> By {
        let user = self.settings.dialog.as_ref().map(|d| d.user.clone()).unwrap_or_default();
        By::Operator { user, place: Place::Client }
    }

    fn dialog_prefix(&self) -> Option<String> {
        self.settings.dialog.as_ref().map(|d| format!("countersign-dialog-{}-", d.secret))
    }

    /// Asks the client about `ticket` (nobody could be asked nearer); true when asked.
    pub(super) fn open_dialog(&mut self, ticket: Ticket, now: Now, out: &mut Vec<Action>) -> bool {
        if self.revision.is_some_and(|r| r.is_stateless()) {
            return self.park(ticket, now, out);
        }
        let Some(prefix) = self.dialog_prefix() else {
            return false;
        };
        let Some(held) = self.requests.held(ticket) else {
            return false;
        };
        let shown = self.shown(held);
        self.next_internal += 1;
        let id = Id::String(format!("{prefix}{}", self.next_internal));
        let line = json!({"jsonrpc": "2.0", "id": id.to_json_value(), "method": "elicitation/create", "params": params(&shown)});
        if let Some(held) = self.requests.held_mut(ticket) {
            held.dialog_tried = true;
        }
        self.dialog = Some((id, ticket, shown));
        out.push(Action::ToClient(Bytes::from(line.to_string())));
        true
    }

    /// A response from the client: true when it answers one of countersign's dialogs (it
    /// is then read here and goes no further).
    pub(super) fn dialog_response(&mut self, id: Option<&Id>, bytes: &[u8], now: Now, out: &mut Vec<Action>) -> bool {
        let Some(prefix) = self.dialog_prefix() else {
            return false;
        };
        let ours = matches!(id, Some(Id::String(s)) if s.starts_with(&prefix));
        if !ours {
            return false;
        }
        let Some((_, ticket, held)) = self.dialog.take_if(|(asked, _, _)| Some(&*asked) == id) else {
            // An answer to a dialog that is over (the call was decided or withdrawn).
            self.reject("client", "an answer to a dialog of countersign's that is no longer open", bytes, out);
            return true;
        };
        let by = self.in_client();
        let asked = match read(bytes, &held) {
            Said::Approve => super::Asked::Approved { by, lease: false },
            Said::Deny(reason) => super::Asked::Denied { by, reason },
            Said::Nothing(why) => {
                // On to the approval page, with the time the call has left.
                out.push(on_to_the_page(&why));
                self.asking = None;
                self.queue.push_front(ticket);
                self.pump(now, out);
                return true;
            }
        };
        self.asked(ticket, asked, now, out);
        true
    }

    /// The call asked about in the client's dialog is no longer waiting: the dialog is
    /// cancelled (its answer, should one come, decides nothing).
    pub(super) fn close_dialog(&mut self, ticket: Ticket, out: &mut Vec<Action>) {
        if let Some((id, _, _)) = self.dialog.take_if(|(_, t, _)| *t == ticket) {
            let note = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": id.to_json_value(), "reason": "the call is no longer waiting"}});
            out.push(Action::ToClient(Bytes::from(note.to_string())));
        }
    }
}

/// Says on countersign's stderr why the client's dialog decided nothing.
pub(super) fn on_to_the_page(why: &str) -> Action {
    Action::Notice(format!("{why}; the call goes on to the approval page"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::classify::Class;

    fn held(confirm: Confirm) -> Held {
        let mut h = Held::new("bank", None, "refund", None, Class::Destructive, "defaults.destructive");
        h.arguments = r#"{"amount":5}"#.into();
        h.digest = format!("sha256:{}", "ab12".repeat(16));
        h.confirm = confirm;
        h
    }

    fn answer(result: serde_json::Value) -> Vec<u8> {
        json!({"jsonrpc": "2.0", "id": "x", "result": result}).to_string().into_bytes()
    }

    #[test]
    fn only_a_choice_in_the_form_decides() {
        let h = held(Confirm::Key);
        assert_eq!(read(&answer(json!({"action": "accept", "content": {"decision": "approve"}})), &h), Said::Approve);
        assert_eq!(
            read(&answer(json!({"action": "accept", "content": {"decision": "deny", "reason": " no "}})), &h),
            Said::Deny(Some("no".into()))
        );
        assert_eq!(read(&answer(json!({"action": "decline"})), &h), Said::Deny(None));
        for nothing in [
            json!({"action": "accept"}),
            json!({"action": "accept", "content": {}}),
            json!({"action": "accept", "content": {"decision": "yes"}}),
            json!({"action": "cancel"}),
            json!({}),
        ] {
            assert!(matches!(read(&answer(nothing.clone()), &h), Said::Nothing(_)), "{nothing}");
        }
        let error = json!({"jsonrpc": "2.0", "id": "x", "error": {"code": -32601, "message": "no"}}).to_string();
        assert!(matches!(read(error.as_bytes(), &h), Said::Nothing(_)));
    }

    #[test]
    fn digest_confirmation_takes_the_code_in_the_dialog_too() {
        let h = held(Confirm::Digest);
        let with = |code: &str| answer(json!({"action": "accept", "content": {"decision": "approve", "code": code}}));
        assert_eq!(read(&with("AB12"), &h), Said::Approve);
        assert!(matches!(read(&with("ab13"), &h), Said::Nothing(_)));
        assert!(matches!(
            read(&answer(json!({"action": "accept", "content": {"decision": "approve"}})), &h),
            Said::Nothing(_)
        ));
        let p = params(&h);
        assert_eq!(p["requestedSchema"]["required"], json!(["decision", "code"]));
    }

    #[test]
    fn the_dialog_text_names_tool_arguments_and_short_digest() {
        let p = params(&held(Confirm::Key));
        let text = p["message"].as_str().unwrap();
        assert!(
            text.contains("Tool: refund")
                && text.contains("\"amount\": 5")
                && text.contains("sha256:ab12ab12ab12ab12…"),
            "{text}"
        );
        assert_eq!(p["requestedSchema"]["properties"]["decision"]["enum"], json!(["approve", "deny"]));
    }
}
