//! The gate: every `tools/call` is classified, decided, recorded and only then forwarded
//! or answered with a denial. A call that cannot be decided at once is held: it waits for
//! countersign's own listing, for the operator, or for its decision to be on disk.
//!
//! One call, in one place, from its event to its actions, in the order of this file:
//! [`Session::gate`] -> [`Session::classify`] -> [`Session::decide`] -> (`Action::Consult`
//! -> [`Session::consulted`]) -> [`Session::pump`] (`Action::Ask` -> [`Session::asked`])
//! -> [`Session::approve`] -> (`Action::RecordDurable` -> [`Session::recorded`]) ->
//! [`Session::forward`] -> `Action::ToServer`; when nobody answered,
//! [`Session::timed_out`] or [`Session::file`] (`Action::File` -> [`Session::filed`]);
//! or [`Session::deny`] at any step. docs/design.md follows the whole way, from the
//! client's line to the server's and back.

use bytes::Bytes;

use super::carried::Carried;
use super::dialog::{on_to_the_page, Said};
use super::limits::{CARRY, DENIED_TASK_TTL, MAX_CARRIED, MAX_DENIED_TASKS, MAX_HELD, MAX_HELD_BYTES};
use super::records;
use super::requests::{HeldCall, InFlight, Stage};
use super::{Action, Ask, Asked, Consult, File, Grant, Lease, Now, Session, Ticket, To};
use crate::core::audit::{Args, Event};
use crate::core::classify::Class;
use crate::core::gate::{denial_response, denial_text, By, Call, CallError, Decision, Reason};
use crate::core::json::{self, Value};
use crate::core::policy::Action as Rule;
use crate::core::prompt::Held;
use crate::core::protocol::{code, error_response, Id};
use crate::core::sanitize::{inert, inert_cut};
use crate::core::task::{DeniedTask, PREFIX};

impl Session {
    /// A `tools/call` request: decided now when the class and policy say so, else held.
    pub(super) fn gate(
        &mut self,
        bytes: Bytes,
        id: Id,
        call: Option<Result<Call, CallError>>,
        to: To,
        now: Now,
        out: &mut Vec<Action>,
    ) {
        let call = match call.unwrap_or(Err(CallError::NoName)) {
            Ok(call) => call,
            Err(e) => {
                self.reject("client", &e.to_string(), &bytes, out);
                return self.reply(to, error_response(Some(&id), code::INVALID_PARAMS, &e.to_string()).into(), out);
            }
        };
        if self.requests.held_count() >= MAX_HELD || self.requests.held_bytes() + bytes.len() > MAX_HELD_BYTES {
            let class = self.registry.class(&call.name).unwrap_or(Class::Unknown);
            let detail = format!("at most {MAX_HELD} calls wait at once; let some finish first");
            let d = Decision::new(Reason::TooManyHeld, class, None, By::Policy, 0, Some(detail));
            return self.deny(&call, to, d, now, out);
        }
        let ticket = self.ticket();
        let held = HeldCall::new(ticket, id, to, bytes, call, now.mono, self.settings.approval_timeout);
        self.requests.hold(held);
        self.classify(ticket, now, out);
    }

    /// Learns the held call's class: from what the server listed, from countersign's own
    /// listing (started here when needed), or `unknown`.
    fn classify(&mut self, ticket: Ticket, now: Now, out: &mut Vec<Action>) {
        let Some(listed) = self.requests.held(ticket).map(|h| self.registry.class(&h.call.name)) else {
            return;
        };
        let class = match listed {
            Some(class) => class,
            None if self.listing.running() => return,
            None if self.listing.failed_recently(now.mono) => Class::Unknown,
            None if !self.can_list() => Class::Unknown,
            None => {
                self.list_tools(None, now, out);
                return;
            }
        };
        if let Some(held) = self.requests.held_mut(ticket) {
            held.class = class;
        }
        self.decide(ticket, now, out);
    }

    /// Policy, then what the approval book holds, then the operator.
    pub(super) fn decide(&mut self, ticket: Ticket, now: Now, out: &mut Vec<Action>) {
        let Some(held) = self.requests.held(ticket) else {
            return;
        };
        let class = held.class;
        let verdict =
            self.settings.policy.evaluate(&self.settings.label, &held.call.name, class, held.call.raw_arguments());
        let waited = held.waited_ms(now.mono);
        // A tool changed since it was pinned is asked about whatever its class and the
        // rules say; only a rule's deny stands (PRODUCT.md section 7a).
        let changed = match self.pin_changed(&held.call.name) {
            Some((old, new)) if verdict.action != Rule::Deny => {
                Some(format!("pinned {}, listed now {}", old.digest, new.digest))
            }
            _ => None,
        };
        let rule = Some(verdict.rule).filter(|_| changed.is_none());
        let decision = |reason, by, detail| Decision::new(reason, class, rule.clone(), by, waited, detail);
        match verdict.action {
            Rule::Allow if changed.is_none() => {
                return self.approve(ticket, decision(Reason::AllowedByPolicy, By::Policy, None), now, out)
            }
            Rule::Deny => return self.deny_held(ticket, decision(Reason::DeniedByRule, By::Policy, None), now, out),
            _ if self.settings.headless => {
                let reason = if changed.is_some() { Reason::ToolChanged } else { Reason::DeniedHeadless };
                return self.deny_held(ticket, decision(reason, By::Headless, changed), now, out);
            }
            _ if self.audit_down.is_some() => {
                let why = self.audit_down.clone();
                return self.deny_held(ticket, decision(Reason::AuditUnavailable, By::Policy, why), now, out);
            }
            _ => {}
        }
        if let Some(said) = self.retried(ticket, now) {
            let by = self.in_client();
            match said {
                Said::Approve => return self.approve(ticket, decision(Reason::ApprovedByOperator, by, None), now, out),
                Said::Deny(reason) => {
                    let detail = reason.map(|r| format!("the operator said: \"{}\"", inert(&r)));
                    return self.deny_held(ticket, decision(Reason::DeniedByOperator, by, detail), now, out);
                }
                Said::Nothing(why) => out.push(on_to_the_page(&why)),
            }
        }
        if let Some(held) = self.requests.held_mut(ticket).filter(|h| Self::carries_our_state(h)) {
            // Asked in the client's dialog once already (or its state is spent): on to
            // the page.
            held.dialog_tried = true;
        }
        if let Some(approval) = self.carried_for(ticket, now) {
            return self.approve(ticket, approval, now, out);
        }
        let Some(held) = self.requests.held_mut(ticket) else {
            return;
        };
        held.rule = rule;
        if changed.is_none() {
            held.confirm = verdict.confirm;
        }
        held.stage = Stage::Consulting;
        // What the book's entries for this call are bound to (PRODUCT.md section 6a).
        held.definition = self.registry.lookup(&held.call.name).map(|tool| tool.pin.digest.clone());
        let consult = Consult {
            tool: held.call.name.clone(),
            digest: held.call.digest.clone(),
            definition: held.definition.clone(),
            leases: changed.is_none(),
        };
        out.push(Action::Consult(ticket, consult));
    }

    /// The approval book answered for `ticket`: a receipt or a lease allows the call, or
    /// the operator is asked. `elsewhere` names a receipt for this very call that was
    /// approved under another definition of the tool: not used, and the decision says so.
    /// An answer for a call withdrawn meanwhile changes nothing.
    pub fn consulted(
        &mut self,
        ticket: Ticket,
        grant: Option<Grant>,
        elsewhere: Option<String>,
        now: Now,
        out: &mut Vec<Action>,
    ) {
        let Some(held) = self.requests.held_mut(ticket) else {
            return;
        };
        if held.stage != Stage::Consulting {
            return;
        }
        if let Some(id) = elsewhere {
            let tool = inert(&held.call.name);
            held.note = Some(format!(
                "receipt {id} was approved under another definition of {tool}, so it does not run this call"
            ));
        }
        let d = |reason, by| Decision::new(reason, held.class, held.rule.clone(), by, held.waited_ms(now.mono), None);
        match grant {
            Some(Grant::Receipt { id, by }) => {
                let decision = Decision { receipt: Some(id), ..d(Reason::ApprovedByReceipt, By::Receipt(by)) };
                self.approve(ticket, decision, now, out);
            }
            Some(Grant::Lease { id }) => {
                let decision = d(Reason::ApprovedByLease, By::Lease(id));
                self.approve(ticket, decision, now, out);
            }
            None => {
                held.stage = Stage::Queued;
                self.queue.push_back(ticket);
                self.pump(now, out);
            }
        }
    }

    /// Asks about the oldest queued call when nobody is being asked: one prompt at a time
    /// per process.
    pub(super) fn pump(&mut self, now: Now, out: &mut Vec<Action>) {
        if self.asking.is_some() {
            return;
        }
        while let Some(ticket) = self.queue.pop_front() {
            let Some(held) = self.requests.held(ticket) else {
                continue;
            };
            if held.timed_out(now.mono, false) {
                let secs = self.settings.approval_timeout.as_secs();
                self.timed_out(ticket, format!("no answer within {secs} s"), now, out);
                continue;
            }
            let page = !self.dialog_possible() || held.dialog_tried;
            let ask = Ask { held: self.shown(held), deadline: held.deadline, page };
            self.asking = Some(ticket);
            out.push(Action::Ask(ticket, Box::new(ask)));
            return;
        }
    }

    /// What the operator sees.
    pub(super) fn shown(&self, held: &HeldCall) -> Held {
        let tool = self.registry.lookup(&held.call.name);
        let title = tool.and_then(|t| t.title.clone());
        let rule = held.rule.as_deref().unwrap_or("");
        let shown = Held::new(
            &self.settings.label,
            self.client_name.as_deref(),
            &held.call.name,
            title.as_deref(),
            held.class,
            rule,
        );
        let mut shown = match tool {
            // A class a listing gave the tool earlier in this session: no listing lowers it.
            Some(tool) if tool.class != held.class && rule.starts_with("defaults.") => Held {
                why: format!(
                    "listed as {} earlier in this session; a later listing does not lower it ({rule})",
                    held.class
                ),
                ..shown
            },
            Some(tool) => shown.declared(held.class, rule, tool.destructive_hint),
            None => shown,
        };
        shown.confirm = held.confirm;
        shown.arguments = held.call.arguments_json().to_owned();
        shown.digest = held.call.digest.clone();
        if let Some(changed) = self.change_shown(&held.call.name) {
            shown.why = "the server changed this tool since it was pinned: check what changed".to_owned();
            shown.changed = Some(changed);
        }
        shown
    }

    /// The operator's edge answered for `ticket`. An answer for a call that is no longer
    /// being asked (withdrawn, timed out, the session over) changes nothing.
    pub fn asked(&mut self, ticket: Ticket, asked: Asked, now: Now, out: &mut Vec<Action>) {
        let Some(held) = self.requests.held(ticket) else {
            return;
        };
        if held.stage != Stage::Queued {
            return;
        }
        // Nobody nearer could be asked: the client's dialog comes before the page.
        let dialog_next = self.dialog_possible() && !held.dialog_tried;
        if self.asking == Some(ticket)
            && matches!(asked, Asked::Nobody { .. })
            && dialog_next
            && self.open_dialog(ticket, now, out)
        {
            return;
        }
        let Some(held) = self.requests.held(ticket) else {
            return;
        };
        match (self.asking == Some(ticket), &asked) {
            (true, _) => self.asking = None,
            // A queued call can only time out; only the call being asked can be answered.
            (false, Asked::TimedOut { .. }) => self.queue.retain(|t| *t != ticket),
            (false, _) => return,
        }
        let (class, rule, waited) = (held.class, held.rule.clone(), held.waited_ms(now.mono));
        let (tool, definition) = (held.call.name.clone(), held.definition.clone());
        // Whatever an operator's edge sends (an older console may offer `a` anyway).
        let lease_allowed = crate::core::prompt::lease_allowed(held.confirm, self.pin_changed(&tool).is_some());
        let d = |reason, by, detail| Decision::new(reason, class, rule.clone(), by, waited, held.with_note(detail));
        match asked {
            Asked::Approved { by, lease } if !(lease && lease_allowed) => {
                self.approve(ticket, d(Reason::ApprovedByOperator, by, None), now, out)
            }
            Asked::Approved { by, .. } => {
                let id = crate::core::approvals::lease_id(&self.settings.session, ticket);
                out.push(Action::GrantLease(Lease { id: id.clone(), tool, definition, by: by.to_string() }));
                let detail = Some(format!("lease {id} granted for 15 minutes"));
                self.approve(ticket, d(Reason::ApprovedByOperator, by, detail), now, out)
            }
            Asked::Denied { by, reason } => {
                let detail =
                    reason.filter(|r| !r.trim().is_empty()).map(|r| format!("the operator said: \"{}\"", inert(&r)));
                self.deny_held(ticket, d(Reason::DeniedByOperator, by, detail), now, out)
            }
            Asked::TimedOut { detail } => self.timed_out(ticket, detail, now, out),
            // `headless` is only ever `--headless` (docs/audit.md).
            Asked::Nobody { why } => self.file(ticket, d(Reason::ApprovalPending, By::Policy, Some(why)), out),
            Asked::AcceptedPin { by } => {
                self.accept_pin(&tool, &by, out);
                if let Some(held) = self.requests.held_mut(ticket) {
                    held.stage = Stage::Listing;
                }
                self.decide(ticket, now, out);
            }
        }
        self.pump(now, out);
    }

    /// The call will run: read-only calls are forwarded at once (recorded lazily); any
    /// other is recorded on disk first (write-ahead) and forwarded by [`Session::recorded`].
    fn approve(&mut self, ticket: Ticket, decision: Decision, now: Now, out: &mut Vec<Action>) {
        let Some(held) = self.requests.held_mut(ticket) else {
            return;
        };
        let event = records::call_decision(&held.call, &decision);
        if decision.class == Class::ReadOnly {
            out.push(Action::Record(event));
            return self.forward(ticket, decision, now, out);
        }
        held.stage = Stage::Recording(decision);
        out.push(Action::RecordDurable(ticket, event));
    }

    /// The write-ahead record of `ticket` is on disk (or could not be written). A call
    /// withdrawn meanwhile is not here any more: nothing happens.
    pub fn recorded(&mut self, ticket: Ticket, written: Result<(), String>, now: Now, out: &mut Vec<Action>) {
        let Some(Stage::Recording(decision)) = self.requests.held(ticket).map(|h| h.stage.clone()) else {
            return;
        };
        match written {
            Ok(()) => self.forward(ticket, decision, now, out),
            Err(why) => {
                let d = Decision { reason: Reason::AuditUnavailable, by: By::Policy, detail: Some(why), ..decision };
                self.deny_held(ticket, d, now, out);
            }
        }
    }

    fn forward(&mut self, ticket: Ticket, decision: Decision, now: Now, out: &mut Vec<Action>) {
        let Some(bytes) = self.requests.held(ticket).and_then(Self::bytes_to_forward) else {
            let detail = Some("countersign's own members could not be taken out of the retry".to_owned());
            let d = Decision { reason: Reason::AmbiguousPayload, by: By::Policy, detail, ..decision };
            return self.deny_held(ticket, d, now, out);
        };
        // Only a human's approval is worth carrying to a retry; the policy allows again.
        let stateless = self.revision.is_some_and(|r| r.is_stateless());
        let approval = (stateless && decision.reason != Reason::AllowedByPolicy).then(|| Box::new(decision));
        let forwarded = self.requests.forward(ticket, |held| InFlight::Call {
            tool: std::mem::take(&mut held.call.name),
            digest: std::mem::take(&mut held.call.digest),
            class: held.class,
            since: now.mono,
            approval,
        });
        if forwarded.is_some() {
            self.counts.allowed += 1;
            out.push(Action::ToServer(bytes));
        }
    }

    pub(super) fn timed_out(&mut self, ticket: Ticket, detail: String, now: Now, out: &mut Vec<Action>) {
        let Some(held) = self.requests.held(ticket) else {
            return;
        };
        let d = Decision::new(
            Reason::ApprovalTimeout,
            held.class,
            held.rule.clone(),
            By::Policy,
            held.waited_ms(now.mono),
            held.with_note(Some(detail)),
        );
        self.file(ticket, d, out);
    }

    /// Nobody approved the call: it is kept as a pending approval that the user can
    /// approve later (PRODUCT.md section 6a), then denied by [`Session::filed`].
    fn file(&mut self, ticket: Ticket, decision: Decision, out: &mut Vec<Action>) {
        if self.asking == Some(ticket) {
            self.asking = None;
            out.push(Action::Withdraw(ticket));
        }
        self.close_dialog(ticket, out);
        self.queue.retain(|t| *t != ticket);
        let Some(held) = self.requests.held(ticket) else {
            return;
        };
        // The book redacts the arguments before it stores them.
        let shown = self.shown(held);
        let file = File {
            held: shown,
            tool: held.call.name.clone(),
            digest: held.call.digest.clone(),
            definition: held.definition.clone(),
            request_id: held.id.to_string(),
        };
        if let Some(held) = self.requests.held_mut(ticket) {
            held.stage = Stage::Filing(decision);
        }
        out.push(Action::File(ticket, Box::new(file)));
    }

    /// The approval book kept the call as pending approval `id` (or could not): the
    /// call is denied, with words that tell the user how to approve it.
    pub fn filed(&mut self, ticket: Ticket, filed: Result<String, String>, now: Now, out: &mut Vec<Action>) {
        let Some(held) = self.requests.held(ticket) else {
            return;
        };
        let Stage::Filing(mut d) = held.stage.clone() else {
            return;
        };
        let why = d.detail.take().unwrap_or_default();
        let tool = &held.call.name;
        d.detail = Some(match filed {
            Ok(id) => {
                out.push(Action::Notice(format!(
                    "{tool} waits for approval as {id} ({why}): run `countersign approve {id}` in a terminal to allow it once"
                )));
                let what = inert_cut(&records::redacted_arguments(&held.call), WHAT_CHARS);
                format!(
                    "{why}. It is kept as pending approval {id}: {tool} {what}. The user can approve it by running `countersign approve {id}` in a terminal (`countersign approve {id} --web` opens it in a browser; the `countersign approver` console shows it too), then ask for the same call again; it lapses in 1 hour"
                )
            }
            Err(e) if d.reason == Reason::ApprovalPending => {
                d.reason = Reason::DeniedHeadless;
                format!(
                    "{why}; nobody could be asked, and the call could not be kept for later ({e}). To approve calls like this one, start `countersign approver` in a terminal, then make the call again"
                )
            }
            Err(e) => format!("{why}; the call could not be kept for later ({e})"),
        });
        self.deny_held(ticket, d, now, out);
    }

    fn deny_held(&mut self, ticket: Ticket, decision: Decision, now: Now, out: &mut Vec<Action>) {
        if let Some(held) = self.take_held(ticket, out) {
            self.deny(&held.call, held.to, decision, now, out);
        }
    }

    /// Records the denial and answers the call with it: a tool result, or for a
    /// task-augmented call a task that already failed.
    fn deny(&mut self, call: &Call, to: To, decision: Decision, now: Now, out: &mut Vec<Action>) {
        self.counts.denied += 1;
        out.push(Action::Record(records::call_decision(call, &decision)));
        let text = denial_text(&call.name, &decision, Some(&call.digest));
        let answer = if call.task && !self.revision.is_some_and(|r| r.is_stateless()) {
            let n = self.ticket();
            let task_id = format!("{PREFIX}{}-{n}", self.settings.session);
            let at = crate::core::audit::time::rfc3339_micros(now.wall_micros);
            let task = DeniedTask::new(&task_id, &at, &text);
            let created = task.created(&call.id);
            if self.denied_tasks.len() >= MAX_DENIED_TASKS {
                self.denied_tasks.pop_front();
            }
            self.denied_tasks.push_back((task_id, task, now.mono + DENIED_TASK_TTL));
            created
        } else {
            denial_response(&call.id, self.revision, &text)
        };
        self.reply(to, answer.into(), out);
    }

    /// A request a server could read differently from countersign: a call is denied as
    /// `ambiguous_payload` (a tool result, so the model reads why); anything else gets a
    /// JSON-RPC invalid-request error.
    pub(super) fn refuse_ambiguous(
        &mut self,
        bytes: &[u8],
        id: Id,
        method: Option<&str>,
        why: String,
        to: To,
        out: &mut Vec<Action>,
    ) {
        self.reject("client", &format!("ambiguous payload: {why}"), bytes, out);
        if method != Some("tools/call") {
            let line = error_response(Some(&id), code::INVALID_REQUEST, &format!("ambiguous request: {why}"));
            return self.reply(to, line.into(), out);
        }
        // Which tool it names is exactly what cannot be trusted: neither arguments nor digest.
        let name = "tools/call";
        let d = Decision::new(Reason::AmbiguousPayload, Class::Unknown, None, By::Policy, 0, Some(why));
        self.counts.denied += 1;
        out.push(Action::Record(records::decision(&id, name, Args::Unknown, None, false, &d)));
        let text = denial_text(name, &d, None);
        self.reply(to, denial_response(&id, self.revision, &text).into(), out);
    }

    /// The `decision` record of a call that was never forwarded because it was withdrawn
    /// (or the session ended).
    pub(super) fn record_cancelled(&mut self, held: &HeldCall, detail: Option<&str>, now: Now, out: &mut Vec<Action>) {
        let d = Decision::new(
            Reason::Cancelled,
            held.class,
            held.rule.clone(),
            By::Policy,
            held.waited_ms(now.mono),
            detail.map(str::to_owned),
        );
        let event: Event = records::call_decision(&held.call, &d);
        out.push(Action::Record(event));
    }
}

/// How much of a call's arguments a pending approval's denial text shows.
const WHAT_CHARS: usize = 120;

impl Session {
    /// The server answered an approved call: when it asks for input (2026-07-28) with a
    /// `requestState` of its own, the retry that echoes that state may run on the same
    /// approval, once (PRODUCT.md section 6a).
    pub(super) fn carry(
        &mut self,
        id: &Id,
        tool: String,
        digest: String,
        approval: Decision,
        result: Option<&[u8]>,
        now: Now,
    ) {
        let Some(Ok(result)) = result.map(json::parse) else {
            return;
        };
        if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
            return;
        }
        let Some(state) = result.get("requestState").and_then(Value::as_str) else {
            return;
        };
        if self.carried.len() >= MAX_CARRIED {
            self.carried.pop_front();
        }
        let detail = Some(format!("a retry of call {id}, which the server asked for input and gave its requestState"));
        let approval = Decision { detail, ..approval };
        self.carried.push_back(Carried { tool, digest, state: state.to_owned(), approval, until: now.mono + CARRY });
    }

    /// The approval a 2026-07-28 retry carries: same tool, same digest, and the
    /// `requestState` the server issued for the call it retries. Used up here.
    fn carried_for(&mut self, ticket: Ticket, now: Now) -> Option<Decision> {
        self.carried.retain(|c| c.until > now.mono);
        if !self.revision.is_some_and(|r| r.is_stateless()) {
            return None;
        }
        let held = self.requests.held(ticket)?;
        let state = held.call.request_state.as_ref().and_then(|s| json::parse(s.as_str().as_bytes()).ok())?;
        let state = state.as_str()?;
        let i = self
            .carried
            .iter()
            .position(|c| c.tool == held.call.name && c.digest == held.call.digest && c.state == state)?;
        let carried = self.carried.remove(i)?;
        Some(Decision { waited_ms: held.waited_ms(now.mono), ..carried.approval })
    }
}
