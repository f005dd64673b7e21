//! The one task that owns the session: it reads both peers itself, and the prompt
//! worker, the approval book, the audit log and the clock send it events; it hands each
//! to the session and carries out the actions that come back, in order. Nothing else
//! touches the session's state, so two things that race have one defined order: the
//! order their events arrive here.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::book::{self, Book, Done, Step};
use super::operator::{self, Answered, Operator, Prompt};
use super::peers::{Pacer, PeerWriter, Reader, CLIENT, SERVER};
use crate::core::audit::Event;
use crate::core::session::{Action, Counts, Now, Session, Settings, Ticket};
use crate::edge::audit_log::AuditLog;
use crate::edge::clock::Clock;
use crate::edge::pin_store::PinStore;

/// The peers' byte streams.
pub struct Io<CI, CO, SI, SO> {
    pub client_in: CI,
    pub client_out: CO,
    pub server_in: SI,
    pub server_out: SO,
}

/// How the session learns about, and tells, the process around it.
pub struct Hooks<E> {
    /// Told when the client closed its end (the caller starts the shutdown ladder).
    pub client_closed: Option<oneshot::Sender<()>>,
    /// Resolves when the server process has exited: its last lines get a moment, then
    /// whatever it left unanswered is failed.
    pub server_exited: E,
    pub clock: Clock,
    /// Where the session's pins are written (`None`: nowhere, as with pinning off).
    pub pins: Option<PinStore>,
    /// The user's approval book (`None`: none; nothing is kept for later).
    pub book: Option<Book>,
}

/// How long a server that exited has to let its last lines through.
const LAST_WORDS: Duration = Duration::from_secs(1);

/// Runs one session over `io` until the server is gone; returns the counts.
pub async fn run_with<CI, CO, SI, SO, E>(
    io: Io<CI, CO, SI, SO>,
    settings: Settings,
    audit: AuditLog,
    operator: Arc<dyn Operator>,
    hooks: Hooks<E>,
) -> Counts
where
    CI: AsyncRead + Unpin + Send + 'static,
    CO: AsyncWrite + Unpin + Send + 'static,
    SI: AsyncWrite + Unpin + Send + 'static,
    SO: AsyncRead + Unpin + Send + 'static,
    E: Future<Output = ()>,
{
    let start = Instant::now();
    let mut client = Reader::new(io.client_in, CLIENT);
    let mut server = Reader::new(io.server_out, SERVER);
    let mut client_open = true;
    let (to_client, client_writer) = PeerWriter::start(io.client_out, "the client");
    let (to_server, server_writer) = PeerWriter::start(io.server_in, "the server");
    let (prompt_tx, prompt_rx) = mpsc::unbounded_channel();
    let (back_tx, mut back) = mpsc::unbounded_channel();
    let prompter = tokio::spawn(operator::worker(operator, start, prompt_rx, back_tx.clone()));
    let book_steps = hooks.book.map(|book| {
        let (steps, rx) = mpsc::unbounded_channel();
        tokio::spawn(book::worker(book, rx, back_tx.clone()));
        steps
    });

    let mut owner = Owner {
        session: Session::new(settings),
        out: Vec::new(),
        records: Vec::new(),
        to_client,
        to_server: Some(to_server),
        prompts: prompt_tx,
        audit,
        back: back_tx,
        start,
        clock: hooks.clock,
        pins: hooks.pins,
        book: book_steps,
    };
    let mut client_closed = hooks.client_closed;
    let server_exited = hooks.server_exited;
    tokio::pin!(server_exited);
    let mut exited_at: Option<Instant> = None;
    loop {
        let wake = owner.session.next_wakeup().map(|at| start + at);
        let give_up = exited_at.map(|at| at + LAST_WORDS);
        tokio::select! {
            line = client.next(), if client_open => match line {
                Some(line) => {
                    let now = owner.now();
                    owner.session.audit_down(owner.audit.unavailable());
                    owner.session.client(line, now, &mut owner.out);
                    owner.apply(Some(client.pacer())).await;
                }
                None => {
                    // The server sees end of file once what was queued for it is written.
                    client_open = false;
                    owner.to_server = None;
                    if let Some(tx) = client_closed.take() {
                        let _ = tx.send(());
                    }
                }
            },
            line = server.next() => match line {
                Some(line) => {
                    let now = owner.now();
                    owner.session.server(line, now, &mut owner.out);
                    owner.apply(Some(server.pacer())).await;
                }
                None => break,
            },
            Some(back) = back.recv() => {
                let now = owner.now();
                match back {
                    Back::Asked(Answered(ticket, asked)) => owner.session.asked(ticket, asked, now, &mut owner.out),
                    Back::Recorded(ticket, written) => owner.session.recorded(ticket, written, now, &mut owner.out),
                    Back::Book(Done::Consulted(ticket, grant, elsewhere)) => {
                        owner.session.consulted(ticket, grant, elsewhere, now, &mut owner.out)
                    }
                    Back::Book(Done::Filed(ticket, filed)) => owner.session.filed(ticket, filed, now, &mut owner.out),
                    Back::Book(Done::Changes(changes)) => {
                        for change in changes {
                            owner.audit.record(change.event.about(&change.label)).await;
                        }
                    }
                }
                owner.apply(None).await;
            }
            () = sleep_until(wake) => {
                let now = owner.now();
                owner.session.tick(now, &mut owner.out);
                owner.apply(None).await;
            }
            () = &mut server_exited, if exited_at.is_none() => exited_at = Some(Instant::now()),
            () = sleep_until(give_up) => break,
        }
    }
    let now = owner.now();
    owner.session.server_gone(now, &mut owner.out);
    owner.apply(None).await;
    let counts = owner.session.counts();
    // Writers finish what is queued, then close their streams.
    drop(owner);
    prompter.abort();
    drop((client, server));
    let _ = client_writer.await;
    let _ = tokio::time::timeout(LAST_WORDS, server_writer).await;
    counts
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

struct Owner {
    session: Session,
    /// Actions of the event being handled (reused between events).
    out: Vec<Action>,
    /// The records among them (reused between events).
    records: Vec<Event>,
    to_client: PeerWriter,
    /// `None` once the client closed its end: the server's stdin is closed.
    to_server: Option<PeerWriter>,
    prompts: mpsc::UnboundedSender<Prompt>,
    audit: AuditLog,
    /// Where the workers' answers come back (also used to answer at once without a book).
    back: mpsc::UnboundedSender<Back>,
    start: Instant,
    clock: Clock,
    pins: Option<PinStore>,
    /// Steps for the book's worker (`None`: no book).
    book: Option<mpsc::UnboundedSender<Step>>,
}

/// What comes back to the session from the workers it started: one channel for all, so
/// that the session's task waits on one queue for them rather than three. The workers
/// send their own types ([`Answered`], [`Done`]) into it and know nothing of this one.
enum Back {
    /// The operator answered about a held call.
    Asked(Answered),
    /// A write-ahead record is on disk, or could not be written.
    Recorded(Ticket, Result<(), String>),
    /// The approval book answered.
    Book(Done),
}

impl From<Answered> for Back {
    fn from(answered: Answered) -> Back {
        Back::Asked(answered)
    }
}

impl From<Done> for Back {
    fn from(done: Done) -> Back {
        Back::Book(done)
    }
}

impl Owner {
    fn now(&self) -> Now {
        Now { mono: Instant::now().duration_since(self.start), wall_micros: self.clock.now_micros() }
    }

    /// Carries out the session's actions, in order. Lines that came from a reader count
    /// against its pacing while they wait in a writer's queue. Never waits on a peer.
    async fn apply(&mut self, pacer: Option<&Arc<Pacer>>) {
        let mut pins = Vec::new();
        // Drained rather than dropped: the vectors are reused by the next event.
        let mut out = std::mem::take(&mut self.out);
        let mut records = std::mem::take(&mut self.records);
        for action in out.drain(..) {
            match action {
                Action::ToServer(line) => self.send_server(line, pacer),
                Action::ToClient(line) => self.to_client.send(line, pacer),
                // Handed to the audit thread once the lines are on their way (in their
                // order): these records are lazy, so nothing waits for them, and the
                // hand-off can wake that thread.
                Action::Record(event) => records.push(event),
                Action::RecordDurable(ticket, event) => {
                    let audit = self.audit.clone();
                    let back = self.back.clone();
                    tokio::spawn(async move {
                        let written = audit.record_durable(event).await.map_err(|e| e.to_string());
                        let _ = back.send(Back::Recorded(ticket, written));
                    });
                }
                Action::Ask(ticket, ask) => {
                    let _ = self.prompts.send(Prompt::Ask(ticket, ask));
                }
                Action::Withdraw(ticket) => {
                    let _ = self.prompts.send(Prompt::Withdraw(ticket));
                }
                Action::Pin(update) => pins.push(update),
                Action::Consult(ticket, consult) => self.book(Step::Consult(ticket, consult)),
                Action::File(ticket, file) => self.book(Step::File(ticket, file)),
                Action::GrantLease(lease) => self.book(Step::GrantLease(lease)),
                Action::Notice(line) => tracing::warn!("{}", crate::core::sanitize::inert(&line)),
            }
        }
        self.out = out;
        // The pins an event learned are written once its records (the `tools` record that
        // says a tool is new, or was accepted) are on disk: a crash between the two never
        // leaves a pin the log does not show. Only listings that change the pins wait.
        let durable = if pins.is_empty() || self.pins.is_none() { None } else { records.pop() };
        for event in records.drain(..) {
            self.audit.record(event).await;
        }
        self.records = records;
        if let Some(last) = durable {
            if let Err(e) = self.audit.record_durable(last).await {
                tracing::warn!("pins not written, as their record could not be: {e}");
                return;
            }
        }
        self.write_pins(pins).await;
    }

    /// Writes the pins one event learned, in one locked write, off the runtime's thread
    /// (after the lines of that event are on their way).
    async fn write_pins(&self, updates: Vec<crate::core::pins::Update>) {
        if updates.is_empty() {
            return;
        }
        let Some(store) = self.pins.clone() else {
            return;
        };
        let at = crate::core::audit::time::rfc3339_micros(self.clock.now_micros());
        match tokio::task::spawn_blocking(move || store.apply_all(&updates, &at)).await {
            Ok(Err(e)) => tracing::warn!("cannot write pins: {e}"),
            Err(e) => tracing::warn!("cannot write pins: {e}"),
            Ok(Ok(())) => {}
        }
    }

    /// Hands a step to the book's worker; without a book, answers it at once: nothing is
    /// granted and nothing can be kept.
    fn book(&self, step: Step) {
        let step = match &self.book {
            Some(steps) => match steps.send(step) {
                Ok(()) => return,
                Err(mpsc::error::SendError(step)) => step,
            },
            None => step,
        };
        let done = match step {
            Step::Consult(ticket, _) => Done::Consulted(ticket, None, None),
            Step::File(ticket, _) => Done::Filed(ticket, Err("no approval book in this session".to_owned())),
            Step::GrantLease(_) => return,
        };
        let _ = self.back.send(Back::Book(done));
    }

    fn send_server(&self, line: Bytes, pacer: Option<&Arc<Pacer>>) {
        match &self.to_server {
            Some(writer) => writer.send(line, pacer),
            None => tracing::debug!("the server's stdin is closed: a line for it is dropped"),
        }
    }
}
