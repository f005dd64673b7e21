//! The hand-off between the relay and the audit writer thread: a bounded queue that wakes
//! the writer only when it has to.
//!
//! Records that need no fsync of their own (lazy ones: most of a busy session's) wait up
//! to [`LAZY_BATCH`] for company and are then written together, one lock, read and write
//! for many. Adding one never wakes the writer while it is already gathering a batch: only
//! the first job of a batch, a job someone waits for (a write-ahead record, a close), or a
//! full batch does. So a relay passing thousands of calls a second costs the writer a few
//! wake-ups per batch, not one per record, and no polling.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Records that need no fsync wait this long for company.
const LAZY_BATCH: Duration = Duration::from_millis(5);
/// A batch is written once it holds this many jobs, without waiting longer.
pub(super) const BATCH: usize = 512;
/// Jobs queued at most; beyond, adding one waits for the writer (back-pressure).
const CAPACITY: usize = 1024;

/// Whether a job is waited for (its sender needs it on disk, or the writer to stop).
pub(super) trait Urgency {
    fn urgent(&self) -> bool;
}

pub(super) struct Queue<J> {
    /// How long lazy jobs wait for company ([`LAZY_BATCH`]).
    window: Duration,
    state: Mutex<State<J>>,
    /// The writer waits here.
    ready: Condvar,
    /// Senders wait here while the queue is full.
    room: Notify,
}

struct State<J> {
    jobs: VecDeque<J>,
    /// Urgent jobs among `jobs`.
    urgent: usize,
    writer: Waiting,
    /// Every sender is gone: the writer finishes what is queued and stops.
    senders_gone: bool,
    /// The writer is gone: nothing is taken any more.
    writer_gone: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// Busy writing: it looks at the queue again when done.
    No,
    /// The queue was empty: any job wakes it.
    ForAny,
    /// Gathering lazy jobs: only an urgent job or a full batch wakes it early.
    ForUrgent,
}

impl<J: Urgency> Queue<J> {
    pub(super) fn new() -> Queue<J> {
        Self::with_window(LAZY_BATCH)
    }

    fn with_window(window: Duration) -> Queue<J> {
        Queue {
            window,
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                urgent: 0,
                writer: Waiting::No,
                senders_gone: false,
                writer_gone: false,
            }),
            ready: Condvar::new(),
            room: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<J>> {
        // A panic while holding the lock cannot leave the state half changed (every
        // change is one field at a time), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds `job`, waiting while the queue is full. Gives it back when the writer is gone.
    pub(super) async fn push(&self, job: J) -> Result<(), J> {
        let mut job = Some(job);
        loop {
            // Made before the check: room is only ever announced with `notify_waiters`,
            // which a `Notified` receives from its creation on, so room made between the
            // check and the wait is not missed (and no waiter is registered, no lock
            // taken, on the usual path where there is room).
            let room = self.room.notified();
            {
                let mut state = self.lock();
                if state.writer_gone {
                    return Err(job.take().expect("not pushed yet"));
                }
                if state.jobs.len() < CAPACITY {
                    let job = job.take().expect("not pushed yet");
                    let urgent = job.urgent();
                    state.urgent += usize::from(urgent);
                    state.jobs.push_back(job);
                    let wake = match state.writer {
                        Waiting::No => false,
                        Waiting::ForAny => true,
                        Waiting::ForUrgent => urgent || state.jobs.len() >= BATCH,
                    };
                    if wake {
                        state.writer = Waiting::No;
                        self.ready.notify_one();
                    }
                    return Ok(());
                }
            }
            room.await;
        }
    }

    /// Every sender is gone.
    pub(super) fn close(&self) {
        let mut state = self.lock();
        state.senders_gone = true;
        state.writer = Waiting::No;
        self.ready.notify_one();
    }

    /// The next batch for the writer thread (blocking): up to [`BATCH`] jobs, in order.
    /// A batch without an urgent job is taken once it is full or the writer has waited
    /// [`LAZY_BATCH`] for more. With `idle`, an empty batch comes back once nothing came
    /// for that long. `None` once every sender is gone and nothing is left.
    pub(super) fn next_batch(&self, batch: &mut Vec<J>, idle: Option<Duration>) -> Option<()> {
        let mut state = self.lock();
        let idle_until = idle.map(|idle| Instant::now() + idle);
        while state.jobs.is_empty() {
            if state.senders_gone {
                return None;
            }
            state.writer = Waiting::ForAny;
            state = match idle_until.map(|until| until.saturating_duration_since(Instant::now())) {
                None => self.ready.wait(state).unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(left) if left.is_zero() => {
                    state.writer = Waiting::No;
                    return Some(());
                }
                Some(left) => self.ready.wait_timeout(state, left).unwrap_or_else(std::sync::PoisonError::into_inner).0,
            };
        }
        let until = Instant::now() + self.window;
        while state.urgent == 0 && state.jobs.len() < BATCH && !state.senders_gone {
            let Some(left) = until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                break;
            };
            state.writer = Waiting::ForUrgent;
            state = self.ready.wait_timeout(state, left).unwrap_or_else(std::sync::PoisonError::into_inner).0;
        }
        state.writer = Waiting::No;
        let take = state.jobs.len().min(BATCH);
        batch.extend(state.jobs.drain(..take));
        state.urgent -= batch.iter().filter(|j| j.urgent()).count();
        drop(state);
        self.room.notify_waiters();
        Some(())
    }

    /// The writer stopped: jobs still queued are dropped (whoever waits for one learns
    /// that it was not written), later ones are refused, and senders waiting for room
    /// learn it.
    pub(super) fn writer_gone(&self) {
        let left = {
            let mut state = self.lock();
            state.writer_gone = true;
            state.urgent = 0;
            std::mem::take(&mut state.jobs)
        };
        drop(left);
        self.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Debug, PartialEq)]
    struct Job(u32, bool);
    impl Urgency for Job {
        fn urgent(&self) -> bool {
            self.1
        }
    }

    /// A writer thread that reports each batch it takes.
    fn writer(queue: Arc<Queue<Job>>) -> (std::sync::mpsc::Receiver<Vec<u32>>, std::thread::JoinHandle<()>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut batch = Vec::new();
            while queue.next_batch(&mut batch, None).is_some() {
                let _ = tx.send(batch.drain(..).map(|j| j.0).collect());
            }
        });
        (rx, thread)
    }

    /// Long enough that a test fails rather than waits when the writer is not woken.
    const LONG: Duration = Duration::from_secs(30);
    const SOON: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn lazy_jobs_wait_for_company_and_an_urgent_one_takes_them_along_at_once() {
        let queue = Arc::new(Queue::with_window(LONG));
        let (batches, thread) = writer(queue.clone());
        for n in 0..10 {
            queue.push(Job(n, false)).await.unwrap();
        }
        assert!(batches.recv_timeout(Duration::from_millis(200)).is_err(), "lazy jobs alone wait");
        queue.push(Job(10, true)).await.unwrap();
        assert_eq!(batches.recv_timeout(SOON).unwrap(), (0..11).collect::<Vec<_>>(), "one batch, in order");
        queue.push(Job(11, false)).await.unwrap();
        queue.close();
        assert_eq!(batches.recv_timeout(SOON).unwrap(), [11], "closing takes what is left at once");
        thread.join().unwrap();
    }

    #[tokio::test]
    async fn a_full_batch_goes_at_once_and_a_full_queue_waits_for_room() {
        let queue = Arc::new(Queue::with_window(LONG));
        for n in 0..CAPACITY as u32 {
            queue.push(Job(n, false)).await.unwrap();
        }
        // Full: the next one waits until the writer takes a batch.
        let pushed = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.push(Job(CAPACITY as u32, false)).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!pushed.is_finished(), "a full queue makes the sender wait");
        let (batches, thread) = writer(queue.clone());
        assert_eq!(batches.recv_timeout(SOON).unwrap(), (0..BATCH as u32).collect::<Vec<_>>());
        assert!(pushed.await.unwrap());
        let second = batches.recv_timeout(SOON).unwrap();
        assert_eq!(second.len(), BATCH, "a full batch does not wait for the window");
        queue.close();
        assert_eq!(batches.recv_timeout(SOON).unwrap(), [CAPACITY as u32]);
        thread.join().unwrap();
    }

    #[test]
    fn an_idle_writer_gets_an_empty_batch_when_asked_for_one() {
        let queue: Queue<Job> = Queue::with_window(LONG);
        let mut batch = Vec::new();
        let waited = Instant::now();
        assert_eq!(queue.next_batch(&mut batch, Some(Duration::from_millis(50))), Some(()));
        assert!(batch.is_empty() && waited.elapsed() >= Duration::from_millis(50));
        queue.close();
        assert_eq!(queue.next_batch(&mut batch, Some(LONG)), None, "closed and empty: done");
    }

    #[tokio::test]
    async fn a_gone_writer_refuses_jobs_and_frees_waiting_senders() {
        let queue = Arc::new(Queue::new());
        for n in 0..CAPACITY as u32 {
            queue.push(Job(n, false)).await.unwrap();
        }
        let pushed = {
            let queue = queue.clone();
            tokio::spawn(async move { queue.push(Job(0, true)).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.writer_gone();
        assert_eq!(pushed.await.unwrap(), Err(Job(0, true)));
        assert_eq!(queue.push(Job(1, false)).await, Err(Job(1, false)));
    }
}
