//! Messages from the client: validated (by [`super::inbound`]), then forwarded
//! unchanged, gated, or answered by the session itself.

use bytes::Bytes;

use super::inbound::{ClientLine, Facts, Item, ItemKind};
use super::limits::MAX_IN_FLIGHT;
use super::records;
use super::requests::InFlight;
use super::{Action, Now, Session, To};
use crate::core::json::Value;
use crate::core::policy::json_eq;
use crate::core::protocol::{code, error_response, Id, Revision, META_CLIENT_INFO};

impl Session {
    /// One line from the client.
    pub fn client(&mut self, line: ClientLine, now: Now, out: &mut Vec<Action>) {
        match line {
            ClientLine::Blank => {}
            ClientLine::TooLong(n) => {
                let why = format!("message of {n} bytes is larger than the limit");
                self.reject("client", &why, b"", out);
                out.push(Action::ToClient(error_response(None, code::INVALID_REQUEST, &why).into()));
            }
            ClientLine::Unparsable { why, bytes } => {
                self.reject("client", &why, &bytes, out);
                out.push(Action::ToClient(error_response(None, code::PARSE_ERROR, &why).into()));
            }
            ClientLine::NotObject(bytes) => {
                let why = "a JSON-RPC message must be an object";
                self.reject("client", why, &bytes, out);
                out.push(Action::ToClient(error_response(None, code::INVALID_REQUEST, why).into()));
            }
            ClientLine::Single(item) => self.client_item(item, To::Client, now, out),
            ClientLine::Batch { bytes, items } => self.client_batch(bytes, items, now, out),
        }
    }

    /// A JSON-RPC batch: only 2025-03-26 has them. Each element is examined on its own.
    fn client_batch(&mut self, bytes: Bytes, items: Vec<Item>, now: Now, out: &mut Vec<Action>) {
        let refused = match self.revision {
            _ if items.is_empty() => Some("empty batch".to_owned()),
            Some(r) if r.allows_batches() => None,
            Some(r) => Some(format!("JSON-RPC batches are not part of MCP {r}")),
            None => Some("JSON-RPC batches are not accepted before the protocol revision is known".to_owned()),
        };
        let batch = match refused {
            None => self.batches.open().ok_or_else(|| "too many batches waiting for answers".to_owned()),
            Some(why) => Err(why),
        };
        let batch = match batch {
            Ok(batch) => batch,
            Err(why) => {
                self.reject("client", &why, &bytes, out);
                out.push(Action::ToClient(error_response(None, code::INVALID_REQUEST, &why).into()));
                return;
            }
        };
        for item in items {
            self.client_item(item, To::Batch(batch), now, out);
        }
        if let Some(array) = self.batches.seal(batch) {
            out.push(Action::ToClient(array));
        }
    }

    fn client_item(&mut self, item: Item, to: To, now: Now, out: &mut Vec<Action>) {
        let Item { bytes, kind } = item;
        match kind {
            ItemKind::Invalid { why, id, answer } => {
                self.reject("client", why, &bytes, out);
                if answer {
                    self.batches.expect(to);
                    self.reply(to, error_response(id.as_ref(), code::INVALID_REQUEST, why).into(), out);
                }
            }
            ItemKind::Ambiguous { why, id, method } => {
                let Some(id) = id else {
                    self.reject("client", &format!("ambiguous message: {why}"), &bytes, out);
                    return;
                };
                self.batches.expect(to);
                if self.refuse_id(&id, &bytes, to, out) {
                    return;
                }
                self.refuse_ambiguous(&bytes, id, method.as_deref(), why, to, out);
            }
            ItemKind::CallNotification => {
                // A call without an id cannot be answered, so it could not be denied
                // either: it never reaches the server (PRODUCT.md section 8).
                self.counts.denied += 1;
                self.reject("client", "a tools/call without an id (a notification) is never forwarded", &bytes, out);
            }
            ItemKind::Notification { method, cancels } => {
                if let Some(id) = &cancels {
                    if self.withdraw(id, now, out) {
                        // The server never saw the call: the cancellation stops here.
                        return;
                    }
                }
                if method == "notifications/initialized" {
                    self.initialized = true;
                }
                out.push(Action::ToServer(bytes));
            }
            ItemKind::Response { id } => {
                // The answer to a dialog of countersign's own stops here.
                if self.settings.dialog.is_none() || !self.dialog_response(id.as_ref(), &bytes, now, out) {
                    out.push(Action::ToServer(bytes));
                }
            }
            ItemKind::Request { id, method, facts } => {
                self.batches.expect(to);
                if self.refuse_id(&id, &bytes, to, out) {
                    return;
                }
                self.request(bytes, id, method, *facts, to, now, out);
            }
        }
    }

    /// Refuses a request whose id is taken (in flight, held) or spelled like
    /// countersign's own, or when too many are in flight. True when refused.
    fn refuse_id(&mut self, id: &Id, bytes: &[u8], to: To, out: &mut Vec<Action>) -> bool {
        let why = if self.requests.contains(id) {
            "request id is already in use by a request in flight"
        } else if self.is_internal(id) {
            "request id is reserved by countersign"
        } else if self.requests.len() >= MAX_IN_FLIGHT {
            "too many requests in flight"
        } else {
            return false;
        };
        self.reject("client", why, bytes, out);
        self.reply(to, error_response(Some(id), code::INVALID_REQUEST, why).into(), out);
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn request(&mut self, bytes: Bytes, id: Id, method: String, facts: Facts, to: To, now: Now, out: &mut Vec<Action>) {
        self.note_meta(&facts, out);
        if self.server_gone {
            let line = error_response(Some(&id), code::INTERNAL_ERROR, "the MCP server is not running");
            return self.reply(to, line.into(), out);
        }
        if let Some(task) = &facts.owned_task {
            let answer = self.denied_tasks.iter().find(|(t, _, _)| t == task).map(|(_, d, _)| d.answer(&id, &method));
            if let Some(answer) = answer {
                return self.reply(to, answer.into(), out);
            }
        }
        let what = match method.as_str() {
            "tools/call" => return self.gate(bytes, id, facts.call, to, now, out),
            "tools/list" => InFlight::ListTools { first_page: facts.first_page },
            "initialize" => {
                if let Some(init) = facts.initialize {
                    if let Some(r) = init.asked.as_deref().and_then(Revision::parse) {
                        self.revision = Some(r);
                    }
                    self.client_name = init.client_name;
                    self.client_elicits = init.elicits_form;
                    out.push(Action::Record(records::client(init.client, init.asked.as_deref())));
                }
                InFlight::Initialize
            }
            _ => InFlight::Other,
        };
        self.requests.in_flight(id, to, what);
        out.push(Action::ToServer(bytes));
    }

    /// Remembers the revision a 2026-07-28 request names in `_meta`, and the envelope it
    /// came in (countersign's own `tools/list` must carry the same); a new client identity
    /// is audited.
    fn note_meta(&mut self, facts: &Facts, out: &mut Vec<Action>) {
        let Some(meta) = &facts.meta else {
            return;
        };
        self.revision = Some(meta.revision);
        let unchanged = meta.envelope.len() == self.envelope.len()
            && meta.envelope.iter().zip(&self.envelope).all(|((k, v), (k2, v2))| k == k2 && json_eq(v, v2));
        if unchanged {
            return;
        }
        let info =
            |env: &[(String, Value<'static>)]| env.iter().find(|(k, _)| k == META_CLIENT_INFO).map(|(_, v)| v.clone());
        let (known, new) = (info(&self.envelope), info(&meta.envelope));
        let new_client = new.as_ref().is_some_and(|n| !known.as_ref().is_some_and(|k| json_eq(n, k)));
        self.envelope = meta.envelope.clone();
        if new_client {
            self.client_name = meta.client_name.clone();
            let shown = meta.client.clone().unwrap_or(serde_json::Value::Null);
            out.push(Action::Record(records::client(shown, Some(meta.revision.as_str()))));
        }
    }

    /// `notifications/cancelled` for a held call withdraws it: never forwarded, no answer
    /// (the spec says a cancelled request gets none). True when it was held.
    fn withdraw(&mut self, id: &Id, now: Now, out: &mut Vec<Action>) -> bool {
        let Some(ticket) = self.requests.held_ticket(id) else {
            return false;
        };
        if let Some(held) = self.take_held(ticket, out) {
            let detail = matches!(held.stage, super::requests::Stage::Recording(_))
                .then_some("cancelled by the client after it was approved, before it was forwarded");
            self.record_cancelled(&held, detail, now, out);
            self.no_reply(held.to, out);
            self.pump(now, out);
        }
        true
    }

    pub(super) fn reject(&mut self, from: &str, why: &str, bytes: &[u8], out: &mut Vec<Action>) {
        self.counts.rejected += 1;
        out.push(Action::Record(records::rejected(from, why, bytes)));
    }
}
