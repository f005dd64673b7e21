//! Answers collected for 2025-03-26 batches (JSON-RPC 2.0 section 6): each element is
//! examined and forwarded on its own, and the answers go back as one array.

use std::collections::HashMap;

use bytes::Bytes;

/// Where an answer for the client goes: straight out, or into a batch being collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum To {
    Client,
    Batch(u64),
}

#[derive(Debug, Default)]
struct Batch {
    /// Requests of the batch still waiting for an answer.
    waiting: usize,
    answers: Vec<Bytes>,
    /// Every element has been examined.
    sealed: bool,
}

/// Open batches. A batch is open from its line until its last answer.
#[derive(Debug, Default)]
pub(super) struct Batches {
    open: HashMap<u64, Batch>,
    next: u64,
}

/// Most batches open at once; a client past it gets an error for the next batch.
pub(super) const MAX_OPEN: usize = 256;

impl Batches {
    /// Opens a batch; `None` when too many are open.
    pub(super) fn open(&mut self) -> Option<u64> {
        if self.open.len() >= MAX_OPEN {
            return None;
        }
        self.next += 1;
        self.open.insert(self.next, Batch::default());
        Some(self.next)
    }

    /// A request of the batch will be answered: the batch waits for it.
    pub(super) fn expect(&mut self, to: To) {
        if let To::Batch(n) = to {
            if let Some(b) = self.open.get_mut(&n) {
                b.waiting += 1;
            }
        }
    }

    /// Every element was examined; returns the array when nothing is left to wait for.
    pub(super) fn seal(&mut self, batch: u64) -> Option<Bytes> {
        self.open.get_mut(&batch)?.sealed = true;
        self.ready(batch)
    }

    /// Adds an answer (or `None`: a request that will get none, a withdrawn call);
    /// returns the array once every answer is in.
    pub(super) fn answer(&mut self, batch: u64, answer: Option<Bytes>) -> Option<Bytes> {
        let b = self.open.get_mut(&batch)?;
        b.waiting = b.waiting.saturating_sub(1);
        b.answers.extend(answer);
        self.ready(batch)
    }

    fn ready(&mut self, batch: u64) -> Option<Bytes> {
        let b = self.open.get(&batch)?;
        if !b.sealed || b.waiting > 0 {
            return None;
        }
        let b = self.open.remove(&batch)?;
        // A batch of notifications only gets no answer at all.
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
        Some(out.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_answers_wait_for_every_request() {
        let mut b = Batches::default();
        let n = b.open().unwrap();
        b.expect(To::Batch(n));
        b.expect(To::Batch(n));
        assert_eq!(b.answer(n, Some(Bytes::from_static(b"{\"id\":1}"))), None);
        assert_eq!(b.seal(n), None, "one answer is still missing");
        assert_eq!(b.answer(n, Some(Bytes::from_static(b"{\"id\":2}"))).unwrap(), &b"[{\"id\":1},{\"id\":2}]"[..]);
        let n = b.open().unwrap();
        assert_eq!(b.seal(n), None, "only notifications: no answer at all");
        assert!(b.open.is_empty());
    }

    #[test]
    fn open_batches_are_bounded() {
        let mut b = Batches::default();
        for _ in 0..MAX_OPEN {
            b.open().unwrap();
        }
        assert_eq!(b.open(), None);
    }
}
