//! Messages from the client: validated, examined, then forwarded unchanged, gated, or
//! answered by countersign itself.

use std::sync::Arc;

use serde_json::json;

use super::state::{Batch, Pending, PendingKind, To};
use super::Relay;
use crate::core::audit::redact::redact;
use crate::core::audit::Event;
use crate::core::json::{self, Envelope, Message, Value};
use crate::core::policy::json_eq;
use crate::core::protocol::{code, error_response, kind_of, meta_revision, Kind, Revision, META_CLIENT_INFO};

impl Relay {
    /// Handles one line from the client.
    pub(super) async fn on_client_line(self: &Arc<Self>, bytes: Vec<u8>) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let message = match json::scan_envelope(&bytes) {
            Ok(m) => m,
            Err(e) => {
                let why = format!("parse error: {e}");
                self.reject("client", &why, &bytes).await;
                self.reply(To::Client, error_response(None, code::PARSE_ERROR, &why).into_bytes()).await;
                return;
            }
        };
        match message {
            Message::Single(env) => self.client_message(&bytes, env, To::Client).await,
            Message::Batch(items) => self.client_batch(&bytes, items).await,
            Message::Other => {
                let why = "a JSON-RPC message must be an object";
                self.reject("client", why, &bytes).await;
                self.reply(To::Client, error_response(None, code::INVALID_REQUEST, why).into_bytes()).await;
            }
        }
    }

    /// A JSON-RPC batch: only 2025-03-26 has them. Each element is examined and forwarded
    /// on its own; the answers go back as one array (JSON-RPC 2.0 section 6).
    async fn client_batch(self: &Arc<Self>, bytes: &[u8], items: Vec<&str>) {
        let revision = self.state().revision;
        if !revision.is_some_and(Revision::allows_batches) || items.is_empty() {
            let why = match revision {
                _ if items.is_empty() => "empty batch".to_owned(),
                Some(r) => format!("JSON-RPC batches are not part of MCP {r}"),
                None => "JSON-RPC batches are not accepted before the protocol revision is known".to_owned(),
            };
            self.reject("client", &why, bytes).await;
            self.reply(To::Client, error_response(None, code::INVALID_REQUEST, &why).into_bytes()).await;
            return;
        }
        let batch = {
            let mut s = self.state();
            s.next_batch += 1;
            let n = s.next_batch;
            s.batches.insert(n, Batch::default());
            n
        };
        for item in items {
            // Elements were validated as part of the array; scanning one again cannot fail.
            match json::scan_envelope(item.as_bytes()) {
                Ok(Message::Single(env)) => self.client_message(item.as_bytes(), env, To::Batch(batch)).await,
                _ => {
                    self.count_request(To::Batch(batch));
                    let why = "a batch element must be a JSON-RPC object";
                    self.reject("client", why, item.as_bytes()).await;
                    self.reply(To::Batch(batch), error_response(None, code::INVALID_REQUEST, why).into_bytes()).await;
                }
            }
        }
        let ready = {
            let mut s = self.state();
            if let Some(b) = s.batches.get_mut(&batch) {
                b.sealed = true;
            }
            s.batch_ready(batch)
        };
        if let Some(out) = ready {
            let _ = self.to_client.send(&out).await;
        }
    }

    /// One JSON-RPC object from the client.
    async fn client_message(self: &Arc<Self>, bytes: &[u8], env: Envelope<'_>, to: To) {
        let kind = match kind_of(&env) {
            Ok(kind) => kind,
            Err(invalid) => {
                self.reject("client", invalid.why, bytes).await;
                if env.id.is_some() || env.method.is_none() {
                    self.count_request(to);
                    let line = error_response(invalid.id.as_ref(), code::INVALID_REQUEST, invalid.why);
                    self.reply(to, line.into_bytes()).await;
                }
                return;
            }
        };
        match kind {
            Kind::Request { id, method } => {
                self.count_request(to);
                if self.state().id_in_use(&id) {
                    let why = "request id is already in use by a request in flight";
                    self.reject("client", why, bytes).await;
                    self.reply(to, error_response(Some(&id), code::INVALID_REQUEST, why).into_bytes()).await;
                    return;
                }
                if let Some(ambiguity) = &env.ambiguity {
                    self.refuse_ambiguous(bytes, id, &method, ambiguity.to_string(), to).await;
                    return;
                }
                let params = env.params.map(|p| json::parse(p.as_bytes()).expect("validated by the scan"));
                self.note_revision(params.as_ref()).await;
                if method.starts_with("tasks/") {
                    let owned = crate::core::task::owned_task_id(params.as_ref());
                    let answer =
                        owned.and_then(|t| self.state().denied_tasks.get(&t).map(|task| task.answer(&id, &method)));
                    if let Some(answer) = answer {
                        return self.reply(to, answer.into_bytes()).await;
                    }
                }
                let what = match method.as_str() {
                    "tools/call" => return self.gate_call(bytes, id, params.as_ref(), to).await,
                    "tools/list" => {
                        PendingKind::ListTools { first_page: params.as_ref().and_then(|p| p.get("cursor")).is_none() }
                    }
                    "initialize" => {
                        self.note_initialize(params.as_ref()).await;
                        PendingKind::Initialize
                    }
                    _ => PendingKind::Other,
                };
                self.state().inflight.insert(id.clone(), Pending { what, to });
                self.forward_or_fail(bytes, &id, to).await;
            }
            Kind::Notification { method } => {
                if let Some(ambiguity) = &env.ambiguity {
                    self.reject("client", &format!("ambiguous notification: {ambiguity}"), bytes).await;
                    return;
                }
                match method.as_str() {
                    // A held call's cancellation stops here: the server never saw the call.
                    "notifications/cancelled" if self.withdraw_held(env.params).await => return,
                    "notifications/initialized" => self.state().initialized = true,
                    _ => {}
                }
                if let Err(e) = self.forward(bytes).await {
                    tracing::debug!("server stdin closed: {e}");
                }
            }
            Kind::Response { .. } | Kind::Error { .. } => {
                // An answer to a server->client request (sampling, elicitation, roots).
                if let Some(ambiguity) = &env.ambiguity {
                    self.reject("client", &format!("ambiguous response: {ambiguity}"), bytes).await;
                    return;
                }
                if let Err(e) = self.forward(bytes).await {
                    tracing::debug!("server stdin closed: {e}");
                }
            }
        }
    }

    /// A request in a batch will be answered; count it so the batch waits for it.
    fn count_request(&self, to: To) {
        if let To::Batch(batch) = to {
            if let Some(b) = self.state().batches.get_mut(&batch) {
                b.waiting += 1;
            }
        }
    }

    /// Forwards a request; if the server is gone, answers it with an error instead.
    pub(super) async fn forward_or_fail(&self, bytes: &[u8], id: &crate::core::protocol::Id, to: To) {
        if let Err(e) = self.forward(bytes).await {
            tracing::debug!("server stdin closed: {e}");
            if self.state().inflight.remove(id).is_some() {
                let line = error_response(Some(id), code::INTERNAL_ERROR, "the MCP server is not running");
                self.reply(to, line.into_bytes()).await;
            }
        }
    }

    /// Remembers the revision a 2026-07-28 request names in `_meta`, and the envelope it
    /// came in (countersign's own `tools/list` must carry the same, and a new client
    /// identity is audited).
    async fn note_revision(&self, params: Option<&Value<'_>>) {
        let Some(Ok(revision)) = meta_revision(params) else {
            return;
        };
        let Some(Value::Object(meta)) = params.and_then(|p| p.get("_meta")) else {
            return;
        };
        let ours = || meta.iter().filter(|(k, _)| k.starts_with("io.modelcontextprotocol/"));
        let info = meta.iter().find(|(k, _)| k == META_CLIENT_INFO).map(|(_, v)| v);
        let new_client = {
            let mut s = self.state();
            s.revision = Some(revision);
            // Every request carries the envelope; it is rebuilt only when it changed.
            let unchanged = ours().count() == s.envelope.len()
                && ours().zip(&s.envelope).all(|((k, v), (k2, v2))| k == k2 && json_eq(v, v2));
            if unchanged {
                return;
            }
            let known = s.envelope.iter().find(|(k, _)| k == META_CLIENT_INFO).map(|(_, v)| v);
            let new_client = info.is_some_and(|i| !known.is_some_and(|k| json_eq(i, k)));
            if new_client {
                s.client_name = info.and_then(|i| i.get("name")).and_then(Value::as_str).map(str::to_owned);
            }
            s.envelope = ours().map(|(k, v)| (k.to_string(), v.clone().into_owned())).collect();
            new_client
        };
        if new_client {
            let shown = info.map(redact);
            self.audit.record(Event::new("client", json!({"client": shown, "protocol": revision.as_str()}))).await;
        }
    }

    /// `initialize`: the client's self-reported identity and the revision it asks for
    /// (the server's answer may pick another; see `on_server_line`).
    async fn note_initialize(&self, params: Option<&Value<'_>>) {
        let asked = params.and_then(|p| p.get("protocolVersion")).and_then(Value::as_str);
        let info = params.and_then(|p| p.get("clientInfo"));
        let name = info.and_then(|i| i.get("name")).and_then(Value::as_str).map(str::to_owned);
        {
            let mut s = self.state();
            if let Some(r) = asked.and_then(Revision::parse) {
                s.revision = Some(r);
            }
            s.client_name = name;
        }
        let info = info.map_or(serde_json::Value::Null, redact);
        self.audit.record(Event::new("client", json!({"client": info, "protocol": asked}))).await;
    }
}
