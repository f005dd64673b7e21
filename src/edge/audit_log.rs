//! The audit directory on disk: day files appended under an exclusive lock shared by every
//! countersign process of the user, a head anchor, fsync before a call that changes state
//! is forwarded (PRODUCT.md section 7).
//!
//! Written on plain files: `tracing-appender`'s rolling writer never fsyncs and its
//! non-blocking writer drops lines when its buffer is full, which suits diagnostics but not
//! a write-ahead record.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::clock::Clock;
use crate::core::audit::{advance, render, time, ChainHead, Event, Origin};

pub const HEAD_FILE: &str = "head.json";
const LOCK_FILE: &str = ".lock";
/// Records that need no fsync of their own are synced at least this often.
const LAZY_SYNC: Duration = Duration::from_secs(1);
/// Records that need no fsync wait this long for company, so that a busy relay writes
/// many lines per lock, read and write.
const LAZY_BATCH: Duration = Duration::from_millis(5);
/// The head anchor is rewritten in place at this fixed size.
const HEAD_SIZE: usize = 256;

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
                    std::thread::sleep(LAZY_BATCH);
                    next = rx.try_recv().ok();
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

struct Writer {
    settings: AuditSettings,
    warned: bool,
    /// The day file last written, open, and the anchor as this writer left it.
    open: Option<(File, Anchor)>,
    head: Option<File>,
}

impl Writer {
    fn new(settings: AuditSettings) -> Writer {
        let mut writer = Writer { settings, warned: false, open: None, head: None };
        if let Err(e) = writer.prepare() {
            writer.warn_once(&e);
        }
        writer
    }

    fn error(&self, why: impl std::fmt::Display) -> AuditError {
        AuditError { dir: self.settings.dir.display().to_string(), why: why.to_string() }
    }

    fn warn_once(&mut self, e: &AuditError) {
        if !self.warned {
            tracing::error!("{e}; calls that change state will be denied (audit_unavailable)");
            self.warned = true;
        }
    }

    /// Creates the directory (0700) and applies retention.
    fn prepare(&mut self) -> Result<(), AuditError> {
        let dir = &self.settings.dir;
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| self.error(e))?;
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        if let Some(days) = self.settings.retention_days {
            let _lock = DirLock::take(dir).map_err(|e| self.error(e))?;
            let now = self.settings.clock.now_micros();
            let oldest = time::day(now - i64::from(days.saturating_sub(1)) * 86_400_000_000);
            for name in day_files(dir).map_err(|e| self.error(e))? {
                if name.as_str() < format!("{oldest}.jsonl").as_str() {
                    tracing::info!("retention: removing {name}");
                    fs::remove_file(dir.join(&name)).map_err(|e| self.error(e))?;
                }
            }
        }
        Ok(())
    }

    /// Appends `events` under the directory lock, chaining from where the chain stands.
    fn append(&mut self, events: &[Event], sync: bool) -> Result<(), AuditError> {
        let result = self.append_locked(events, sync);
        if result.is_err() {
            // Trust nothing cached after a failure.
            self.open = None;
            self.head = None;
        }
        result
    }

    fn append_locked(&mut self, events: &[Event], sync: bool) -> Result<(), AuditError> {
        let dir = self.settings.dir.clone();
        if !dir.is_dir() {
            self.prepare()?;
        }
        let _lock = DirLock::take(&dir).map_err(|e| self.error(e))?;
        if self.head.is_none() {
            let mut options = OpenOptions::new();
            options.create(true).truncate(false).read(true).write(true).mode(0o600);
            self.head = Some(options.open(dir.join(HEAD_FILE)).map_err(|e| self.error(e))?);
        }
        let stored = read_anchor_at(self.head.as_ref().expect("opened above"));
        // While the anchor is exactly as this writer left it, nobody else appended: the
        // chain head is known without reading the log.
        let mut anchor = match (&self.open, &stored) {
            (Some((_, mine)), Some(stored)) if mine == stored => mine.clone(),
            _ => {
                self.open = None;
                read_anchor(&dir).map_err(|e| self.error(e))?
            }
        };
        let mut pending = Vec::new();
        for event in events {
            let micros = self.settings.clock.now_micros();
            let day = format!("{}.jsonl", time::day(micros));
            if day != anchor.file || self.open.is_none() {
                self.write_out(&mut pending, sync)?;
                let file = OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(dir.join(&day))
                    .map_err(|e| self.error(e))?;
                anchor.size = file.metadata().map_err(|e| self.error(e))?.len();
                anchor.file = day;
                self.open = Some((file, anchor.clone()));
            }
            let line = render(&anchor.head, &self.settings.origin, micros, event);
            anchor.head = advance(&anchor.head, &line);
            anchor.size += line.len() as u64 + 1;
            pending.extend_from_slice(line.as_bytes());
            pending.push(b'\n');
        }
        self.write_out(&mut pending, sync)?;
        if !events.is_empty() {
            write_anchor(self.head.as_ref().expect("opened above"), &anchor, sync).map_err(|e| self.error(e))?;
            if let Some((_, mine)) = self.open.as_mut() {
                *mine = anchor;
            }
        }
        if sync {
            File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Writes the lines gathered for the open day file in one write.
    fn write_out(&mut self, pending: &mut Vec<u8>, sync: bool) -> Result<(), AuditError> {
        if pending.is_empty() {
            return Ok(());
        }
        let Some((file, _)) = self.open.as_mut() else {
            return Err(self.error("no open day file"));
        };
        let written = file.write_all(pending).and_then(|_| if sync { file.sync_data() } else { Ok(()) });
        pending.clear();
        written.map_err(|e| self.error(e))
    }
}

/// An exclusive `flock` on the directory's lock file, released on drop.
struct DirLock(File);

impl DirLock {
    fn take(dir: &Path) -> io::Result<DirLock> {
        let file = OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).open(dir.join(LOCK_FILE))?;
        // SAFETY: flock on a descriptor we own; blocks until the lock is ours.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(DirLock(file))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // SAFETY: unlocking our own descriptor.
        unsafe {
            libc::flock(self.0.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// The head anchor: where the chain ends, and which file and size that was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Anchor {
    #[serde(flatten)]
    head: ChainHead,
    file: String,
    size: u64,
}

/// Reads the anchor; when it does not describe the newest file as it is (a writer died
/// between a line and its anchor, or there is no anchor yet), recovers from the last line.
fn read_anchor(dir: &Path) -> io::Result<Anchor> {
    let stored = read_head(dir)?;
    let newest = day_files(dir)?.pop();
    let Some(newest) = newest else {
        return Ok(Anchor { head: stored.unwrap_or_else(ChainHead::genesis), file: String::new(), size: 0 });
    };
    let size = fs::metadata(dir.join(&newest))?.len();
    if let Ok(Some(anchor)) = read_anchor_file(dir) {
        if anchor.file == newest && anchor.size == size {
            return Ok(anchor);
        }
    }
    let last = last_line(&dir.join(&newest))?;
    let head = match last {
        Some(line) => {
            let seq = serde_json::from_slice::<serde_json::Value>(&line).ok().and_then(|v| v["seq"].as_u64());
            let seq = seq.ok_or_else(|| io::Error::other(format!("the last line of {newest} is not a record")))?;
            ChainHead { seq, hash: crate::core::audit::line_hash(&line) }
        }
        None => stored.unwrap_or_else(ChainHead::genesis),
    };
    Ok(Anchor { head, file: newest, size })
}

fn read_anchor_file(dir: &Path) -> io::Result<Option<Anchor>> {
    match File::open(dir.join(HEAD_FILE)) {
        Ok(file) => Ok(read_anchor_at(&file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The anchor in an open head file (one read of its fixed size).
fn read_anchor_at(file: &File) -> Option<Anchor> {
    let mut buf = [0u8; HEAD_SIZE];
    let n = file.read_at(&mut buf, 0).ok()?;
    serde_json::from_slice(buf[..n].trim_ascii_end()).ok()
}

/// The head anchor's chain position, for `audit verify`.
pub fn read_head(dir: &Path) -> io::Result<Option<ChainHead>> {
    Ok(read_anchor_file(dir)?.map(|a| a.head))
}

fn write_anchor(file: &File, anchor: &Anchor, sync: bool) -> io::Result<()> {
    let mut text = serde_json::to_string(anchor).map_err(io::Error::other)?;
    // One fixed-size write in place: a reader sees the old anchor or the new one.
    text.push_str(&" ".repeat(HEAD_SIZE.saturating_sub(text.len() + 1)));
    text.push('\n');
    file.write_all_at(text.as_bytes(), 0)?;
    if file.metadata()?.len() != text.len() as u64 {
        file.set_len(text.len() as u64)?;
    }
    if sync {
        file.sync_data()?;
    }
    Ok(())
}

/// Names of the day files, oldest first.
pub fn day_files(dir: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> =
        fs::read_dir(dir)?.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| is_day_file(n)).collect();
    names.sort();
    Ok(names)
}

fn is_day_file(name: &str) -> bool {
    let Some(day) = name.strip_suffix(".jsonl") else {
        return false;
    };
    day.len() == 10
        && day.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() })
}

/// The last complete line of `path`, without its newline.
fn last_line(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut window = 64 << 10;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        let body = tail.strip_suffix(b"\n").unwrap_or(&tail);
        match memchr::memrchr(b'\n', body) {
            Some(at) => return Ok(Some(body[at + 1..].to_vec())),
            None if start == 0 => return Ok((!body.is_empty()).then(|| body.to_vec())),
            None => window *= 4,
        }
    }
}
