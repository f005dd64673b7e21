//! The client's requests the session knows, by id. An id is in exactly one of two
//! places: held (the call is being decided, waits for the operator, or its decision is
//! being written before it is forwarded) or in flight (forwarded, waiting for the
//! server's answer). It leaves when it is answered, denied, withdrawn or failed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

use bytes::Bytes;

use super::limits::{ASK_OVERRUN, PROGRESS_EVERY};
use super::To;
use crate::core::classify::Class;
use crate::core::gate::{Call, Decision};
use crate::core::protocol::Id;

/// Names one held call across the session and the edge that asks about it.
pub type Ticket = u64;

/// Where a held call is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Stage {
    /// Waiting for countersign's own `tools/list` to learn its class.
    Listing,
    /// Needs a human: first the approval book is read for a receipt or a lease.
    Consulting,
    /// Needs a human; waiting for its turn (the front of the queue is being asked).
    Queued,
    /// Nobody approved it: it is being kept as a pending approval, then denied with this
    /// decision (which names the pending approval once it has an id).
    Filing(Decision),
    /// Decided to run: its decision record is being written (write-ahead); it is
    /// forwarded once the record is on disk.
    Recording(Decision),
}

/// A `tools/call` that has not been forwarded or answered yet.
#[derive(Debug)]
pub(super) struct HeldCall {
    pub ticket: Ticket,
    pub id: Id,
    pub to: To,
    /// The original bytes: what is forwarded if it runs.
    pub bytes: Bytes,
    pub call: Call,
    pub class: Class,
    /// The rule that asked (or the class default).
    pub rule: Option<String>,
    /// How the operator approves it (PRODUCT.md section 6, `confirm`).
    pub confirm: crate::core::policy::Confirm,
    pub since: Duration,
    pub deadline: Duration,
    pub stage: Stage,
    /// The tool's definition when the call was decided: what a pending approval, receipt
    /// or lease for it is bound to (PRODUCT.md section 6a).
    pub definition: crate::core::approvals::DefinitionDigest,
    /// What the approval book said about the call that its decision record keeps (a
    /// receipt for it under another definition of the tool).
    pub note: Option<String>,
    /// The client's dialog was tried for it (it is asked there once).
    pub dialog_tried: bool,
    /// When the next `notifications/progress` is due, and its number.
    progress: Option<(Duration, u64)>,
}

impl HeldCall {
    /// A decision's `detail` with what the approval book noted about the call after it.
    pub(super) fn with_note(&self, detail: Option<String>) -> Option<String> {
        match (detail, &self.note) {
            (Some(detail), Some(note)) => Some(format!("{detail}; {note}")),
            (detail, note) => detail.or_else(|| note.clone()),
        }
    }

    pub(super) fn new(
        ticket: Ticket,
        id: Id,
        to: To,
        bytes: Bytes,
        call: Call,
        now: Duration,
        timeout: Duration,
    ) -> HeldCall {
        let progress = call.progress_token.is_some().then_some((now + PROGRESS_EVERY, 1));
        HeldCall {
            ticket,
            id,
            to,
            bytes,
            call,
            class: Class::Unknown,
            rule: None,
            confirm: crate::core::policy::Confirm::Key,
            since: now,
            deadline: now + timeout,
            stage: Stage::Listing,
            definition: None,
            note: None,
            dialog_tried: false,
            progress,
        }
    }

    pub(super) fn waited_ms(&self, now: Duration) -> u64 {
        now.saturating_sub(self.since).as_millis() as u64
    }

    /// When this call next needs the clock.
    pub(super) fn wakeup(&self, asking: bool) -> Option<Duration> {
        let deadline = match self.stage {
            Stage::Queued if asking => Some(self.deadline + ASK_OVERRUN),
            Stage::Queued => Some(self.deadline),
            _ => None,
        };
        let progress = self.progress.map(|(at, _)| at).filter(|_| !matches!(self.stage, Stage::Recording(_)));
        deadline.into_iter().chain(progress).min()
    }

    pub(super) fn progress_due(&self, now: Duration) -> bool {
        !matches!(self.stage, Stage::Recording(_)) && self.progress.is_some_and(|(at, _)| at <= now)
    }

    /// The next `notifications/progress` line, when the client gave a token.
    pub(super) fn next_progress(&mut self) -> Option<Bytes> {
        let token = self.call.progress_token.as_deref()?;
        let (at, n) = self.progress?;
        self.progress = Some((at + PROGRESS_EVERY, n + 1));
        Some(Bytes::from(format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":{token},"progress":{n},"message":"countersign: waiting for the operator to approve this call"}}}}"#
        )))
    }

    /// Waiting for the operator past its deadline (with some slack for the one being
    /// asked: its edge times it out itself).
    pub(super) fn timed_out(&self, now: Duration, asking: bool) -> bool {
        self.stage == Stage::Queued && now >= self.deadline + if asking { ASK_OVERRUN } else { Duration::ZERO }
    }
}

/// A request forwarded to the server.
#[derive(Debug)]
pub(super) enum InFlight {
    Call {
        tool: String,
        digest: String,
        class: Class,
        since: Duration,
        /// The human approval it ran with, which a 2026-07-28 retry may carry.
        approval: Option<Box<Decision>>,
    },
    ListTools {
        first_page: bool,
    },
    Initialize,
    Other,
}

/// What an answer from the server was for.
#[derive(Debug)]
pub(super) enum Answered {
    /// A request in flight, which is answered now.
    InFlight(To, InFlight),
    /// A held call, which the server never saw (it stays held).
    Held,
    /// No request countersign knows.
    Unknown,
}

#[derive(Debug)]
enum Slot {
    /// The call is in [`Requests::held`] under this ticket.
    Held(Ticket),
    InFlight(InFlight),
}

#[derive(Debug)]
struct Entry {
    to: To,
    slot: Slot,
}

#[derive(Debug, Default)]
pub(super) struct Requests {
    by_id: HashMap<Id, Entry>,
    /// The held calls by ticket (a call is looked up by its ticket several times while it
    /// is decided: one lookup each, with a hash that costs a multiplication).
    held: HashMap<Ticket, HeldCall, BuildHasherDefault<TicketHash>>,
    held_bytes: usize,
}

/// Hashes a ticket: the session hands them out in sequence, so nobody outside can choose
/// them, and a multiplication spreads them over the table.
#[derive(Default)]
struct TicketHash(u64);

impl Hasher for TicketHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Requests {
    pub(super) fn contains(&self, id: &Id) -> bool {
        self.by_id.contains_key(id)
    }

    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    pub(super) fn held_count(&self) -> usize {
        self.held.len()
    }

    pub(super) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// A call is held from now on.
    pub(super) fn hold(&mut self, held: HeldCall) {
        self.held_bytes += held.bytes.len();
        self.by_id.insert(held.id.clone(), Entry { to: held.to, slot: Slot::Held(held.ticket) });
        self.held.insert(held.ticket, held);
    }

    /// A request is forwarded: it waits for the server's answer.
    pub(super) fn in_flight(&mut self, id: Id, to: To, what: InFlight) {
        self.by_id.insert(id, Entry { to, slot: Slot::InFlight(what) });
    }

    pub(super) fn held_ticket(&self, id: &Id) -> Option<Ticket> {
        match &self.by_id.get(id)?.slot {
            Slot::Held(ticket) => Some(*ticket),
            Slot::InFlight(_) => None,
        }
    }

    pub(super) fn held(&self, ticket: Ticket) -> Option<&HeldCall> {
        self.held.get(&ticket)
    }

    pub(super) fn held_mut(&mut self, ticket: Ticket) -> Option<&mut HeldCall> {
        self.held.get_mut(&ticket)
    }

    /// Not the whole map: asked after every event, and there are usually none while many
    /// requests may be in flight.
    pub(super) fn held_calls(&self) -> impl Iterator<Item = &HeldCall> {
        self.held.values()
    }

    /// Held tickets, oldest first.
    pub(super) fn held_tickets(&self) -> Vec<Ticket> {
        let mut tickets: Vec<Ticket> = self.held.keys().copied().collect();
        tickets.sort_unstable();
        tickets
    }

    /// Takes a held call out of the held calls (its id's entry is the caller's to change).
    fn take_held(&mut self, ticket: Ticket) -> Option<HeldCall> {
        let held = self.held.remove(&ticket)?;
        self.held_bytes -= held.bytes.len();
        Some(held)
    }

    /// Removes a held call (withdrawn, decided, failed).
    pub(super) fn remove_held(&mut self, ticket: Ticket) -> Option<HeldCall> {
        let held = self.take_held(ticket)?;
        if let Some(other) = self.by_id.remove(&held.id) {
            if !matches!(other.slot, Slot::Held(t) if t == ticket) {
                // Cannot happen: an id is in one place at a time. Put it back untouched.
                self.by_id.insert(held.id.clone(), other);
            }
        }
        Some(held)
    }

    /// A held call is forwarded: it leaves the held calls and, under the same id (one
    /// lookup, the id's entry kept), waits for the server's answer as `what` says.
    pub(super) fn forward(&mut self, ticket: Ticket, what: impl FnOnce(&mut HeldCall) -> InFlight) -> Option<HeldCall> {
        let mut held = self.take_held(ticket)?;
        let what = what(&mut held);
        match self.by_id.get_mut(&held.id) {
            Some(entry) if matches!(entry.slot, Slot::Held(t) if t == ticket) => entry.slot = Slot::InFlight(what),
            // Cannot happen: the id of a held call names it. Leave the other entry be.
            _ => {}
        }
        Some(held)
    }

    /// The server answered `id`: a request in flight leaves.
    pub(super) fn answered(&mut self, id: &Id) -> Answered {
        match self.by_id.remove(id) {
            Some(Entry { to, slot: Slot::InFlight(what) }) => Answered::InFlight(to, what),
            Some(held) => {
                // The server never saw a held call: an answer to it is not one.
                self.by_id.insert(id.clone(), held);
                Answered::Held
            }
            None => Answered::Unknown,
        }
    }

    pub(super) fn drain_in_flight(&mut self) -> Vec<(Id, To)> {
        let ids: Vec<Id> =
            self.by_id.iter().filter(|(_, e)| matches!(e.slot, Slot::InFlight(_))).map(|(id, _)| id.clone()).collect();
        ids.into_iter().filter_map(|id| self.by_id.remove(&id).map(|e| (id, e.to))).collect()
    }
}
