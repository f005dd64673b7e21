//! `countersign pending`, `approve <ID>`, `deny <ID> [--reason TEXT]`, `leases`,
//! `leases revoke <ID>|--all` (PRODUCT.md section 6a, docs/approvals.md): the approval
//! book seen and changed from a shell. Each change is recorded in the audit log before the
//! book is written back; when it cannot be recorded, the book stays as it was.
//!
//! Exit status: 0 when done (`approve`: only when it approved); 1 when the id is unknown,
//! lapsed or already decided, or the operator did not approve; 125 when countersign cannot
//! run (no terminal for `approve`, an unusable book or audit log).

pub(in crate::cmd) mod console;
pub(in crate::cmd) mod list;
mod record;
mod web;

use std::io::Write;
use std::time::{Duration, Instant};

use crate::core::approvals::{parse_id, parse_lease_id, Book, BookError, Change, Revoke, RECEIPT_LIFETIME};
use crate::core::sanitize::inert;
use crate::edge::approvals::Store;
use crate::edge::clock::{random_id, Clock};
use crate::edge::tty::{self, Confirmed};
use crate::Error;

use list::span;
use record::record;

pub(super) enum Action {
    Pending,
    Approve {
        id: String,
        /// On the browser approval page instead of this terminal.
        on_page: bool,
    },
    Deny {
        id: String,
        reason: Option<String>,
    },
    Leases,
    /// `None`: every lease.
    Revoke {
        id: Option<String>,
    },
}

pub(super) fn run(action: Action) -> Result<i32, Error> {
    let place = if matches!(action, Action::Approve { on_page: true, .. }) { "web" } else { "cli" };
    let book = Approvals::open(place)?;
    match action {
        Action::Pending => book.list(list::pending),
        Action::Leases => book.list(list::leases),
        Action::Approve { id, on_page: false } => book.approve(&id),
        Action::Approve { id, on_page: true } => book.approve_on_page(&id),
        Action::Deny { id, reason } => book.deny(&id, reason.as_deref()),
        Action::Revoke { id } => book.revoke(id.as_deref()),
    }
}

/// The book, as one command run (or the console) changes it.
pub(super) struct Approvals {
    store: Store,
    clock: Clock,
    /// This run's id: the `session` of the records it writes.
    session: String,
    /// `operator:<user>@<place>`.
    by: String,
}

fn store_error(e: crate::edge::approvals::ApprovalError) -> Error {
    Error::Usage(e.to_string())
}

fn say(text: &str) -> Result<(), Error> {
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(Error::Stdout)
}

/// A typed id in its stored form, or the error saying it is none.
fn id_of(typed: &str) -> Result<String, BookError> {
    parse_id(typed).ok_or_else(|| BookError::Unknown { id: inert(typed).into_owned() })
}

impl Approvals {
    /// `place`: where the operator answers (`cli`, `console`).
    pub(super) fn open(place: &str) -> Result<Approvals, Error> {
        Ok(Approvals {
            store: Store::open().map_err(store_error)?,
            clock: Clock::from_env(),
            session: random_id(),
            by: format!("operator:{}@{place}", crate::edge::runtime_dir::user_name()),
        })
    }

    pub(super) fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    /// Runs `change` on the book under its lock. Its changes are recorded before the book
    /// is written back; when they cannot be, the book is left as it was. Lapses found on
    /// the way are recorded too.
    pub(super) fn apply<T>(
        &self,
        change: impl FnOnce(&mut Book, i64) -> Result<(T, Vec<Change>), BookError>,
    ) -> Result<Result<T, BookError>, Error> {
        let now = self.now();
        let (out, lapsed) = self
            .store
            .update(now, |book| {
                let before = book.clone();
                match change(book, now) {
                    Ok((value, changes)) => match record(&changes, &self.session) {
                        Ok(()) => Ok(Ok(value)),
                        Err(e) => {
                            *book = before;
                            Err(e)
                        }
                    },
                    Err(e) => Ok(Err(e)),
                }
            })
            .map_err(store_error)?;
        if let Err(e) = record(&lapsed, &self.session) {
            tracing::warn!("lapsed approvals were removed but not recorded: {e}");
        }
        out
    }

    /// Prints what `show` makes of the live book.
    fn list(&self, show: fn(&Book, i64) -> String) -> Result<i32, Error> {
        let now = self.now();
        let book = self.apply(|book, _| Ok((book.clone(), Vec::new())))?.map_err(|e| Error::Usage(e.to_string()))?;
        say(&show(&book, now))?;
        Ok(0)
    }

    /// The pending approval `typed` names, as it is shown to be answered.
    fn to_answer(&self, typed: &str) -> Result<Result<ToAnswer, BookError>, Error> {
        let found = self.apply(|book, now| {
            let id = id_of(typed)?;
            Ok((book.pending(&id, now)?.clone(), Vec::new()))
        })?;
        Ok(found.map(|pending| {
            let mut held = pending.held;
            // What is approved is named by the book's digest: show (and confirm) that one.
            held.digest = pending.digest;
            let left = Duration::from_micros(u64::try_from(pending.lapses - self.now()).unwrap_or(0));
            ToAnswer { id: pending.id, held, left }
        }))
    }

    fn approve(&self, typed: &str) -> Result<i32, Error> {
        // Refuse before anything else when there is no terminal to ask on.
        tty::own_terminal_available().map_err(|e| Error::Usage(e.to_string()))?;
        let ToAnswer { id, held, left } = match self.to_answer(typed)? {
            Ok(asked) => asked,
            Err(e) => return refused(e),
        };
        let answer = tty::confirm(&held, Instant::now() + left).map_err(|e| Error::io("asking on the terminal", e))?;
        match answer {
            Confirmed::Approve => match self.apply(|book, now| book.approve(&id, &self.by, now))? {
                Ok(receipt) => {
                    say(&format!("{}\n", approved(&id, &receipt)))?;
                    Ok(0)
                }
                Err(e) => refused(e),
            },
            Confirmed::Deny => {
                match self.apply(|book, now| book.deny(&id, &self.by, None, now).map(|c| ((), c)))? {
                    Ok(()) => say(&format!("denied {id}\n"))?,
                    Err(e) => return refused(e),
                }
                Ok(1)
            }
            Confirmed::Timeout => refused(BookError::Lapsed { id }),
            Confirmed::Cancel => {
                say(&format!("nothing decided: {id} is still pending\n"))?;
                Ok(1)
            }
        }
    }

    fn deny(&self, typed: &str, reason: Option<&str>) -> Result<i32, Error> {
        let done = self.apply(|book, now| {
            let id = id_of(typed)?;
            // An approved call not run yet is withdrawn; a pending one is denied.
            let approved = book.receipts.iter().any(|r| r.id == id);
            book.deny(&id, &self.by, reason, now).map(|c| ((id, approved), c))
        })?;
        match done {
            Ok((id, true)) => {
                say(&format!("withdrew the approval {id}: the call it was for will be asked about again\n"))?;
                Ok(0)
            }
            Ok((id, false)) => {
                say(&format!("denied {id}\n"))?;
                Ok(0)
            }
            Err(e) => refused(e),
        }
    }

    fn revoke(&self, typed: Option<&str>) -> Result<i32, Error> {
        let done = self.apply(|book, now| {
            let which = match typed {
                Some(typed) => {
                    Revoke::One(parse_lease_id(typed).ok_or_else(|| BookError::NoLease { id: inert(typed).into() })?)
                }
                None => Revoke::All,
            };
            book.revoke(which, &self.by, now).map(|c| (c.iter().map(|c| c.id.clone()).collect::<Vec<_>>(), c))
        })?;
        match done {
            Ok(ids) if ids.is_empty() => say("no leases to revoke\n").map(|()| 0),
            Ok(ids) => say(&ids.iter().map(|id| format!("revoked lease {id}\n")).collect::<String>()).map(|()| 0),
            Err(e) => refused(e),
        }
    }
}

/// A pending approval about to be answered.
struct ToAnswer {
    id: String,
    /// What the prompt or the page shows, named by the book's digest.
    held: crate::core::prompt::Held,
    /// Until it lapses.
    left: Duration,
}

/// What `approve` says once the receipt is made.
fn approved(id: &str, receipt: &crate::core::approvals::Receipt) -> String {
    format!(
        "approved {id}: the next call of {} on {} with {} runs once if it comes within {}",
        inert(&receipt.tool),
        inert(&receipt.label),
        receipt.digest,
        span(RECEIPT_LIFETIME)
    )
}

/// The id could not be decided: said on stderr, exit status 1.
fn refused(e: BookError) -> Result<i32, Error> {
    tracing::error!("{e}");
    Ok(1)
}
