//! The user's approval book (PRODUCT.md section 6a) as one session uses it: receipts and
//! leases looked up before the operator is asked, calls nobody answered kept as pending
//! approvals, leases granted. One worker per session does the book's work in the order
//! the session asked for it, each step under the book's lock, off the runtime's threads
//! and with a time limit, so a stuck lock never holds a call for ever.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::core::approvals::{Change, NewPending};
use crate::core::session::{Consult, File, Grant, Lease, Ticket};
use crate::edge::approvals::{new_id_source, Store};
use crate::edge::clock::Clock;

/// How long one step may wait for the book's lock and disk.
const STEP: Duration = Duration::from_secs(5);

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
/// call looks for it. What is done goes back on `done`, into whatever the session's task
/// gathers its workers' answers in (`B`).
pub(super) async fn worker<B: From<Done> + Send + 'static>(
    book: Book,
    mut steps: mpsc::UnboundedReceiver<Step>,
    done: mpsc::UnboundedSender<B>,
) {
    while let Some(step) = steps.recv().await {
        let book = book.clone();
        let now = book.clock.now_micros();
        let blocking = tokio::task::spawn_blocking(move || book.step(step, now));
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

impl Book {
    fn step(&self, step: Step, now: i64) -> Vec<Done> {
        let store = match &self.store {
            Ok(store) => store,
            Err(why) => {
                return match step {
                    Step::Consult(ticket, _) => vec![Done::Consulted(ticket, None, None)],
                    Step::File(ticket, _) => vec![Done::Filed(ticket, Err(why.clone()))],
                    Step::GrantLease(_) => Vec::new(),
                };
            }
        };
        match step {
            Step::Consult(ticket, c) => {
                let take = |book: &mut crate::core::approvals::Book| {
                    let (grant, changes) = book.take(&self.label, &c.tool, &c.digest, &c.definition, c.leases, now);
                    let elsewhere = match grant {
                        None => book.bound_elsewhere(&self.label, &c.tool, &c.digest, &c.definition, now),
                        Some(_) => None,
                    };
                    (grant, elsewhere.map(|r| r.id.clone()), changes)
                };
                match store.update(now, take) {
                    Ok(((grant, elsewhere, mut changes), lapsed)) => {
                        changes.extend(lapsed);
                        let grant = grant.map(|g| match g {
                            crate::core::approvals::Grant::Receipt { id, by } => Grant::Receipt { id, by },
                            crate::core::approvals::Grant::Lease { id, .. } => Grant::Lease { id },
                        });
                        vec![Done::Changes(changes), Done::Consulted(ticket, grant, elsewhere)]
                    }
                    Err(e) => {
                        // Nothing is granted from a book that cannot be read; the operator is still asked.
                        tracing::error!("{e}");
                        vec![Done::Consulted(ticket, None, None)]
                    }
                }
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
                match store.update(now, |book| book.ask(new, new_id_source(), now)) {
                    Ok((Ok((id, _fresh, mut changes)), lapsed)) => {
                        changes.extend(lapsed);
                        vec![Done::Changes(changes), Done::Filed(ticket, Ok(id))]
                    }
                    Ok((Err(e), lapsed)) => vec![Done::Changes(lapsed), Done::Filed(ticket, Err(e.to_string()))],
                    Err(e) => vec![Done::Filed(ticket, Err(e.to_string()))],
                }
            }
            Step::GrantLease(lease) => {
                // The session named the lease; the book's own ids only if that one is taken.
                let mut ids = Some(lease.id).into_iter().chain(std::iter::repeat_with(new_id_source()));
                let grant = |book: &mut crate::core::approvals::Book| {
                    book.grant_lease(
                        || ids.next().unwrap_or_default(),
                        &self.label,
                        &lease.tool,
                        &lease.definition,
                        &lease.by,
                        &self.audit_dir,
                        now,
                    )
                };
                match store.update(now, grant) {
                    Ok(((_, mut changes), lapsed)) => {
                        changes.extend(lapsed);
                        vec![Done::Changes(changes)]
                    }
                    Err(e) => {
                        tracing::error!("cannot keep the lease: {e}");
                        Vec::new()
                    }
                }
            }
        }
    }
}
