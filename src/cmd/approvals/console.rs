//! The approval book as the console (`countersign approver`) shows it, below the held
//! calls: the pending approvals (approved or denied there with the prompt's keys, `by` =
//! `operator:<user>@console`) and the leases (`r` revokes the selected one). Read from the
//! store about once a second; a book that cannot be read is shown as its error, and the
//! held calls go on being answered.

use std::sync::Arc;

use super::list::{cut, short_digest, span};
use super::Approvals;
use crate::core::approvals::{Lease, Pending, Revoke, RECEIPT_LIFETIME};
use crate::core::audit::time::rfc3339_micros;
use crate::core::prompt::{render, render_full, Keys};
use crate::core::sanitize::inert_cut;

/// One entry of the book, as the console lists it.
pub(in crate::cmd) enum Entry<'a> {
    Pending(&'a Pending),
    Lease(&'a Lease),
}

/// What the operator did to an entry.
pub(in crate::cmd) enum Act {
    Approve(String),
    Deny(String, Option<String>),
    Revoke(String),
}

/// The live book, as last read.
pub(in crate::cmd) struct BookPane {
    approvals: Result<Arc<Approvals>, String>,
    pending: Vec<Pending>,
    leases: Vec<Lease>,
    /// Why the book could not be read, shown in its place.
    error: Option<String>,
    /// The time the entries were read at.
    now: i64,
}

impl BookPane {
    pub(in crate::cmd) fn open() -> BookPane {
        let approvals = Approvals::open("console").map(Arc::new).map_err(|e| e.to_string());
        let mut pane = BookPane { approvals, pending: Vec::new(), leases: Vec::new(), error: None, now: 0 };
        pane.refresh();
        pane
    }

    /// Reads the book again (nothing is changed: lapses are recorded by whoever acts).
    pub(in crate::cmd) fn refresh(&mut self) {
        let approvals = match &self.approvals {
            Ok(a) => a.clone(),
            Err(e) => {
                self.error = Some(e.clone());
                return;
            }
        };
        self.now = approvals.now();
        match approvals.store.read() {
            Ok(book) => {
                let live = book.live(self.now);
                self.pending = live.pending.into_iter().cloned().collect();
                self.leases = live.leases.into_iter().cloned().collect();
                self.error = None;
            }
            Err(e) => {
                self.pending.clear();
                self.leases.clear();
                self.error = Some(e.to_string());
            }
        }
    }

    pub(in crate::cmd) fn len(&self) -> usize {
        self.pending.len() + self.leases.len()
    }

    /// Entry `i`: the pending approvals first, then the leases.
    pub(in crate::cmd) fn entry(&self, i: usize) -> Option<Entry<'_>> {
        match self.pending.get(i) {
            Some(p) => Some(Entry::Pending(p)),
            None => self.leases.get(i - self.pending.len()).map(Entry::Lease),
        }
    }

    /// The id of entry `i` (to keep the selection on it across a refresh).
    pub(in crate::cmd) fn id(&self, i: usize) -> Option<&str> {
        match self.entry(i)? {
            Entry::Pending(p) => Some(&p.id),
            Entry::Lease(l) => Some(&l.id),
        }
    }

    /// Where the entry with `id` is now.
    pub(in crate::cmd) fn position(&self, id: &str) -> Option<usize> {
        (0..self.len()).find(|i| self.id(*i) == Some(id))
    }

    /// The list's rows, numbered from `first`; `selected` is an index into the book.
    pub(in crate::cmd) fn rows(&self, first: usize, selected: Option<usize>) -> Vec<String> {
        let mark = |i: usize| if selected == Some(i) { ">" } else { " " };
        let mut rows = Vec::new();
        if let Some(e) = &self.error {
            rows.push(format!("  approval book: {}", inert_cut(e, 200)));
            return rows;
        }
        rows.push(format!("pending approvals: {}   leases: {}", self.pending.len(), self.leases.len()));
        for (i, p) in self.pending.iter().enumerate() {
            rows.push(format!(
                "{} {}. pending {}  {} / {}  lapses in {}",
                mark(i),
                first + i,
                p.id,
                cut(&p.label, 30),
                cut(&p.tool, 40),
                span(p.lapses - self.now)
            ));
        }
        for (j, l) in self.leases.iter().enumerate() {
            let i = self.pending.len() + j;
            rows.push(format!(
                "{} {}. lease {}  {} / {}  by {}  expires in {}",
                mark(i),
                first + i,
                l.id,
                cut(&l.label, 30),
                cut(&l.tool, 40),
                cut(&l.by, 40),
                span(l.expires - self.now)
            ));
        }
        rows
    }

    /// What the selected entry shows, and its keys line. `keys`: the selected pending
    /// approval's keys.
    pub(in crate::cmd) fn details(&self, i: usize, full: bool, keys: Option<&Keys>) -> (Vec<String>, String) {
        match self.entry(i) {
            Some(Entry::Pending(p)) => {
                let mut held = p.held.clone();
                held.digest = p.digest.clone();
                let mut lines = vec![format!(
                    "  pending approval {}: asked {} ago, lapses in {}; approving lets the next identical call run once",
                    p.id,
                    span(self.now - p.asked),
                    span(p.lapses - self.now)
                )];
                lines.extend(render(&held).into_iter().skip(1));
                if full {
                    lines.extend(render_full(&held));
                }
                // When it lapses is on the first line, as for `confirm = "key"`.
                let line = match keys {
                    Some(keys) => keys.line_ending(""),
                    None => Keys::new(&held).for_one_call().line_ending(""),
                };
                (lines, line)
            }
            Some(Entry::Lease(l)) => {
                let lines = vec![
                    format!("  lease {}: every call of this tool on this server runs without asking", l.id),
                    format!("  server    {}", cut(&l.label, 60)),
                    format!("  tool      {}", cut(&l.tool, 80)),
                    format!("  by        {}", cut(&l.by, 60)),
                    format!("  expires   {} (in {})", rfc3339_micros(l.expires), span(l.expires - self.now)),
                ];
                (lines, "  [r] revoke this lease".to_owned())
            }
            None => (Vec::new(), String::new()),
        }
    }

    /// Does what the operator asked, off the console's thread (the book's lock and the
    /// audit log's fsync block); returns the line to remember.
    pub(in crate::cmd) async fn act(&mut self, act: Act) -> String {
        let approvals = match &self.approvals {
            Ok(a) => a.clone(),
            Err(e) => return format!("approval book: {e}"),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new().name("approval".into()).spawn(move || {
            let _ = tx.send(run(&approvals, act));
        });
        let said = match spawned {
            Ok(_) => rx.await.unwrap_or_else(|_| "the change was not made".into()),
            Err(e) => format!("the change was not made: {e}"),
        };
        self.refresh();
        said
    }
}

fn run(approvals: &Approvals, act: Act) -> String {
    let by = approvals.by.clone();
    let done = match act {
        Act::Approve(id) => approvals.apply(|b, now| b.approve(&id, &by, now)).map(|r| {
            r.map(|r| {
                format!(
                    "approved {id} ({} / {} {}): the next identical call runs once if it comes within {}",
                    cut(&r.label, 30),
                    cut(&r.tool, 40),
                    short_digest(&r.digest),
                    span(RECEIPT_LIFETIME)
                )
            })
        }),
        Act::Deny(id, reason) => approvals
            .apply(|b, now| b.deny(&id, &by, reason.as_deref(), now).map(|c| ((), c)))
            .map(|r| r.map(|()| format!("denied {id}"))),
        Act::Revoke(id) => approvals
            .apply(|b, now| b.revoke(Revoke::One(id.clone()), &by, now).map(|c| ((), c)))
            .map(|r| r.map(|()| format!("revoked lease {id}"))),
    };
    match done {
        Ok(Ok(said)) => said,
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    }
}
