//! The audit directory on disk: day files appended under an exclusive lock shared by every
//! countersign process of the user, a head anchor, fsync before a call that changes state
//! is forwarded, recovery after a failed write, seals of finished days (PRODUCT.md
//! section 7). This file is the handle and the writer thread's loop; the parts are:
//! `writer` (one append under the lock), `anchor` (head anchor and recovery), `files`
//! (lock, day files), `seal` (minisign seals), `fault` (the write-failure test hook).
//!
//! Written on plain files: `tracing-appender`'s rolling writer never fsyncs and its
//! non-blocking writer drops lines when its buffer is full, which suits diagnostics but not
//! a write-ahead record.

mod anchor;
mod fault;
mod files;
pub mod seal;
mod writer;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::clock::Clock;
use crate::core::audit::{Event, Origin};
pub use anchor::{read_head, HeadAnchor, HEAD_FILE};
pub use files::day_files;
pub(crate) use files::DirLock;
use writer::Writer;
/// Records that need no fsync of their own are synced at least this often.
const LAZY_SYNC: Duration = Duration::from_secs(1);
/// Records that need no fsync wait this long for company, so that a busy relay writes
/// many lines per lock, read and write.
const LAZY_BATCH: Duration = Duration::from_millis(5);
/// How often that wait looks for a job.
const LAZY_LOOK: Duration = Duration::from_micros(500);

#[derive(Debug, Clone, thiserror::Error)]
#[error("audit log {dir}: {why}")]
pub struct AuditError {
    pub dir: String,
    pub why: String,
}

enum Job {
    Append(Event, Option<oneshot::Sender<Result<(), AuditError>>>),
    Flush(oneshot::Sender<()>),
    /// Sync and stop, even while other handles still exist.
    Close(oneshot::Sender<()>),
}

/// A handle on the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Job>,
}

pub struct AuditSettings {
    pub dir: PathBuf,
    pub origin: Origin,
    pub clock: Clock,
    /// Keep this many UTC days (today included); `None` keeps everything.
    pub retention_days: Option<u32>,
}

impl AuditLog {
    /// Starts the writer thread.
    pub fn start(settings: AuditSettings) -> (AuditLog, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(1024);
        let thread = std::thread::Builder::new()
            .name("countersign-audit".into())
            .spawn(move || writer_loop(settings, rx))
            .expect("spawn the audit thread");
        (AuditLog { tx }, thread)
    }

    /// Appends `event` soon (within about a second on disk). Waits only when the writer
    /// is far behind.
    pub async fn record(&self, event: Event) {
        let _ = self.tx.send(Job::Append(event, None)).await;
    }

    /// Appends `event` and returns once it is on disk (fsync).
    pub async fn record_durable(&self, event: Event) -> Result<(), AuditError> {
        let (ack, done) = oneshot::channel();
        let gone = || AuditError { dir: String::new(), why: "the audit writer stopped".into() };
        self.tx.send(Job::Append(event, Some(ack))).await.map_err(|_| gone())?;
        done.await.map_err(|_| gone())?
    }

    /// Waits until everything sent so far is on disk.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Job::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Writes and syncs everything sent so far, then stops the writer thread. Later
    /// records are refused (a durable one fails, so its call is denied).
    pub async fn close(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Job::Close(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// Waits up to [`LAZY_BATCH`] for another job to batch with lazy records, looking every
/// [`LAZY_LOOK`]: a durable record (a call waiting to be forwarded) that arrives meanwhile
/// is taken at once rather than after the whole wait.
fn gather(rx: &mut mpsc::Receiver<Job>) -> Option<Job> {
    let until = Instant::now() + LAZY_BATCH;
    loop {
        std::thread::sleep(LAZY_LOOK);
        if let Ok(job) = rx.try_recv() {
            return Some(job);
        }
        if Instant::now() >= until {
            return None;
        }
    }
}

fn writer_loop(settings: AuditSettings, mut rx: mpsc::Receiver<Job>) {
    let mut writer = Writer::new(settings);
    let mut unsynced: Option<Instant> = None;
    let mut closing = false;
    while let Some(first) = rx.blocking_recv() {
        let mut events = Vec::new();
        let mut acks = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Append(event, ack) => {
                    events.push(event);
                    acks.extend(ack);
                }
                Job::Flush(ack) => flushes.push(ack),
                Job::Close(ack) => {
                    flushes.push(ack);
                    closing = true;
                    break;
                }
            }
            if events.len() < 512 {
                next = rx.try_recv().ok();
                if next.is_none() && acks.is_empty() && flushes.is_empty() && !closing && events.len() < 64 {
                    next = gather(&mut rx);
                }
            }
        }
        let sync =
            !acks.is_empty() || !flushes.is_empty() || unsynced.is_some_and(|since| since.elapsed() >= LAZY_SYNC);
        let result = writer.append(&events, sync);
        match &result {
            Ok(()) if sync => unsynced = None,
            Ok(()) => {
                unsynced.get_or_insert_with(Instant::now);
            }
            Err(e) => writer.warn_once(e),
        }
        for ack in acks {
            let _ = ack.send(result.clone());
        }
        for ack in flushes {
            let _ = ack.send(());
        }
        if closing {
            return;
        }
    }
    if unsynced.is_some() {
        let _ = writer.append(&[], true);
    }
}
