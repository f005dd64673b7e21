//! The audit directory on disk: day files appended under an exclusive lock shared by every
//! countersign process of the user, a head anchor, fsync before a call that changes state
//! is forwarded, recovery after a failed write, seals of finished days (PRODUCT.md
//! section 7). This file is the handle and the writer thread's loop; the parts are:
//! `writer` (one append under the lock; the log's settings and its error), `anchor`
//! (head anchor and recovery), `files` (lock, day files), `seal` (minisign seals),
//! `fault` (the write-failure test hook).
//!
//! Written on plain files: `tracing-appender`'s rolling writer never fsyncs and its
//! non-blocking writer drops lines when its buffer is full, which suits diagnostics but not
//! a write-ahead record.

mod anchor;
mod fault;
mod files;
mod queue;
pub mod seal;
mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::core::audit::Event;
pub use anchor::{read_head, snapshot, HeadAnchor, Snapshot, HEAD_FILE};
pub use files::day_files;
pub(crate) use files::DirLock;
use queue::{Queue, Urgency};
pub use writer::{AuditError, AuditSettings};
use writer::{Flush, Writer};

/// The writer thread's name.
pub const AUDIT_THREAD: &str = "countersign-audit";

/// Records that need no fsync of their own are synced at least this often.
const LAZY_SYNC: Duration = Duration::from_secs(1);
/// While the log cannot be written, it is tried again this often with nothing new to write.
const RETRY_DOWN: Duration = Duration::from_secs(1);

enum Job {
    Append(Event, Option<oneshot::Sender<Result<(), AuditError>>>),
    /// Sync and stop, even while other handles still exist.
    Close(oneshot::Sender<()>),
}

impl Urgency for Job {
    fn urgent(&self) -> bool {
        !matches!(self, Job::Append(_, None))
    }
}

/// A handle on the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    tx: Arc<Sender>,
    health: Arc<Health>,
}

/// Whether the log can be written, as the writer last found: read on every client
/// message, so a flag first and the reason only when it is down.
#[derive(Default)]
struct Health {
    down: AtomicBool,
    why: Mutex<String>,
}

impl Health {
    fn set(&self, down: Option<&str>) {
        if let Some(why) = down {
            *self.why.lock().unwrap_or_else(PoisonError::into_inner) = why.to_owned();
        }
        self.down.store(down.is_some(), Ordering::Release);
    }
}

/// The senders' side of the queue: when the last handle goes, the writer finishes what
/// is queued, syncs and stops.
struct Sender(Arc<Queue<Job>>);

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl AuditLog {
    /// Starts the writer thread, once the directory is set up (or found unusable: then
    /// [`AuditLog::unavailable`] says why from the start).
    pub fn start(settings: AuditSettings) -> (AuditLog, std::thread::JoinHandle<()>) {
        let queue = Arc::new(Queue::new());
        let jobs = queue.clone();
        let health = Arc::new(Health::default());
        let writer = Writer::new(settings);
        health.set(writer.down());
        let told = health.clone();
        let thread = std::thread::Builder::new()
            .name(AUDIT_THREAD.into())
            .spawn(move || {
                writer_loop(&mut { writer }, &jobs, &told);
                jobs.writer_gone();
            })
            .expect("spawn the audit thread");
        (AuditLog { tx: Arc::new(Sender(queue)), health }, thread)
    }

    /// Why the log cannot be written, when the last attempt failed: a call that would
    /// need a human is then denied at once (`audit_unavailable`), since neither the
    /// human's decision nor the call could be recorded.
    pub fn unavailable(&self) -> Option<String> {
        if !self.health.down.load(Ordering::Acquire) {
            return None;
        }
        Some(self.health.why.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }

    /// Appends `event` soon (within about a second on disk). Waits only when the writer
    /// is far behind.
    pub async fn record(&self, event: Event) {
        let _ = self.tx.0.push(Job::Append(event, None)).await;
    }

    /// Appends `event` and returns once it is on disk (fsync).
    pub async fn record_durable(&self, event: Event) -> Result<(), AuditError> {
        let (ack, done) = oneshot::channel();
        let gone = || AuditError { dir: String::new(), why: "the audit writer stopped".into() };
        self.tx.0.push(Job::Append(event, Some(ack))).await.map_err(|_| gone())?;
        done.await.map_err(|_| gone())?
    }

    /// Writes and syncs everything sent so far, then stops the writer thread. Later
    /// records are refused (a durable one fails, so its call is denied).
    pub async fn close(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.0.push(Job::Close(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

fn writer_loop(writer: &mut Writer, queue: &Queue<Job>, health: &Health) {
    // Since when something written is not synced (lazy records, or the anchor after a
    // batch synced for its records only): synced within LAZY_SYNC, by the next batch or
    // by waking up for it.
    let mut unsynced: Option<Instant> = None;
    let mut jobs = Vec::with_capacity(queue::BATCH);
    let mut events = Vec::with_capacity(queue::BATCH);
    // While the log is down, the writer tries it again every so often by itself (writing
    // the `recovered` record it owes), so that calls which need it are open again as soon
    // as it can be written, not only after some record happened to be tried.
    loop {
        let due = unsynced.map(|since| LAZY_SYNC.saturating_sub(since.elapsed()));
        let idle = writer.down().map(|_| RETRY_DOWN).into_iter().chain(due).min();
        if queue.next_batch(&mut jobs, idle).is_none() {
            break;
        }
        let mut acks = Vec::new();
        let mut closed = None;
        for job in jobs.drain(..) {
            match job {
                Job::Append(event, ack) => {
                    events.push(event);
                    acks.extend(ack);
                }
                // Jobs after a close are dropped with the queue: their senders learn
                // that they were not written.
                Job::Close(ack) => {
                    closed = Some(ack);
                    break;
                }
            }
        }
        let sync = if closed.is_some() || unsynced.is_some_and(|since| since.elapsed() >= LAZY_SYNC) {
            Flush::All
        } else if !acks.is_empty() {
            // Every record someone waits for in this batch shares one fdatasync.
            Flush::Records
        } else {
            Flush::Lazy
        };
        if events.is_empty() && sync != Flush::All && writer.down().is_none() {
            continue;
        }
        let result = writer.append(&events, sync);
        events.clear();
        match &result {
            Ok(()) if sync == Flush::All => unsynced = None,
            Ok(()) => {
                unsynced.get_or_insert_with(Instant::now);
            }
            Err(e) => writer.warn_once(e),
        }
        health.set(writer.down());
        for ack in acks {
            let _ = ack.send(result.clone());
        }
        if let Some(ack) = closed {
            let _ = ack.send(());
            return;
        }
    }
    if unsynced.is_some() {
        let _ = writer.append(&[], Flush::All);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::Origin;
    use crate::edge::clock::Clock;

    fn writer(dir: &std::path::Path) -> Writer {
        let origin = Origin { session: "s".into(), server: "t".into() };
        Writer::new(AuditSettings { dir: dir.to_owned(), origin, clock: Clock::from_env(), retention_days: None })
    }

    /// Queues `n` records that are waited for, and runs the writer until it has written
    /// them all and stopped: returns its day file syncs and whether every record was acked.
    fn write_waited(dir: &std::path::Path, n: usize) -> (u64, bool) {
        let queue = Queue::new();
        let mut acks = Vec::new();
        for i in 0..n {
            let (ack, done) = oneshot::channel();
            let job = Job::Append(Event::new("decision", serde_json::json!({ "n": i })), Some(ack));
            assert!(block_on(queue.push(job)).is_ok());
            acks.push(done);
        }
        queue.close();
        let mut writer = writer(dir);
        writer_loop(&mut writer, &queue, &Health::default());
        let acked = acks.into_iter().all(|mut done| matches!(done.try_recv(), Ok(Ok(()))));
        (writer.day_syncs(), acked)
    }

    /// Polls a future that never waits here (the queue has room) to its end.
    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().expect("runtime").block_on(f)
    }

    #[test]
    fn lazy_records_are_synced_when_the_log_closes() {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("audit");
        let queue = Queue::new();
        for i in 0..3 {
            let job = Job::Append(Event::new("result", serde_json::json!({ "n": i })), None);
            assert!(block_on(queue.push(job)).is_ok());
        }
        queue.close();
        let mut writer = writer(&audit);
        writer_loop(&mut writer, &queue, &Health::default());
        assert_eq!(writer.day_syncs(), 1, "written lazily, then synced once at the end");
    }

    #[test]
    fn lazy_records_are_synced_within_a_second_while_idle() {
        let dir = tempfile::tempdir().unwrap();
        let queue = Queue::new();
        let lazy = |n: i32| Job::Append(Event::new("result", serde_json::json!({ "n": n })), None);
        let mut writer = writer(&dir.path().join("audit"));
        std::thread::scope(|scope| {
            scope.spawn(|| writer_loop(&mut writer, &queue, &Health::default()));
            for n in 0..3 {
                assert!(block_on(queue.push(lazy(n))).is_ok());
            }
            // Nothing more comes for longer than LAZY_SYNC: the writer syncs by itself.
            std::thread::sleep(LAZY_SYNC + Duration::from_secs(1));
            assert!(block_on(queue.push(lazy(3))).is_ok());
            queue.close();
        });
        assert_eq!(writer.day_syncs(), 2, "one sync while idle, one for the last record at the end");
    }

    #[test]
    fn records_waited_for_together_share_one_fdatasync() {
        let dir = tempfile::tempdir().unwrap();
        let audit = dir.path().join("audit");
        assert_eq!(write_waited(&audit, 8), (1, true), "eight write-ahead records, one sync of the day file");
        assert_eq!(write_waited(&audit, 1), (1, true), "a lone one has its own");
        let day = day_files(&audit).unwrap();
        let text = std::fs::read_to_string(audit.join(&day[0])).unwrap();
        assert_eq!(text.lines().count(), 9, "every record is in the file");
    }
}
