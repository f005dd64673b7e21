//! One session's state, owned by one task: requests in flight, held calls, batches,
//! tools learned, countersign's own listing, leases and denied tasks. It takes events (a
//! client line, a server line, the operator's answer, a record on disk, a tick of the
//! clock) and returns actions (bytes for a peer, a record, a call to ask about). No I/O,
//! no clock: `now` comes in with every event.
//!
//! Every client request id is in exactly one place: [`requests::Requests`] maps it to a
//! held call (deciding, queued for the operator, at the operator, or being recorded before
//! it is forwarded) or to a request in flight. The table of what happens when events
//! race is in docs/design.md ("Orderings").

mod batches;
mod carried;
mod client;
mod decide;
mod dialog;
mod dialog_state;
pub mod inbound;
mod input_required;
pub mod limits;
mod listing;
pub mod outbound;
mod pinning;
mod records;
mod requests;
mod server;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use crate::core::approvals::DefinitionDigest;
use crate::core::audit::Event;
use crate::core::classify::Registry;
use crate::core::gate::By;
use crate::core::json::Value;
use crate::core::pins::Definition;
use crate::core::policy::Policy;
use crate::core::prompt::Held;
use crate::core::protocol::{error_response, Id, Revision};
use crate::core::task::DeniedTask;

pub use batches::To;
pub use dialog_state::{declares_form, Dialog};
pub use requests::Ticket;
use requests::{HeldCall, Requests};

/// Time since the relay started (monotonic), and the wall clock (µs since the epoch, for
/// the timestamps a denied task carries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Now {
    pub mono: Duration,
    pub wall_micros: i64,
}

/// What the session asks its edges to do, in order.
#[derive(Debug)]
pub enum Action {
    /// Original bytes for the server (one line, without its newline).
    ToServer(Bytes),
    /// A line for the client.
    ToClient(Bytes),
    /// Append to the audit log.
    Record(Event),
    /// Append durably (fsync), then report [`Session::recorded`] for the ticket: the
    /// write-ahead of a call that will be forwarded.
    RecordDurable(Ticket, Event),
    /// Show the call to an operator; report [`Session::asked`].
    Ask(Ticket, Box<Ask>),
    /// The call is no longer waiting: take it off the operator's screen.
    Withdraw(Ticket),
    /// Write to the pin store of this label (PRODUCT.md section 7a).
    Pin(crate::core::pins::Update),
    /// Look in the user's approval book (PRODUCT.md section 6a) for a receipt for exactly
    /// this call (used up when found) or, when `leases`, a lease on its tool; report
    /// [`Session::consulted`].
    Consult(Ticket, Consult),
    /// Keep the call in the approval book as a pending approval; report
    /// [`Session::filed`] with its id.
    File(Ticket, Box<File>),
    /// Put a lease the operator granted into the approval book.
    GrantLease(Lease),
    /// One line for countersign's stderr, which clients keep in their logs.
    Notice(String),
}

/// What to look for in the approval book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consult {
    pub tool: String,
    pub digest: String,
    /// The definition of the tool the call is decided under (`approvals::DefinitionDigest`).
    pub definition: DefinitionDigest,
    /// A lease may allow it (not for a tool changed since it was pinned).
    pub leases: bool,
}

/// A call to keep as a pending approval.
#[derive(Debug, Clone)]
pub struct File {
    /// What the prompt showed (the book redacts its arguments before it stores them).
    pub held: Held,
    pub tool: String,
    pub digest: String,
    pub definition: DefinitionDigest,
    pub request_id: String,
}

/// A lease the operator granted with `a`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub id: String,
    pub tool: String,
    /// The definition of the tool it was granted under: it allows calls under that one.
    pub definition: DefinitionDigest,
    /// Who granted it (`operator:<user>@tty`).
    pub by: String,
}

/// What the approval book allowed a call with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// A receipt for exactly this call, now used up; `by` is who approved it and where.
    Receipt { id: String, by: String },
    /// A lease on the tool.
    Lease { id: String },
}

/// A held call as the operator sees it, and until when they may answer.
#[derive(Debug, Clone)]
pub struct Ask {
    pub held: Held,
    /// Monotonic instant (like [`Now::mono`]) when the call times out.
    pub deadline: Duration,
    /// The approval page may be served when the console and the terminal cannot show
    /// the call (false while the client's dialog is still to come: PRODUCT.md section 6).
    pub page: bool,
}

/// What came of asking.
#[derive(Debug, Clone, PartialEq)]
pub enum Asked {
    Approved {
        by: By,
        lease: bool,
    },
    Denied {
        by: By,
        reason: Option<String>,
    },
    /// Nobody answered before the deadline (or the console went away while it waited).
    TimedOut {
        detail: String,
    },
    /// No operator can be reached at all (no console, no usable terminal).
    Nobody {
        why: String,
    },
    /// The operator took a changed tool's new definition as its pin; the call is then
    /// decided as its class and the rules say.
    AcceptedPin {
        by: By,
    },
}

/// The session's settings: plain values, checked before.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Session id: countersign's own request ids and denied task ids carry it.
    pub session: String,
    /// The server label.
    pub label: String,
    pub policy: Policy,
    pub headless: bool,
    pub approval_timeout: Duration,
    /// The label's pins as stored when the session started (empty with `[pinning]
    /// mode = "off"`).
    pub pins: crate::core::pins::Pins,
    /// The client's own dialog may be used (`approve_in_client`; `None`: never).
    pub dialog: Option<Dialog>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub allowed: u64,
    pub denied: u64,
    pub rejected: u64,
}

/// One session's state. Private fields; the methods are the events.
#[derive(Debug)]
pub struct Session {
    settings: Settings,
    revision: Option<Revision>,
    client_name: Option<String>,
    /// The `io.modelcontextprotocol/*` members of the latest 2026-07-28 request's `_meta`.
    envelope: Vec<(String, Value<'static>)>,
    /// The legacy handshake finished (`notifications/initialized` seen).
    initialized: bool,
    registry: Registry,
    requests: Requests,
    batches: batches::Batches,
    /// Held calls waiting for the operator, oldest first; the front one is asked.
    queue: VecDeque<Ticket>,
    asking: Option<Ticket>,
    listing: listing::Listing,
    /// Approvals a 2026-07-28 retry may carry, oldest first.
    carried: VecDeque<carried::Carried>,
    denied_tasks: VecDeque<(String, DeniedTask, Duration)>,
    next_ticket: Ticket,
    next_internal: u64,
    counts: Counts,
    /// The server is gone: new requests are failed at once.
    server_gone: bool,
    /// Tools whose listed definition differs from their pin: (pinned, listed).
    changed: HashMap<String, (Definition, Definition)>,
    /// Why the audit log cannot be written, while it cannot ([`Session::audit_down`]).
    audit_down: Option<String>,
    /// The client declared form elicitation in `initialize`.
    client_elicits: bool,
    /// The call being asked about in the client's dialog: the dialog's id, the call, and
    /// what the dialog showed.
    dialog: Option<(Id, Ticket, Held)>,
    /// Calls answered with countersign's own `input_required` (2026-07-28), waiting for
    /// their retry, oldest first.
    parked: VecDeque<dialog_state::Parked>,
}

impl Session {
    pub fn new(settings: Settings) -> Session {
        Session {
            settings,
            revision: None,
            client_name: None,
            envelope: Vec::new(),
            initialized: false,
            registry: Registry::default(),
            requests: Requests::default(),
            batches: batches::Batches::default(),
            queue: VecDeque::new(),
            asking: None,
            listing: listing::Listing::default(),
            carried: VecDeque::new(),
            denied_tasks: VecDeque::new(),
            next_ticket: 0,
            next_internal: 0,
            counts: Counts::default(),
            server_gone: false,
            changed: HashMap::new(),
            audit_down: None,
            client_elicits: false,
            dialog: None,
            parked: VecDeque::new(),
        }
    }

    /// What the audit log's writer last found: `Some(why)` while the log cannot be
    /// written. A call that would need a human is then denied at once with
    /// `audit_unavailable`: neither the human's answer (or a pending approval) nor the
    /// call's write-ahead record could be kept. Calls the policy allows are decided as
    /// ever (read-only ones pass; others fail their write-ahead record).
    pub fn audit_down(&mut self, why: Option<String>) {
        self.audit_down = why;
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// The negotiated revision, when known.
    pub fn revision(&self) -> Option<Revision> {
        self.revision
    }

    /// How many calls are held now (deciding, queued, asked or being recorded).
    pub fn held(&self) -> usize {
        self.requests.held_count()
    }

    /// When the session next needs [`Session::tick`], if ever.
    pub fn next_wakeup(&self) -> Option<Duration> {
        let held = self.requests.held_calls().filter_map(|h| h.wakeup(self.asking == Some(h.ticket)));
        let tasks = self.denied_tasks.front().map(|(_, _, until)| *until);
        held.chain(self.listing.deadline()).chain(tasks).min()
    }

    /// Time passes: progress for waiting clients, deadlines of queued calls, a listing
    /// that never came, denied tasks that lapse.
    pub fn tick(&mut self, now: Now, out: &mut Vec<Action>) {
        while self.denied_tasks.front().is_some_and(|(_, _, until)| *until <= now.mono) {
            self.denied_tasks.pop_front();
        }
        if self.listing.expired(now.mono) {
            self.listing_failed("no answer in time", now, out);
        }
        let due: Vec<Ticket> =
            self.requests.held_calls().filter(|h| h.progress_due(now.mono)).map(|h| h.ticket).collect();
        for ticket in due {
            if let Some(line) = self.requests.held_mut(ticket).and_then(|h| h.next_progress()) {
                out.push(Action::ToClient(line));
            }
        }
        let late: Vec<Ticket> = self
            .requests
            .held_calls()
            .filter(|h| h.timed_out(now.mono, self.asking == Some(h.ticket)))
            .map(|h| h.ticket)
            .collect();
        let secs = self.settings.approval_timeout.as_secs();
        for ticket in late {
            self.queue.retain(|t| *t != ticket);
            self.timed_out(ticket, format!("no answer within {secs} s"), now, out);
        }
        self.pump(now, out);
    }

    /// The server is gone (its stdout closed): every request it will now never answer
    /// gets an error, held calls included (they are never forwarded now).
    pub fn server_gone(&mut self, now: Now, out: &mut Vec<Action>) {
        self.server_gone = true;
        self.listing.abandon();
        for ticket in self.requests.held_tickets() {
            if let Some(held) = self.take_held(ticket, out) {
                let detail = "the session ended before the call was decided";
                self.record_cancelled(&held, Some(detail), now, out);
                let line = error_response(Some(&held.id), crate::core::protocol::code::INTERNAL_ERROR, SERVER_GONE);
                self.reply(held.to, Bytes::from(line), out);
            }
        }
        for (id, to) in self.requests.drain_in_flight() {
            let line = error_response(Some(&id), crate::core::protocol::code::INTERNAL_ERROR, SERVER_GONE);
            self.reply(to, Bytes::from(line), out);
        }
    }

    /// Sends a line to the client, or adds it to the batch it answers.
    fn reply(&mut self, to: To, line: Bytes, out: &mut Vec<Action>) {
        match to {
            To::Client => out.push(Action::ToClient(line)),
            To::Batch(n) => {
                if let Some(array) = self.batches.answer(n, Some(line)) {
                    out.push(Action::ToClient(array));
                }
            }
        }
    }

    /// A request of a batch gets no answer after all.
    fn no_reply(&mut self, to: To, out: &mut Vec<Action>) {
        if let To::Batch(n) = to {
            if let Some(array) = self.batches.answer(n, None) {
                out.push(Action::ToClient(array));
            }
        }
    }

    fn ticket(&mut self) -> Ticket {
        self.next_ticket += 1;
        self.next_ticket
    }

    /// An id for a request of countersign's own, which cannot collide with the client's
    /// (client ids with this prefix are refused).
    fn internal_id(&mut self) -> Id {
        self.next_internal += 1;
        Id::String(format!("{}{}", self.internal_prefix(), self.next_internal))
    }

    fn internal_prefix(&self) -> String {
        format!("countersign-{}-", self.settings.session)
    }

    fn is_internal(&self, id: &Id) -> bool {
        matches!(id, Id::String(s) if s.starts_with(&self.internal_prefix()))
    }

    /// Removes a held call from every place it is known, withdrawing it from the operator.
    fn take_held(&mut self, ticket: Ticket, out: &mut Vec<Action>) -> Option<HeldCall> {
        let held = self.requests.remove_held(ticket)?;
        self.queue.retain(|t| *t != ticket);
        if self.asking == Some(ticket) {
            self.asking = None;
            out.push(Action::Withdraw(ticket));
        }
        self.close_dialog(ticket, out);
        Some(held)
    }
}

/// The error a request gets when the server will never answer it.
pub const SERVER_GONE: &str = "the MCP server exited before answering";

#[cfg(test)]
mod tests;
