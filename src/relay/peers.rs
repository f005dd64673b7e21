//! The two peers' byte streams: what the session's task reads from each peer, and one
//! writer per peer.
//!
//! The session's task reads both peers itself ([`Reader`]): a line is examined (off the
//! task when it is large) and handed to the session where it was read, with no task or
//! channel in between. A reader is read only while the lines it handed over that sit in
//! a writer's queue come to at most [`PACE_ALLOWANCE`] bytes. So each direction holds
//! about one message (or a few small ones) at a time, a slow reader on the far side
//! stops us reading (back-pressure), and a giant message never sits in several queues at
//! once. The session never waits on a writer: it writes a line at once when the peer
//! takes it whole, else queues it for the peer's writer task ([`PeerWriter`]); the
//! readers' pacing bounds the queues.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::core::session::{inbound, outbound};
use crate::edge::lines::{Line, LineReader};

/// How many bytes of the lines a reader handed over may wait in the writers' queues
/// before it stops reading. Small messages then flow without waiting for each one; a
/// large one is read only once what came before it is out, and the next only once it is
/// out itself.
const PACE_ALLOWANCE: usize = 256 << 10;

/// One reader's count of bytes handed over and waiting in a writer's queue.
#[derive(Default)]
pub(super) struct Pacer {
    outstanding: AtomicUsize,
    below: Notify,
}

/// A queued line's share of its reader's count: when it is dropped (the line was
/// written, or will never be), its bytes no longer count against the allowance.
struct Paced {
    pacer: Arc<Pacer>,
    len: usize,
}

impl Pacer {
    fn hand_over(self: &Arc<Self>, len: usize) -> Paced {
        self.outstanding.fetch_add(len, Ordering::AcqRel);
        Paced { pacer: self.clone(), len }
    }

    /// Waits until the lines handed over and still queued fit the allowance.
    async fn wait_room(&self) {
        loop {
            // Made before the check: a `notify_one` between the two is kept as a permit.
            let below = self.below.notified();
            if self.outstanding.load(Ordering::Acquire) <= PACE_ALLOWANCE {
                return;
            }
            below.await;
        }
    }
}

impl Drop for Paced {
    fn drop(&mut self) {
        let before = self.pacer.outstanding.fetch_sub(self.len, Ordering::AcqRel);
        if before > PACE_ALLOWANCE && before - self.len <= PACE_ALLOWANCE {
            self.pacer.below.notify_one();
        }
    }
}

/// Lines at least this long are examined on a blocking thread, so that the session's
/// task keeps serving the other direction meanwhile.
const EXAMINE_APART: usize = 1 << 20;

/// How one peer's lines are examined.
pub(super) struct Examine<T> {
    peer: &'static str,
    read: fn(Vec<u8>) -> T,
    /// A line over the limit: its length and first bytes.
    too_long: fn(usize, &[u8]) -> T,
}

/// The client's lines: requests and notifications for the gate.
pub(super) const CLIENT: Examine<inbound::ClientLine> =
    Examine { peer: "the client", read: inbound::read, too_long: |len, _| inbound::ClientLine::TooLong(len) };

/// The server's lines: answers for the session, requests and notifications for the client.
pub(super) const SERVER: Examine<outbound::ServerLine> = Examine {
    peer: "the server",
    read: read_server_line,
    too_long: |len, head| outbound::ServerLine::TooLong { len, id: outbound::sniff_id(head) },
};

fn read_server_line(bytes: Vec<u8>) -> outbound::ServerLine {
    let line = outbound::read(Bytes::from(bytes));
    if let outbound::ServerLine::Dropped { why, bytes, .. } = &line {
        let shown = crate::core::audit::redact::redact_excerpt(&bytes[..bytes.len().min(300)]);
        tracing::warn!("dropped a line from the server, {why}: {}", shown.escape_debug());
    }
    line
}

/// One peer's reading end, read by the session's task. [`Reader::next`] is cancel-safe:
/// a line partly read, or being examined, is kept here until a later call returns it.
pub(super) struct Reader<R, T> {
    lines: LineReader<R>,
    examine: Examine<T>,
    pacer: Arc<Pacer>,
    /// A large line being examined on a blocking thread, and its length: nothing more is
    /// read from this peer until it is done.
    examining: Option<(JoinHandle<T>, usize)>,
}

impl<R: AsyncRead + Unpin, T: Send + 'static> Reader<R, T> {
    pub(super) fn new(input: R, examine: Examine<T>) -> Self {
        Reader { lines: LineReader::new(input), examine, pacer: Arc::default(), examining: None }
    }

    /// The pacing of this reader's lines, for the writers that queue them.
    pub(super) fn pacer(&self) -> &Arc<Pacer> {
        &self.pacer
    }

    /// The next line, examined; `None` once the peer closed its end (or reading failed).
    pub(super) async fn next(&mut self) -> Option<T> {
        loop {
            if let Some((task, len)) = &mut self.examining {
                let line = task.await.unwrap_or_else(|_| {
                    // Gone only when the runtime shuts down: the line is lost, as too long.
                    tracing::error!("a line of {len} bytes from {} was lost: shutting down", self.examine.peer);
                    (self.examine.too_long)(*len, &[])
                });
                self.examining = None;
                return Some(line);
            }
            self.pacer.wait_room().await;
            match self.lines.next().await {
                Ok(Line::Message(line)) if line.len() < EXAMINE_APART => return Some((self.examine.read)(line)),
                Ok(Line::Message(line)) => {
                    let (read, len) = (self.examine.read, line.len());
                    self.examining = Some((tokio::task::spawn_blocking(move || read(line)), len));
                }
                Ok(Line::TooLong { len, head }) => {
                    tracing::error!(
                        "dropped a message of {len} bytes from {}: larger than the limit",
                        self.examine.peer
                    );
                    return Some((self.examine.too_long)(len, &head));
                }
                Ok(Line::Eof) => return None,
                Err(e) => {
                    tracing::error!("reading from {}: {e}", self.examine.peer);
                    return None;
                }
            }
        }
    }
}

/// One peer's writing end, shared by the session's task and the peer's writer task.
///
/// While nothing is queued, the session's task writes a line at once, without waiting
/// (a pipe with room takes a small line whole in one `writev`): no hand-off to another
/// task, no copy. Whatever does not fit at once is queued, and the writer task, the only
/// one that ever waits on the peer, finishes it before anything after it. So a line is
/// still written whole or not at all, in order: once part of a line is out, the rest
/// follows before any other byte. Dropping the handle closes the queue; the writer task
/// writes what is queued, then shuts the stream (the peer sees end of file).
pub(super) struct PeerWriter {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Something was queued, or the handle was dropped.
    work: Notify,
}

struct State {
    out: Pin<Box<dyn AsyncWrite + Send>>,
    /// Lines not yet written whole, oldest first, with the pacing of their readers.
    queue: VecDeque<(Bytes, Option<Paced>)>,
    /// Bytes of the front line (its newline counted as one more) already written.
    done: usize,
    /// Written but perhaps not flushed.
    unflushed: bool,
    /// The peer closed its end: lines are dropped.
    broken: bool,
    /// The handle was dropped: shut down once the queue is empty.
    closing: bool,
    /// Scratch for a small line and its newline, for a stream without `writev`.
    scratch: Vec<u8>,
    peer: &'static str,
}

/// Lines shorter than this are copied with their newline into one write when the
/// stream has no `writev`; longer ones are written, then their newline.
const JOIN_BELOW: usize = 64 << 10;

impl PeerWriter {
    /// Starts the writer task of one peer.
    pub(super) fn start(
        output: impl AsyncWrite + Send + 'static,
        peer: &'static str,
    ) -> (PeerWriter, tokio::task::JoinHandle<()>) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                out: Box::pin(output),
                queue: VecDeque::new(),
                done: 0,
                unflushed: false,
                broken: false,
                closing: false,
                scratch: Vec::new(),
                peer,
            }),
            work: Notify::new(),
        });
        let task = tokio::spawn(write_queued(shared.clone()));
        (PeerWriter { shared }, task)
    }

    /// Writes `line` and a newline: at once when nothing is queued and the peer takes
    /// it, else after what is queued. Never waits. A queued line counts against the
    /// allowance of the reader it came from (`pacer`) until it is written (or will never
    /// be).
    pub(super) fn send(&self, line: Bytes, pacer: Option<&Arc<Pacer>>) {
        let mut state = self.shared.lock();
        if state.broken {
            return;
        }
        // Only while the writer task waits on nothing but its queue: it has no waker
        // registered with the stream that the one below could replace.
        if state.queue.is_empty() && !state.unflushed {
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            // A `Pending` here leaves a waker that wakes nobody: the writer task is
            // told below and polls again with its own.
            match state.write_line(&line, 0, &mut cx) {
                Poll::Ready(Ok(())) => {
                    state.unflushed = true;
                    if state.out.as_mut().poll_flush(&mut cx).is_ready() {
                        state.unflushed = false;
                        return;
                    }
                    drop(state);
                    self.shared.work.notify_one();
                    return;
                }
                Poll::Ready(Err(e)) => {
                    state.broke(&e);
                    return;
                }
                Poll::Pending => {}
            }
        }
        let paced = pacer.map(|p| p.hand_over(line.len()));
        state.queue.push_back((line, paced));
        drop(state);
        self.shared.work.notify_one();
    }
}

impl Drop for PeerWriter {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.work.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl State {
    /// Writes what is left of `line` and its newline from `self.done` on; `Ready(Ok)`
    /// once all of it is out (and `done` is back to 0).
    fn write_line(&mut self, line: &[u8], from: usize, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.done = from;
        let total = line.len() + 1;
        while self.done < total {
            let rest = &line[self.done.min(line.len())..];
            let wrote = if rest.is_empty() {
                self.out.as_mut().poll_write(cx, b"\n")
            } else if self.out.is_write_vectored() {
                let parts = [IoSlice::new(rest), IoSlice::new(b"\n")];
                self.out.as_mut().poll_write_vectored(cx, &parts)
            } else if rest.len() < JOIN_BELOW {
                self.scratch.clear();
                self.scratch.extend_from_slice(rest);
                self.scratch.push(b'\n');
                let State { out, scratch, .. } = self;
                out.as_mut().poll_write(cx, scratch)
            } else {
                self.out.as_mut().poll_write(cx, rest)
            };
            match wrote {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.done += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.done = 0;
        Poll::Ready(Ok(()))
    }

    fn broke(&mut self, e: &std::io::Error) {
        tracing::debug!("{} closed its end: {e}", self.peer);
        self.broken = true;
        self.queue.clear();
        self.done = 0;
    }

    /// Writes what is queued, flushes, and shuts the stream once closing. `Ready(true)`
    /// when the task is done, `Ready(false)` when there is nothing to do for now.
    fn poll_work(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        while let Some((line, _)) = self.queue.front() {
            let line = line.clone();
            match self.write_line(&line, self.done, cx) {
                Poll::Ready(Ok(())) => {
                    self.unflushed = true;
                    self.queue.pop_front();
                }
                Poll::Ready(Err(e)) => self.broke(&e),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.unflushed && !self.broken {
            match self.out.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(e)) => self.broke(&e),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.closing {
            if !self.broken {
                let _ = std::task::ready!(self.out.as_mut().poll_shutdown(cx));
            }
            return Poll::Ready(true);
        }
        Poll::Ready(false)
    }
}

/// The writer task: finishes what the session's task could not write at once. It is
/// never cancelled mid-line; it ends when the handle is dropped and the queue is empty.
async fn write_queued(shared: Arc<Shared>) {
    loop {
        let notified = shared.work.notified();
        let finished = std::future::poll_fn(|cx| shared.lock().poll_work(cx)).await;
        if finished {
            return;
        }
        notified.await;
    }
}
