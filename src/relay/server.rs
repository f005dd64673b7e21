//! Messages from the server: passed to the client unchanged and in order, after the relay
//! learns what it needs (tools, negotiated revision, call outcomes).

use serde_json::json;

use super::state::{PendingKind, To};
use super::Relay;
use crate::core::audit::Event;
use crate::core::classify::read_page;
use crate::core::json::{self, Envelope, Message, Value};
use crate::core::protocol::{kind_of, Kind, Revision};

impl Relay {
    /// Handles one line from the server.
    pub(super) async fn on_server_line(&self, bytes: Vec<u8>) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let route = match json::scan_envelope(&bytes) {
            Ok(Message::Single(env)) => self.server_message(&bytes, env).await,
            Ok(Message::Batch(items)) => {
                // Only 2025-03-26 servers may batch; each element is examined and passed on
                // singly, which every client of that revision accepts.
                for item in items {
                    if let Ok(Message::Single(env)) = json::scan_envelope(item.as_bytes()) {
                        if let Some(to) = self.server_message(item.as_bytes(), env).await {
                            self.reply(to, item.as_bytes().to_vec()).await;
                        }
                    }
                }
                None
            }
            Ok(Message::Other) => self.drop_server_line(&bytes, "not a JSON-RPC object").await,
            Err(e) => self.drop_server_line(&bytes, &format!("not JSON ({e})")).await,
        };
        // The line itself moves on: no copy, however large.
        if let Some(to) = route {
            self.reply(to, bytes).await;
        }
    }

    async fn drop_server_line(&self, bytes: &[u8], why: &str) -> Option<To> {
        let shown = crate::core::audit::redact::cut(&String::from_utf8_lossy(&bytes[..bytes.len().min(300)]));
        tracing::warn!("dropped a line from the server, {why}: {}", shown.escape_debug());
        self.reject("server", why, bytes).await;
        None
    }

    /// Learns what the relay needs from one message and says where it goes (`None`: it
    /// was countersign's own, or it is dropped).
    async fn server_message(&self, bytes: &[u8], env: Envelope<'_>) -> Option<To> {
        let kind = match kind_of(&env) {
            Ok(kind) => kind,
            Err(invalid) => return self.drop_server_line(bytes, invalid.why).await,
        };
        match kind {
            Kind::Response { id } | Kind::Error { id: Some(id) } => {
                let internal = self.state().internal.remove(&id);
                if let Some(waiter) = internal {
                    let _ = waiter.send(bytes.to_vec());
                    return None;
                }
                let pending = self.state().inflight.remove(&id);
                let Some(pending) = pending else {
                    // Not a request we know of: the client may still (JSON-RPC says so).
                    tracing::debug!("answer for unknown id {id}");
                    return Some(To::Client);
                };
                match pending.what {
                    PendingKind::ListTools { first_page } => self.learn_listing(&env, first_page).await,
                    PendingKind::Initialize => self.learn_initialize(&env),
                    PendingKind::Call { tool, digest, class, started } => {
                        let is_error = env.result.is_none() || env.result_is_error == Some("true");
                        let event = Event::build("result")
                            .num("bytes", bytes.len() as u64)
                            .str("class", class.as_str())
                            .str("digest", &digest)
                            .num("duration_ms", started.elapsed().as_millis() as u64)
                            .bool("is_error", is_error)
                            .bool("jsonrpc_error", env.error.is_some())
                            .display("request_id", &id)
                            .str("tool", &tool)
                            .done();
                        self.audit.record(event).await;
                    }
                    PendingKind::Other => {}
                }
                Some(pending.to)
            }
            Kind::Notification { method } => {
                if method == "notifications/tools/list_changed" {
                    tracing::debug!("server tools changed: annotations must be learned again");
                    self.state().registry.invalidate();
                }
                Some(To::Client)
            }
            Kind::Request { .. } | Kind::Error { id: None } => Some(To::Client),
        }
    }

    /// Learns classes from a `tools/list` answer the client asked for.
    async fn learn_listing(&self, env: &Envelope<'_>, first_page: bool) {
        let Some(Ok(result)) = env.result.map(|r| json::parse(r.as_bytes())) else {
            return;
        };
        let (tools, cursor) = read_page(&result);
        let changed = self.state().registry.learn(tools, first_page, cursor.is_none());
        self.audit_tools(changed).await;
    }

    /// The server's `initialize` answer names the revision actually used.
    fn learn_initialize(&self, env: &Envelope<'_>) {
        let Some(Ok(result)) = env.result.map(|r| json::parse(r.as_bytes())) else {
            return;
        };
        let chosen = result.get("protocolVersion").and_then(Value::as_str).and_then(Revision::parse);
        if let Some(revision) = chosen {
            tracing::debug!("server chose MCP {revision}");
            self.state().revision = Some(revision);
        }
    }

    pub(super) async fn audit_tools(&self, changed: Vec<crate::core::classify::Tool>) {
        if changed.is_empty() {
            return;
        }
        let tools: Vec<_> = changed
            .iter()
            .map(|t| json!({"name": t.name, "title": t.title, "class": t.class.as_str(), "digest": t.digest}))
            .collect();
        self.audit.record(Event::new("tools", json!({ "tools": tools }))).await;
    }
}
