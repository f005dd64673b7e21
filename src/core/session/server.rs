//! Messages from the server: passed to the client unchanged and in order, after the
//! session learns what it needs (tools, the negotiated revision, call outcomes); and
//! countersign's own listing.

use bytes::Bytes;
use serde_json::{json, Value as Json};

use super::outbound::{Answer, AnswerKind, ServerLine};
use super::records;
use super::requests::{Answered, InFlight, Stage};
use super::{Action, Now, Session};
use crate::core::classify::read_page;
use crate::core::json::{self, Value};
use crate::core::protocol::{code, error_response, Id, Revision};

impl Session {
    /// One line from the server.
    pub fn server(&mut self, line: ServerLine, now: Now, out: &mut Vec<Action>) {
        match line {
            ServerLine::Blank => {}
            ServerLine::TooLong { len, id } => {
                let why = format!("dropped a server message of {len} bytes: larger than the limit");
                self.drop_server(&why, id, b"", out);
            }
            ServerLine::Dropped { why, id, bytes } => self.drop_server(&why, id, &bytes, out),
            ServerLine::Single(answer) => self.server_answer(answer, now, out),
            // Only 2025-03-26 servers may batch; each element is passed on singly, which
            // every client of that revision accepts.
            ServerLine::Batch(answers) => {
                for answer in answers {
                    self.server_answer(answer, now, out);
                }
            }
        }
    }

    /// A message the session will not pass on. When it answers a request in flight, that
    /// request gets an error now rather than never.
    fn drop_server(&mut self, why: &str, id: Option<Id>, bytes: &[u8], out: &mut Vec<Action>) {
        self.reject("server", why, bytes, out);
        let Some(id) = id else {
            return;
        };
        if self.listing.is_page(&id) {
            return;
        }
        if let Answered::InFlight(to, _) = self.requests.answered(&id) {
            let line = error_response(
                Some(&id),
                code::INTERNAL_ERROR,
                &format!("countersign dropped the server's answer: {why}"),
            );
            self.reply(to, line.into(), out);
        }
    }

    fn server_answer(&mut self, answer: Answer, now: Now, out: &mut Vec<Action>) {
        let Answer { bytes, kind } = answer;
        match kind {
            AnswerKind::Invalid { why, id } => self.drop_server(why, id, &bytes, out),
            AnswerKind::ListChanged => {
                // Annotations must be learned again (PRODUCT.md section 3).
                self.registry.invalidate();
                out.push(Action::ToClient(bytes));
            }
            AnswerKind::Other => out.push(Action::ToClient(bytes)),
            AnswerKind::Reply { id, error, is_error, result } => {
                let result = result.map(|r| bytes.slice(r));
                if self.listing.is_page(&id) {
                    return self.listing_page(result.as_deref(), now, out);
                }
                if self.is_internal(&id) {
                    // A page that came too late: countersign's own, never the client's.
                    return;
                }
                let (to, what) = match self.requests.answered(&id) {
                    Answered::InFlight(to, what) => (to, what),
                    // The server never saw a held call: it cannot answer it.
                    Answered::Held => {
                        return self.reject("server", "an answer to a call that was never forwarded", &bytes, out)
                    }
                    // Not a request we know of: the client may still (JSON-RPC says so).
                    Answered::Unknown => return out.push(Action::ToClient(bytes)),
                };
                let mut bytes = bytes;
                match what {
                    InFlight::ListTools { first_page } => {
                        self.learn_listing(result.as_deref(), first_page, out);
                        if let Some(line) = self.hide_changed(&bytes) {
                            bytes = Bytes::from(line);
                        }
                    }
                    InFlight::Initialize => self.learn_initialize(result.as_deref()),
                    InFlight::Call { tool, digest, class, since, approval } => {
                        let ms = now.mono.saturating_sub(since).as_millis() as u64;
                        let outcome = records::Outcome { is_error, error, ms, bytes: bytes.len() };
                        let record = match approval {
                            Some(approval) => {
                                let record = records::result(&id, tool.clone(), digest.clone(), class, outcome);
                                self.carry(&id, tool, digest, *approval, result.as_deref(), now);
                                record
                            }
                            None => records::result(&id, tool, digest, class, outcome),
                        };
                        out.push(Action::Record(record));
                    }
                    InFlight::Other => {}
                }
                self.reply(to, bytes, out);
            }
        }
    }

    /// Learns classes from a `tools/list` answer the client asked for.
    fn learn_listing(&mut self, result: Option<&[u8]>, first_page: bool, out: &mut Vec<Action>) {
        let Some(Ok(result)) = result.map(json::parse) else {
            return;
        };
        let (tools, cursor) = read_page(&result);
        let changed = self.registry.learn(tools, first_page, cursor.is_none());
        if !changed.is_empty() {
            let notes = self.check_pins(&changed, out);
            out.push(Action::Record(records::tools(&changed, &notes)));
        }
    }

    /// The server's `initialize` answer names the revision actually used.
    fn learn_initialize(&mut self, result: Option<&[u8]>) {
        let Some(Ok(result)) = result.map(json::parse) else {
            return;
        };
        if let Some(r) = result.get("protocolVersion").and_then(Value::as_str).and_then(Revision::parse) {
            self.revision = Some(r);
        }
    }

    /// countersign may list tools itself: on 2026-07-28 at once, on older revisions only
    /// after the client's handshake. Never sends `initialize` or `server/discover`.
    pub(super) fn can_list(&self) -> bool {
        !self.server_gone && (self.initialized || self.revision.is_some_and(|r| r.is_stateless()))
    }

    /// Asks the server for a page of its tools.
    pub(super) fn list_tools(&mut self, cursor: Option<&str>, now: Now, out: &mut Vec<Action>) {
        let id = self.internal_id();
        let mut params = serde_json::Map::new();
        if let Some(c) = cursor {
            params.insert("cursor".into(), json!(c));
        }
        if self.revision.is_some_and(|r| r.is_stateless()) {
            // A 2026-07-28 server needs the client's whole envelope (revision,
            // capabilities, identity) on every request.
            let meta = self.envelope.iter().map(|(k, v)| (k.clone(), v.to_serde())).collect();
            params.insert("_meta".into(), Json::Object(meta));
        }
        let line = json!({"jsonrpc": "2.0", "id": id.to_json_value(), "method": "tools/list", "params": params});
        self.listing.ask(id, cursor, now.mono);
        out.push(Action::ToServer(Bytes::from(line.to_string())));
    }

    fn listing_page(&mut self, result: Option<&[u8]>, now: Now, out: &mut Vec<Action>) {
        let Some(Ok(result)) = result.map(json::parse) else {
            return self.listing_failed("the server answered tools/list with an error", now, out);
        };
        let (tools, next) = read_page(&result);
        if next.is_some() && self.listing.too_long() {
            return self.listing_failed("too many pages", now, out);
        }
        match self.listing.page(tools, next.is_some()) {
            None => self.list_tools(next.as_deref(), now, out),
            Some(tools) => {
                let changed = self.registry.replace(tools);
                if !changed.is_empty() {
                    let notes = self.check_pins(&changed, out);
                    out.push(Action::Record(records::tools(&changed, &notes)));
                }
                self.resume_listed(now, out);
            }
        }
    }

    pub(super) fn listing_failed(&mut self, why: &str, now: Now, out: &mut Vec<Action>) {
        let _ = why;
        self.listing.fail(now.mono);
        self.resume_listed(now, out);
    }

    /// Calls that waited for the listing go on, oldest first (a tool still not listed is
    /// `unknown`: after a failed listing it is remembered for a while).
    fn resume_listed(&mut self, now: Now, out: &mut Vec<Action>) {
        let waiting: Vec<_> = self
            .requests
            .held_tickets()
            .into_iter()
            .filter(|t| self.requests.held(*t).is_some_and(|h| h.stage == Stage::Listing))
            .collect();
        for ticket in waiting {
            let name = match self.requests.held(ticket) {
                Some(h) => h.call.name.clone(),
                None => continue,
            };
            let class = self.registry.class(&name).unwrap_or(crate::core::classify::Class::Unknown);
            if let Some(held) = self.requests.held_mut(ticket) {
                held.class = class;
            }
            self.decide(ticket, now, out);
        }
    }
}
