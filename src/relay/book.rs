//! The user's approval book (PRODUCT.md section 6a) as one session uses it: receipts and
//! leases looked up before the operator is asked, calls nobody answered kept as pending
//! approvals, leases granted. One worker per session does the book's work in the order
//! the session asked for it, each step under the book's lock, off the runtime's threads
//! and with a time limit, so a stuck lock never holds a call for ever.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::core::approvals::{self, Change, NewPending};
use crate::core::session::{Consult, File, Grant, Lease, Ticket};
use crate::edge::approvals::{new_id_source, Store};
use crate::edge::clock::Clock;

/// How long one step may wait for the book's lock and disk.
const STEP: Duration = Duration::from_secs(5);

/// The most steps done in one update of the book.
const BATCH: usize = 256;

/// Where this session's approvals go.
#[derive(Clone)]
pub struct Book {
    /// The store, or why there is none (its file or directory is not usable).
    pub store: Result<Store, String>,
    pub label: String,
    /// The audit directory of this session: records about its approvals go there.
    pub audit_dir: String,
    pub session: String,
    pub clock: Clock,
}

/// What the session asked of the book.
pub(super) enum Step {
    Consult(Ticket, Consult),
    File(Ticket, Box<File>),
    GrantLease(Lease),
}

/// What came back, with the changes to record.
pub(super) enum Done {
    /// What allowed the call, and a receipt for it bound to another definition.
    Consulted(Ticket, Option<Grant>, Option<String>),
    Filed(Ticket, Result<String, String>),
    Changes(Vec<Change>),
}

/// Does the steps one after another, so a lease granted is in the book before the next
/// call looks for it. The steps waiting when the worker is free are done together, under
/// one lock and one read (and one write) of the book: calls that arrive at once wait for
/// one round of the book, not one each. What is done goes back on `done`, into whatever
/// the session's task gathers its workers' answers in (`B`).
pub(super) async fn worker<B: From<Done> + Send + 'static>(
    book: Book,
    mut steps: mpsc::UnboundedReceiver<Step>,
    done: mpsc::UnboundedSender<B>,
) {
    let mut batch = Vec::new();
    while steps.recv_many(&mut batch, BATCH).await > 0 {
        let book = book.clone();
        let now = book.clock.now_micros();
        let todo = std::mem::take(&mut batch);
        let blocking = tokio::task::spawn_blocking(move || book.steps(todo, now));
        let answers = match tokio::time::timeout(STEP, blocking).await {
            Ok(Ok(answers)) => answers,
            Ok(Err(e)) => {
                tracing::error!("the approval book failed: {e}");
                continue;
            }
            Err(_) => {
                tracing::error!("the approval book stayed locked for {} s; going on without it", STEP.as_secs());
                continue;
            }
        };
        for answer in answers {
            let _ = done.send(B::from(answer));
        }
    }
}

/// Which step it was, for its answer when the book cannot be used.
#[derive(Clone, Copy)]
enum Kind {
    Consult(Ticket),
    File(Ticket),
    GrantLease,
}

impl Step {
    fn kind(&self) -> Kind {
        match self {
            Step::Consult(ticket, _) => Kind::Consult(*ticket),
            Step::File(ticket, _) => Kind::File(*ticket),
            Step::GrantLease(_) => Kind::GrantLease,
        }
    }
}

/// A step's answer when the book cannot be used: nothing is granted from a book that
/// cannot be read (the operator is still asked), and nothing is filed in it.
fn unusable(kind: Kind, why: &str) -> Option<Done> {
    match kind {
        Kind::Consult(ticket) => Some(Done::Consulted(ticket, None, None)),
        Kind::File(ticket) => Some(Done::Filed(ticket, Err(why.to_owned()))),
        Kind::GrantLease => None,
    }
}

impl Book {
    /// Does `steps` in order in one update of the book: each step's changes to record,
    /// then its answer (the changes of pruning go with the first step's).
    fn steps(&self, steps: Vec<Step>, now: i64) -> Vec<Done> {
        let kinds: Vec<Kind> = steps.iter().map(Step::kind).collect();
        let why = match &self.store {
            Ok(store) => match store.update(now, |book| steps.into_iter().map(|s| self.step(book, s, now)).collect()) {
                Ok((done, lapsed)) => return in_order(done, lapsed),
                Err(e) => {
                    tracing::error!("{e}");
                    e.to_string()
                }
            },
            Err(why) => why.clone(),
        };
        kinds.into_iter().filter_map(|kind| unusable(kind, &why)).collect()
    }

    /// One step on the book: the changes to record and the answer.
    fn step(&self, book: &mut approvals::Book, step: Step, now: i64) -> (Vec<Change>, Option<Done>) {
        match step {
            Step::Consult(ticket, c) => {
                let (grant, changes) = book.take(&self.label, &c.tool, &c.digest, &c.definition, c.leases, now);
                let elsewhere = match grant {
                    None => book.bound_elsewhere(&self.label, &c.tool, &c.digest, &c.definition, now),
                    Some(_) => None,
                };
                let elsewhere = elsewhere.map(|r| r.id.clone());
                let grant = grant.map(|g| match g {
                    approvals::Grant::Receipt { id, by } => Grant::Receipt { id, by },
                    approvals::Grant::Lease { id, .. } => Grant::Lease { id },
                });
                (changes, Some(Done::Consulted(ticket, grant, elsewhere)))
            }
            Step::File(ticket, f) => {
                let new = NewPending {
                    label: self.label.clone(),
                    tool: f.tool,
                    digest: f.digest,
                    definition: f.definition,
                    held: f.held,
                    audit_dir: self.audit_dir.clone(),
                    session: self.session.clone(),
                    request_id: f.request_id,
                };
                match book.ask(new, new_id_source(), now) {
                    Ok((id, _fresh, changes)) => (changes, Some(Done::Filed(ticket, Ok(id)))),
                    Err(e) => (Vec::new(), Some(Done::Filed(ticket, Err(e.to_string())))),
                }
            }
            Step::GrantLease(lease) => {
                // The session named the lease; the book's own ids only if that one is taken.
                let mut ids = Some(lease.id).into_iter().chain(std::iter::repeat_with(new_id_source()));
                let (_, changes) = book.grant_lease(
                    || ids.next().unwrap_or_default(),
                    &self.label,
                    &lease.tool,
                    &lease.definition,
                    &lease.by,
                    &self.audit_dir,
                    now,
                );
                (changes, None)
            }
        }
    }
}

/// The answers of a batch: each step's changes (when it made any), then its answer; the
/// changes of pruning the book go with the first step's.
fn in_order(done: Vec<(Vec<Change>, Option<Done>)>, lapsed: Vec<Change>) -> Vec<Done> {
    let mut lapsed = Some(lapsed);
    let mut answers = Vec::with_capacity(2 * done.len());
    for (mut changes, answer) in done {
        changes.extend(lapsed.take().into_iter().flatten());
        // Nothing to record is not sent: each answer wakes the session's task.
        if !changes.is_empty() {
            answers.push(Done::Changes(changes));
        }
        answers.extend(answer);
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consult(tool: &str) -> Consult {
        Consult { tool: tool.into(), digest: "sha256:d".into(), definition: Some("sha256:def".into()), leases: true }
    }

    #[tokio::test]
    async fn steps_done_together_keep_their_order_and_see_each_others_changes() {
        let dir = tempfile::tempdir().unwrap();
        let book = Book {
            store: Ok(Store::in_dir(dir.path())),
            label: "bank".into(),
            audit_dir: "/audit".into(),
            session: "s".into(),
            clock: Clock::from_env(),
        };
        let (steps, queue) = mpsc::unbounded_channel();
        // Queued before the worker runs: one batch. The lease granted first allows the
        // calls after it; the call before it is not allowed by it.
        steps.send(Step::Consult(1, consult("refund"))).unwrap();
        let lease = Lease {
            id: "lease1".into(),
            tool: "refund".into(),
            definition: Some("sha256:def".into()),
            by: "op".into(),
        };
        steps.send(Step::GrantLease(lease)).unwrap();
        for ticket in 2..10 {
            steps.send(Step::Consult(ticket, consult("refund"))).unwrap();
        }
        drop(steps);
        let (done, mut answers) = mpsc::unbounded_channel::<Done>();
        worker(book, queue, done).await;
        let mut consulted = Vec::new();
        while let Ok(answer) = answers.try_recv() {
            if let Done::Consulted(ticket, grant, _) = answer {
                consulted.push((ticket, grant));
            }
        }
        let lease = Some(Grant::Lease { id: "lease1".into() });
        let want: Vec<_> = [(1, None)].into_iter().chain((2..10).map(|t| (t, lease.clone()))).collect();
        assert_eq!(consulted, want);
    }
}
