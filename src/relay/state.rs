//! What the relay remembers between messages. Lives behind one mutex that is never held
//! across an await.

use std::collections::HashMap;
use std::time::Instant;

use tokio::sync::oneshot;

use crate::core::classify::{Class, Registry};
use crate::core::gate::By;
use crate::core::protocol::{Id, Revision};

/// Where an answer for the client goes: straight out, or into a batch being collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    Client,
    Batch(u64),
}

/// A client request the server has not answered yet.
#[derive(Debug)]
pub struct Pending {
    pub what: PendingKind,
    pub to: To,
}

#[derive(Debug)]
pub enum PendingKind {
    Call { tool: String, digest: String, class: Class, started: Instant },
    ListTools { first_page: bool },
    Initialize,
    Other,
}

/// Answers collected for one 2025-03-26 batch.
#[derive(Debug, Default)]
pub struct Batch {
    /// Requests of the batch still waiting for an answer.
    pub waiting: usize,
    pub answers: Vec<Vec<u8>>,
    /// All elements have been examined.
    pub sealed: bool,
}

#[derive(Debug, Default)]
pub struct Counts {
    pub allowed: u64,
    pub denied: u64,
    pub rejected: u64,
}

#[derive(Debug, Default)]
pub struct State {
    /// The revision in use: from `initialize` (the server's answer wins) or from a
    /// request's `_meta`.
    pub revision: Option<Revision>,
    pub client_name: Option<String>,
    /// The `io.modelcontextprotocol/*` members of the latest 2026-07-28 request's `_meta`
    /// (revision, client info, capabilities): countersign's own requests carry the same.
    pub envelope: Vec<(String, crate::core::json::Value<'static>)>,
    /// The legacy handshake finished (`notifications/initialized` seen).
    pub initialized: bool,
    pub registry: Registry,
    pub inflight: HashMap<Id, Pending>,
    /// Requests countersign itself sent to the server, by id.
    pub internal: HashMap<Id, oneshot::Sender<Vec<u8>>>,
    /// Calls held for a decision. Dropping the sender withdraws the call (the client
    /// cancelled it); sending says the session is over and the call needs an error answer.
    pub held: HashMap<Id, oneshot::Sender<()>>,
    /// Tasks deciding a held call that have not finished yet.
    pub held_tasks: usize,
    pub batches: HashMap<u64, Batch>,
    pub next_batch: u64,
    pub next_internal: u64,
    pub counts: Counts,
    /// (server, tool) -> (lease id, expiry).
    pub leases: HashMap<(String, String), (String, Instant)>,
    /// Digests the operator approved, with who and when (for 2026-07-28 retries).
    pub approvals: HashMap<String, (By, Instant)>,
    /// Failed tasks countersign answered denied task-augmented calls with.
    pub denied_tasks: HashMap<String, crate::core::task::DeniedTask>,
}

impl State {
    pub fn lease_for(&mut self, server: &str, tool: &str) -> Option<String> {
        let key = (server.to_owned(), tool.to_owned());
        match self.leases.get(&key) {
            Some((id, until)) if Instant::now() < *until => Some(id.clone()),
            Some(_) => {
                self.leases.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn grant_lease(&mut self, server: &str, tool: &str, id: &str, length: std::time::Duration) {
        self.leases.insert((server.to_owned(), tool.to_owned()), (id.to_owned(), Instant::now() + length));
    }

    pub fn remember_approval(&mut self, digest: &str, by: By) {
        self.approvals.retain(|_, (_, at)| at.elapsed() < std::time::Duration::from_secs(3600));
        self.approvals.insert(digest.to_owned(), (by, Instant::now()));
    }

    pub fn approved_recently(&self, digest: &str, within: std::time::Duration) -> Option<By> {
        self.approvals.get(digest).filter(|(_, at)| at.elapsed() < within).map(|(by, _)| by.clone())
    }

    /// Is `id` taken by a request in flight, held, or sent by countersign itself?
    pub fn id_in_use(&self, id: &Id) -> bool {
        self.inflight.contains_key(id) || self.held.contains_key(id) || self.internal.contains_key(id)
    }

    /// Adds an answer to a batch; returns the batch's array once every answer is in.
    pub fn batch_answer(&mut self, batch: u64, answer: Option<Vec<u8>>) -> Option<Vec<u8>> {
        let b = self.batches.get_mut(&batch)?;
        b.waiting = b.waiting.saturating_sub(1);
        b.answers.extend(answer);
        self.batch_ready(batch)
    }

    /// The batch's answer array when it is complete (`None` while waiting, or when the
    /// batch held only notifications and so gets no answer).
    pub fn batch_ready(&mut self, batch: u64) -> Option<Vec<u8>> {
        let b = self.batches.get(&batch)?;
        if !b.sealed || b.waiting > 0 {
            return None;
        }
        let b = self.batches.remove(&batch)?;
        if b.answers.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(b.answers.iter().map(|a| a.len() + 1).sum::<usize>() + 1);
        out.push(b'[');
        for (i, answer) in b.answers.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(answer);
        }
        out.push(b']');
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_answers_wait_for_every_request() {
        let mut s = State::default();
        s.batches.insert(1, Batch { waiting: 2, answers: vec![], sealed: false });
        assert_eq!(s.batch_answer(1, Some(b"{\"id\":1}".to_vec())), None);
        s.batches.get_mut(&1).unwrap().sealed = true;
        assert_eq!(s.batch_ready(1), None);
        assert_eq!(s.batch_answer(1, Some(b"{\"id\":2}".to_vec())), Some(b"[{\"id\":1},{\"id\":2}]".to_vec()));
        assert!(s.batches.is_empty());
        s.batches.insert(2, Batch { waiting: 0, answers: vec![], sealed: true });
        assert_eq!(s.batch_ready(2), None, "only notifications: no answer at all");
        assert!(s.batches.is_empty());
    }
}
