//! The gate: every `tools/call` is classified, decided, recorded and only then forwarded
//! or answered with a denial. A call that cannot be decided at once is held: it waits for
//! countersign's own listing, for the operator, or for its decision to be on disk.
//!
//! One call, in one place, from its event to its actions:
//! [`Session::gate`] -> [`Session::classify`] -> [`Session::decide`] -> (`Action::Ask` ->
//! [`Session::asked`]) -> [`Session::approve`] -> `Action::RecordDurable` ->
//! [`Session::recorded`] -> `Action::ToServer`, or [`Session::deny`] at any step.

use bytes::Bytes;

use super::limits::{DENIED_TASK_TTL, LEASE, MAX_DENIED_TASKS, MAX_HELD, MAX_HELD_BYTES};
use super::records;
use super::requests::{HeldCall, InFlight, Stage};
use super::{Action, Ask, Asked, Now, Session, Ticket, To};
use crate::core::audit::{Args, Event};
use crate::core::classify::Class;
use crate::core::gate::{denial_response, denial_text, By, Call, CallError, Decision, Reason};
use crate::core::policy::Action as Rule;
use crate::core::prompt::Held;
use crate::core::protocol::{code, error_response, Id};
use crate::core::sanitize::inert;
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
        let Some(name) = self.requests.held(ticket).map(|h| h.call.name.clone()) else {
            return;
        };
        let class = match self.registry.class(&name) {
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

    /// Policy, then leases, then the operator.
    pub(super) fn decide(&mut self, ticket: Ticket, now: Now, out: &mut Vec<Action>) {
        let Some(held) = self.requests.held(ticket) else {
            return;
        };
        let class = held.class;
        let verdict =
            self.settings.policy.evaluate(&self.settings.label, &held.call.name, class, held.call.raw_arguments());
        let (rule, confirm) = (Some(verdict.rule), verdict.confirm);
        let waited = held.waited_ms(now.mono);
        let decision = |reason, by| Decision::new(reason, class, rule.clone(), by, waited, None);
        let tool = held.call.name.clone();
        // A tool changed since it was pinned is asked about whatever its class and the
        // rules say; only a rule's deny stands (PRODUCT.md section 7a).
        if verdict.action != Rule::Deny {
            if let Some((old, new)) = self.pin_changed(&tool) {
                let detail = Some(format!("pinned {}, listed now {}", old.digest, new.digest));
                if self.settings.headless {
                    let d = Decision::new(Reason::ToolChanged, class, None, By::Headless, waited, detail);
                    return self.deny_held(ticket, d, now, out);
                }
                if let Some(held) = self.requests.held_mut(ticket) {
                    held.rule = None;
                    held.stage = Stage::Queued;
                }
                self.queue.push_back(ticket);
                return self.pump(now, out);
            }
        }
        let lease = self.lease_for(&tool, now);
        match verdict.action {
            Rule::Allow => self.approve(ticket, decision(Reason::AllowedByPolicy, By::Policy), now, out),
            Rule::Deny => self.deny_held(ticket, decision(Reason::DeniedByRule, By::Policy), now, out),
            Rule::Ask if self.settings.headless => {
                self.deny_held(ticket, decision(Reason::DeniedHeadless, By::Headless), now, out)
            }
            Rule::Ask => match lease {
                Some(lease) => self.approve(ticket, decision(Reason::ApprovedByLease, By::Lease(lease)), now, out),
                None => {
                    if let Some(held) = self.requests.held_mut(ticket) {
                        held.rule = rule.clone();
                        held.confirm = confirm;
                        held.stage = Stage::Queued;
                    }
                    self.queue.push_back(ticket);
                    self.pump(now, out);
                }
            },
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
            let ask = Ask { held: self.shown(held), deadline: held.deadline };
            self.asking = Some(ticket);
            out.push(Action::Ask(ticket, Box::new(ask)));
            return;
        }
    }

    /// What the operator sees.
    fn shown(&self, held: &HeldCall) -> Held {
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
        if self.asking == Some(ticket) {
            self.asking = None;
        } else if !matches!(asked, Asked::TimedOut { .. }) {
            // Only the call being asked can be answered.
            return;
        } else {
            self.queue.retain(|t| *t != ticket);
        }
        let (class, rule, waited) = (held.class, held.rule.clone(), held.waited_ms(now.mono));
        let tool = held.call.name.clone();
        let d = |reason, by, detail| Decision::new(reason, class, rule.clone(), by, waited, detail);
        match asked {
            Asked::Approved { by, lease: false } => {
                self.approve(ticket, d(Reason::ApprovedByOperator, by, None), now, out)
            }
            Asked::Approved { by, lease: true } => {
                let id = format!("{}-{}", &self.settings.session[..self.settings.session.len().min(8)], ticket);
                self.leases.insert(tool, (id.clone(), now.mono + LEASE));
                let detail = Some(format!("lease {id} granted for 15 minutes"));
                self.approve(ticket, d(Reason::ApprovedByOperator, by, detail), now, out)
            }
            Asked::Denied { by, reason } => {
                let detail =
                    reason.filter(|r| !r.trim().is_empty()).map(|r| format!("the operator said: \"{}\"", inert(&r)));
                self.deny_held(ticket, d(Reason::DeniedByOperator, by, detail), now, out)
            }
            Asked::TimedOut { detail } => self.timed_out(ticket, detail, now, out),
            Asked::Nobody { why } => {
                let detail = format!(
                    "{why}; nobody could be asked. To approve calls like this one, start `countersign approver` in a terminal, then make the call again"
                );
                self.deny_held(ticket, d(Reason::DeniedHeadless, By::Headless, Some(detail)), now, out)
            }
        }
        self.pump(now, out);
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
            Some(detail),
        );
        if self.asking == Some(ticket) {
            self.asking = None;
            out.push(Action::Withdraw(ticket));
        }
        self.deny_held(ticket, d, now, out);
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
            return self.forward(ticket, now, out);
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
            Ok(()) => self.forward(ticket, now, out),
            Err(why) => {
                let d = Decision { reason: Reason::AuditUnavailable, by: By::Policy, detail: Some(why), ..decision };
                self.deny_held(ticket, d, now, out);
            }
        }
    }

    fn forward(&mut self, ticket: Ticket, now: Now, out: &mut Vec<Action>) {
        let Some(held) = self.requests.remove_held(ticket) else {
            return;
        };
        self.counts.allowed += 1;
        let what =
            InFlight::Call { tool: held.call.name, digest: held.call.digest, class: held.class, since: now.mono };
        self.requests.in_flight(held.id, held.to, what);
        out.push(Action::ToServer(held.bytes));
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

    /// The lease on `tool`, when one is in force.
    fn lease_for(&mut self, tool: &str, now: Now) -> Option<String> {
        match self.leases.get(tool) {
            Some((id, until)) if now.mono < *until => Some(id.clone()),
            Some(_) => {
                self.leases.remove(tool);
                None
            }
            None => None,
        }
    }
}
