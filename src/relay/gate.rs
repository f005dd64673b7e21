//! The gate: every `tools/call` is classified, decided, recorded and only then forwarded
//! or answered with a denial.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};
use tokio::sync::oneshot;

use super::state::{Pending, PendingKind, To};
use super::{Relay, SERVER_GONE};
use crate::core::audit::{Args, Event};
use crate::core::classify::{read_page, Class};
use crate::core::gate::{denial_response, denial_text, By, Call, Decision, Reason};
use crate::core::json::{self, Envelope, Value};
use crate::core::policy::Action;
use crate::core::protocol::{code, error_response, Id};
use crate::core::task::DeniedTask;
use crate::edge::clock::{random_id, Clock};

/// The `decision` audit record (PRODUCT.md section 7). The arguments are redacted when
/// the record is written, on the audit thread.
fn decision_record(id: &Id, tool: &str, args: Args, digest: Option<&str>, task: bool, d: &Decision) -> Event {
    Event::build("decision")
        .args(args)
        .display("by", &d.by)
        .str("class", d.class.as_str())
        .str("decision", if d.allows() { "allow" } else { "deny" })
        .opt_str("detail", d.detail.as_deref())
        .opt_str("digest", digest)
        .str("reason", d.reason.as_str())
        .display("request_id", id)
        .opt_str("rule", d.rule.as_deref())
        .bool("task", task)
        .str("tool", tool)
        .num("waited_ms", d.waited_ms)
        .done()
}

/// The decision the policy makes alone (`allow` or `deny`).
fn policy_decision(class: Class, action: Action, rule: String) -> Decision {
    let reason = if action == Action::Allow { Reason::AllowedByPolicy } else { Reason::DeniedByRule };
    Decision { reason, class, rule: Some(rule), by: By::Policy, waited_ms: 0, detail: None }
}

/// How long countersign waits for the server to answer its own `tools/list`.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);
/// Most pages countersign follows when listing tools itself.
const MAX_PAGES: usize = 100;

impl Relay {
    /// Gates one `tools/call`. Decides at once when it can; a call that needs the tool
    /// list first, or a human, waits in its own task so the relay keeps flowing.
    pub(super) async fn gate_call(self: &Arc<Self>, bytes: &[u8], id: Id, params: Option<&Value<'_>>, to: To) {
        let call = match Call::read(id.clone(), params) {
            Ok(call) => call,
            Err(e) => {
                self.reject("client", &e.to_string(), bytes).await;
                self.reply(to, error_response(Some(&id), code::INVALID_PARAMS, &e.to_string()).into_bytes()).await;
                return;
            }
        };
        let class = self.state().registry.class(&call.name);
        let verdict = class.map(|class| (class, self.verdict(&call, class)));
        match verdict {
            Some((class, (action, rule))) if action != Action::Ask => {
                let decision = policy_decision(class, action, rule);
                self.execute(bytes, call, decision, to).await;
            }
            _ => {
                let (cancel, cancelled) = oneshot::channel();
                {
                    let mut s = self.state();
                    s.held.insert(id, cancel);
                    s.held_tasks += 1;
                }
                let relay = self.clone();
                let bytes = bytes.to_vec();
                tokio::spawn(async move {
                    relay.clone().hold(bytes, call, to, cancelled).await;
                    relay.state().held_tasks -= 1;
                    relay.held_done.notify_waiters();
                });
            }
        }
    }

    /// A call that cannot be decided at once: learn the tools if needed, ask if needed,
    /// and give up silently when the client cancels it.
    async fn hold(self: Arc<Self>, bytes: Vec<u8>, call: Call, to: To, mut cancelled: oneshot::Receiver<()>) {
        let started = Instant::now();
        let decide = async {
            let known = self.state().registry.class(&call.name);
            let class = match known {
                Some(class) => class,
                None => self.list_tools_for(&call.name).await,
            };
            match self.verdict(&call, class) {
                (Action::Ask, rule) => self.ask(&call, class, rule).await,
                (action, rule) => policy_decision(class, action, rule),
            }
        };
        // Dropped sender: the client withdrew the call; a value: the session is over.
        let mut session_over = false;
        let decision = tokio::select! {
            decision = decide => Some(decision),
            sent = &mut cancelled => {
                session_over = sent.is_ok();
                None
            }
        };
        let still_held = self.state().held.remove(&call.id).is_some();
        match decision {
            Some(mut decision) if still_held => {
                decision.waited_ms = started.elapsed().as_millis() as u64;
                self.execute(&bytes, call, decision, to).await;
            }
            _ => {
                // Never forwarded. Withdrawn by the client: no answer. The session over: an
                // error, as for calls in flight (the value may have come just after a decision).
                let session_over = session_over || cancelled.try_recv().is_ok();
                let class = self.state().registry.class(&call.name).unwrap_or(Class::Unknown);
                let decision = Decision {
                    reason: Reason::Cancelled,
                    class,
                    rule: None,
                    by: By::Policy,
                    waited_ms: started.elapsed().as_millis() as u64,
                    detail: session_over.then(|| "the session ended before the call was decided".to_owned()),
                };
                self.audit.record(self.decision_event(&call, &decision)).await;
                if session_over {
                    let line = error_response(Some(&call.id), code::INTERNAL_ERROR, SERVER_GONE);
                    self.reply(to, line.into_bytes()).await;
                } else if let To::Batch(batch) = to {
                    let ready = self.state().batch_answer(batch, None);
                    if let Some(out) = ready {
                        let _ = self.to_client.send(&out).await;
                    }
                }
            }
        }
    }

    /// `notifications/cancelled` for a held call withdraws it. True when it was held.
    pub(super) async fn withdraw_held(&self, params: Option<&str>) -> bool {
        let Some(Ok(params)) = params.map(|p| json::parse(p.as_bytes())) else {
            return false;
        };
        let Some(id) = params.get("requestId").and_then(|r| Id::from_raw(&r.to_serde().to_string())) else {
            return false;
        };
        // Dropping the sender wakes the held task, which records the cancellation.
        let withdrawn = self.state().held.remove(&id).is_some();
        if withdrawn {
            tracing::info!("client cancelled held call {id}: it will not run");
        }
        withdrawn
    }

    fn verdict(&self, call: &Call, class: Class) -> (Action, String) {
        let v = self.config.policy.evaluate(&self.config.name, &call.name, class, call.arguments.as_deref());
        (v.action, v.rule)
    }

    /// Records the decision (on disk first when the call changes state), then forwards
    /// the original bytes or answers with the denial.
    async fn execute(&self, bytes: &[u8], call: Call, mut decision: Decision, to: To) {
        if decision.allows() && decision.class != Class::ReadOnly {
            if let Err(e) = self.audit.record_durable(self.decision_event(&call, &decision)).await {
                tracing::error!("{e}: denying {} (audit_unavailable)", call.name);
                decision.reason = Reason::AuditUnavailable;
                decision.by = By::Policy;
                self.audit.record(self.decision_event(&call, &decision)).await;
            }
        } else {
            self.audit.record(self.decision_event(&call, &decision)).await;
        }
        if decision.allows() {
            self.state().counts.allowed += 1;
            let what = PendingKind::Call {
                tool: call.name.clone(),
                digest: call.digest.clone(),
                class: decision.class,
                started: Instant::now(),
            };
            self.state().inflight.insert(call.id.clone(), Pending { what, to });
            self.forward_or_fail(bytes, &call.id, to).await;
        } else {
            self.state().counts.denied += 1;
            let text = denial_text(&call.name, &decision, Some(&call.digest));
            let revision = self.state().revision;
            let answer = if call.task && !revision.is_some_and(|r| r.is_stateless()) {
                // A task-augmented call expects a task: it gets one that already failed.
                let task_id = format!("{}{}", crate::core::task::PREFIX, random_id());
                let now = crate::core::audit::time::rfc3339_micros(Clock::from_env().now_micros());
                let task = DeniedTask::new(&task_id, &now, &text);
                let created = task.created(&call.id);
                self.state().denied_tasks.insert(task_id, task);
                created
            } else {
                denial_response(&call.id, revision, &text)
            };
            self.reply(to, answer.into_bytes()).await;
        }
    }

    pub(super) fn decision_event(&self, call: &Call, d: &Decision) -> Event {
        decision_record(&call.id, &call.name, Args::Call(call.arguments.clone()), Some(&call.digest), call.task, d)
    }

    /// A request that a server could read differently from countersign: a call is denied
    /// as `ambiguous_payload` (a tool result, so the model reads why); anything else gets
    /// a JSON-RPC invalid-request error.
    pub(super) async fn refuse_ambiguous(&self, bytes: &[u8], id: Id, method: &str, why: String, to: To) {
        self.reject("client", &format!("ambiguous payload: {why}"), bytes).await;
        if method != "tools/call" {
            let line = error_response(Some(&id), code::INVALID_REQUEST, &format!("ambiguous request: {why}"));
            return self.reply(to, line.into_bytes()).await;
        }
        // Which tool it names is exactly what cannot be trusted.
        let name = "tools/call";
        let decision = Decision {
            reason: Reason::AmbiguousPayload,
            class: Class::Unknown,
            rule: None,
            by: By::Policy,
            waited_ms: 0,
            detail: Some(why),
        };
        self.state().counts.denied += 1;
        // Neither arguments nor digest: what the call says is exactly what is unclear.
        self.audit.record(decision_record(&id, name, Args::Unknown, None, false, &decision)).await;
        let revision = self.state().revision;
        let text = denial_text(name, &decision, None);
        self.reply(to, denial_response(&id, revision, &text).into_bytes()).await;
    }

    /// Lists the server's tools itself (a 2026-07-28 client may call tools it listed in
    /// another process) and returns the class of the tool the held call names. Never sends
    /// `initialize` or `server/discover`; on older revisions only after the handshake.
    async fn list_tools_for(&self, name: &str) -> Class {
        let _one_at_a_time = self.listing.lock().await;
        if !self.state().registry.is_complete() {
            match self.list_tools().await {
                Ok(tools) => {
                    let changed = self.state().registry.replace(tools);
                    self.audit_tools(changed).await;
                }
                Err(why) => tracing::warn!("cannot list the server's tools ({why}); the call counts as unknown"),
            }
        }
        self.state().registry.class(name).unwrap_or(Class::Unknown)
    }

    async fn list_tools(&self) -> Result<Vec<crate::core::classify::Tool>, String> {
        let (revision, initialized, envelope) = {
            let s = self.state();
            (s.revision, s.initialized, s.envelope.clone())
        };
        let stateless = revision.is_some_and(|r| r.is_stateless());
        if !stateless && !initialized {
            return Err("the client has not finished the MCP handshake".into());
        }
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let id = self.internal_id();
            let mut params = serde_json::Map::new();
            if let Some(c) = &cursor {
                params.insert("cursor".into(), json!(c));
            }
            if stateless {
                // A 2026-07-28 server needs the client's whole envelope (revision,
                // capabilities, identity) on every request.
                let meta = envelope.iter().map(|(k, v)| (k.clone(), v.to_serde())).collect();
                params.insert("_meta".into(), Json::Object(meta));
            }
            let line = json!({"jsonrpc": "2.0", "id": id.to_json_value(), "method": "tools/list", "params": params});
            let (tx, rx) = oneshot::channel();
            self.state().internal.insert(id.clone(), tx);
            self.forward(line.to_string().as_bytes()).await.map_err(|e| e.to_string())?;
            let answer = tokio::time::timeout(LIST_TIMEOUT, rx).await;
            self.state().internal.remove(&id);
            let bytes = answer.map_err(|_| "no answer in time".to_owned())?.map_err(|_| "server gone".to_owned())?;
            let result = match json::scan_envelope(&bytes) {
                Ok(json::Message::Single(Envelope { result: Some(result), .. })) => {
                    json::parse(result.as_bytes()).map_err(|e| e.to_string())?
                }
                _ => return Err("the server answered tools/list with an error".into()),
            };
            let (page, next) = read_page(&result);
            tools.extend(page);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(tools),
            }
        }
        Err(format!("more than {MAX_PAGES} pages"))
    }
}
