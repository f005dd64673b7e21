//! One writer of the audit directory: appends under the directory lock, chaining from
//! where the chain stands; recovers from a failed write before the next record; seals a
//! day when it rolls over to the next.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use serde_json::json;

use super::anchor::{read_anchor, read_anchor_at, write_anchor, Anchor, Cut, HEAD_FILE};
use super::fault::Fault;
use super::files::{day_files, first_line, DirLock};
use super::seal::{self, SealKey};
use crate::core::audit::{render_onto, time, ChainHead, Event, Origin};
use crate::edge::clock::Clock;

/// Where and how the audit log is written.
pub struct AuditSettings {
    pub dir: PathBuf,
    pub origin: Origin,
    pub clock: Clock,
    /// Keep this many UTC days (today included); `None` keeps everything.
    pub retention_days: Option<u32>,
}

/// A record that could not be written, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit log {dir}: {why}")]
pub struct AuditError {
    pub dir: String,
    pub why: String,
}

pub(super) struct Writer {
    settings: AuditSettings,
    /// Why the log cannot be written, from the last failure until a write succeeds
    /// (warned about once).
    down: Option<String>,
    /// The directory was set up (created or checked private, retention applied).
    prepared: bool,
    /// The day file last written, open, and the anchor as this writer left it.
    open: Option<(File, Anchor)>,
    head: Option<File>,
    /// Records this process could not write, by event, since the last that was written:
    /// reported in the next `recovered` record.
    lost: BTreeMap<&'static str, u64>,
    lost_since: Option<i64>,
    last_error: Option<String>,
    /// An unfinished line cut off and not yet reported.
    cut: Option<Cut>,
    fault: Fault,
    /// The sealing key, when `countersign audit keygen` made one.
    key: Option<SealKey>,
    /// The day file's name for a day number (days since the epoch), of the last record.
    day_name: (i64, String),
    /// The lines of a batch, rendered into one buffer kept from batch to batch.
    pending: String,
    /// What was written and not yet synced: the day file (by name), the head anchor, and
    /// the directory's entries (a file made).
    unsynced: Unsynced,
}

/// How far an append is synced before it returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Flush {
    /// Written, not synced (lazy records: on disk within [`super::LAZY_SYNC`]).
    Lazy,
    /// The records on disk: the day file's data, and the directory when a file was made.
    /// The head anchor is left to the next [`Flush::All`]: after a power loss it may lag,
    /// which `audit verify` notes and the next writer mends (docs/audit.md, "Crash points").
    Records,
    /// Everything written so far on disk, the anchor too.
    All,
}

#[derive(Default)]
struct Unsynced {
    day: Option<String>,
    anchor: bool,
    dir: bool,
    /// The day file syncs so far (for the tests of group commit).
    synced: u64,
}

/// A batch buffer larger than this is not kept for the next batch (idle memory).
const KEEP_PENDING: usize = 256 << 10;

impl Writer {
    pub(super) fn new(settings: AuditSettings) -> Writer {
        let key = match seal::load_default_key() {
            Ok(key) => key,
            Err(e) => {
                tracing::warn!("audit: cannot read the sealing key ({e}); days will not be sealed");
                None
            }
        };
        let mut writer = Writer {
            settings,
            down: None,
            prepared: false,
            open: None,
            head: None,
            lost: BTreeMap::new(),
            lost_since: None,
            last_error: None,
            cut: None,
            fault: Fault::from_env(),
            key,
            day_name: (i64::MIN, String::new()),
            pending: String::new(),
            unsynced: Unsynced::default(),
        };
        if let Err(e) = writer.prepare() {
            writer.warn_once(&e);
        }
        writer
    }

    fn error(&self, why: impl std::fmt::Display) -> AuditError {
        AuditError { dir: self.settings.dir.display().to_string(), why: why.to_string() }
    }

    pub(super) fn warn_once(&mut self, e: &AuditError) {
        if self.down.is_none() {
            tracing::error!("{e}; calls that change state will be denied (audit_unavailable) until it can be written");
        }
        self.down = Some(e.to_string());
    }

    /// Why the log cannot be written now (`None`: the last write, or the setup, worked).
    pub(super) fn down(&self) -> Option<&str> {
        self.down.as_deref()
    }

    /// Creates the directory (0700), applies retention, seals finished days.
    fn prepare(&mut self) -> Result<(), AuditError> {
        let dir = self.settings.dir.clone();
        // Made 0700 when missing; one open to others is refused, never quietly changed.
        crate::edge::runtime_dir::private_dir(&dir).map_err(|e| self.error(e))?;
        let _lock = DirLock::take(&dir).map_err(|e| self.error(e))?;
        let now = self.settings.clock.now_micros();
        if let Some(days) = self.settings.retention_days {
            let (mut anchor, cut) = read_anchor(&dir).map_err(|e| self.error(e))?;
            self.cut = self.cut.take().or(cut);
            let oldest = format!("{}.jsonl", time::day(now - i64::from(days.saturating_sub(1)) * 86_400_000_000));
            let names = day_files(&dir).map_err(|e| self.error(e))?;
            let (old, kept): (Vec<&String>, Vec<&String>) = names.iter().partition(|n| n.as_str() < oldest.as_str());
            if !old.is_empty() {
                // The kept log starts where its first line chains from (PRODUCT.md section
                // 7), and that is recorded before anything is removed: a crash half-way
                // leaves older days that `audit verify` checks up to the recorded start,
                // never a log that looks cut from the front (docs/audit.md, "Crash points").
                let first = match kept.first() {
                    Some(name) => first_line(&dir.join(name)).map_err(|e| self.error(e))?,
                    None => None,
                };
                anchor.start = Some(match first.and_then(|l| serde_json::from_slice::<serde_json::Value>(&l).ok()) {
                    Some(r) => ChainHead {
                        seq: r["seq"].as_u64().unwrap_or(1).saturating_sub(1),
                        hash: r["prev"].as_str().unwrap_or_default().to_owned(),
                    },
                    None => anchor.head.clone(),
                });
                let head = self.head_file()?;
                write_anchor(&head, &anchor, true).map_err(|e| self.error(e))?;
                self.open = None;
                for name in old {
                    tracing::info!("retention: removing {name}");
                    crate::edge::crash::point("audit: retention remove");
                    fs::remove_file(dir.join(name)).map_err(|e| self.error(e))?;
                    let _ = fs::remove_file(dir.join(seal::seal_name(name)));
                }
                crate::edge::crash::point("audit: retention directory fsync");
                File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| self.error(e))?;
            }
        }
        if let Some(key) = &self.key {
            let today = format!("{}.jsonl", time::day(now));
            if let Err(e) = seal::seal_finished(&dir, key, &today, now) {
                tracing::warn!("audit: cannot seal finished days in {}: {e}", dir.display());
            }
        }
        self.prepared = true;
        Ok(())
    }

    fn head_file(&mut self) -> Result<File, AuditError> {
        if self.head.is_none() {
            let mut options = OpenOptions::new();
            options.create(true).truncate(false).read(true).write(true).mode(0o600);
            self.head = Some(options.open(self.settings.dir.join(HEAD_FILE)).map_err(|e| self.error(e))?);
        }
        self.head.as_ref().expect("opened above").try_clone().map_err(|e| self.error(e))
    }

    /// Appends `events` under the directory lock. On failure, nothing cached is trusted
    /// and the events are counted as lost, to be reported by the next record.
    pub(super) fn append(&mut self, events: &[Event], sync: Flush) -> Result<(), AuditError> {
        let result = self.append_locked(events, sync);
        match &result {
            // Set up, locked, and what was owed written: the log is up.
            Ok(()) => self.down = None,
            Err(e) => {
                self.open = None;
                self.head = None;
                for event in events {
                    *self.lost.entry(event.name).or_default() += 1;
                }
                self.lost_since.get_or_insert_with(|| self.settings.clock.now_micros());
                self.last_error = Some(e.why.clone());
            }
        }
        result
    }

    /// The `recovered` record owed, if any.
    fn recovered(&self) -> Option<Event> {
        if self.cut.is_none() && self.lost.is_empty() {
            return None;
        }
        let cut = self
            .cut
            .as_ref()
            .map(|c| json!({"file": c.file, "bytes": c.bytes, "after_seq": c.after_seq, "anchor_seq": c.anchor_seq}));
        Some(Event::new(
            "recovered",
            json!({
                "cut": cut,
                "lost": self.lost,
                "lost_since": self.lost_since.map(time::rfc3339_micros),
                "error": self.last_error,
            }),
        ))
    }

    fn append_locked(&mut self, events: &[Event], sync: Flush) -> Result<(), AuditError> {
        let dir = self.settings.dir.clone();
        // Until the directory was set up once (it may have been refused), and whenever it
        // went away.
        if !self.prepared || !dir.is_dir() {
            self.prepare()?;
        }
        let _lock = DirLock::take(&dir).map_err(|e| self.error(e))?;
        let head_file = self.head_file()?;
        let stored = read_anchor_at(&head_file);
        // While the anchor is exactly as this writer left it, nobody else appended: the
        // chain head is known without reading the log.
        let mut anchor = match (&self.open, &stored) {
            (Some((_, mine)), Some(stored)) if mine == stored => mine.clone(),
            _ => {
                self.open = None;
                let (anchor, cut) = read_anchor(&dir).map_err(|e| self.error(e))?;
                if let Some(cut) = cut {
                    self.cut = Some(match self.cut.take() {
                        Some(mut earlier) if earlier.file == cut.file => {
                            earlier.bytes += cut.bytes;
                            earlier
                        }
                        _ => cut,
                    });
                }
                anchor
            }
        };
        // A head file just made holds no anchor: it gets one (where the chain stands now)
        // before this batch's lines, so that a crash before their anchor leaves an anchor
        // that lags (a note for `audit verify`), never none (a break).
        if stored.is_none() && head_file.metadata().map_err(|e| self.error(e))?.len() == 0 {
            write_anchor(&head_file, &anchor, sync != Flush::Lazy).map_err(|e| self.error(e))?;
            self.unsynced.dir = true;
        }
        // Owed before the next record, and written with nothing else while the log is
        // down and tried again (an append of nothing).
        let recovered = if events.is_empty() && self.down.is_none() { None } else { self.recovered() };
        // The batch buffer is kept between batches: grown once, not per batch.
        let mut pending = std::mem::take(&mut self.pending);
        let mut finished_day = None;
        for event in recovered.iter().chain(events) {
            let micros = self.settings.clock.now_micros();
            self.refresh_day(micros);
            if self.day_name.1 != anchor.file || self.open.is_none() {
                let day = self.day_name.1.clone();
                self.write_out(&mut pending)?;
                // A day left behind is synced now, whatever this batch asks: later syncs
                // are of the new day's file.
                if self.unsynced.day.as_ref().is_some_and(|d| *d != day) {
                    self.sync(Flush::Records)?;
                }
                if !anchor.file.is_empty() && anchor.file != day {
                    finished_day = Some(anchor.file.clone());
                }
                let file = OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(dir.join(&day))
                    .map_err(|e| self.error(e))?;
                anchor.size = file.metadata().map_err(|e| self.error(e))?.len();
                self.unsynced.dir |= anchor.size == 0;
                anchor.file = day;
                self.open = Some((file, anchor.clone()));
            }
            // Rendered straight into the batch, and hashed there.
            let start = render_onto(&anchor.head, &self.settings.origin, micros, event, &mut pending);
            anchor.head.advance(&pending[start..]);
            anchor.size += (pending.len() - start) as u64 + 1;
            pending.push('\n');
        }
        let written = self.write_out(&mut pending);
        if pending.capacity() <= KEEP_PENDING {
            self.pending = pending;
        }
        written?;
        self.sync(sync)?;
        if !events.is_empty() || recovered.is_some() {
            write_anchor(&head_file, &anchor, sync == Flush::All).map_err(|e| self.error(e))?;
            self.unsynced.anchor = sync != Flush::All;
            if let Some((_, mine)) = self.open.as_mut() {
                *mine = anchor;
            }
            if recovered.is_some() {
                self.cut = None;
                self.lost.clear();
                self.lost_since = None;
                self.last_error = None;
            }
        }
        if sync == Flush::All && std::mem::take(&mut self.unsynced.anchor) {
            crate::edge::crash::point("audit: head anchor fsync");
            head_file.sync_data().map_err(|e| self.error(e))?;
        }
        if sync != Flush::Lazy && std::mem::take(&mut self.unsynced.dir) {
            crate::edge::crash::point("audit: directory fsync");
            File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| self.error(e))?;
        }
        if let (Some(day), Some(key)) = (finished_day, &self.key) {
            // The day is over: its final seal (PRODUCT.md section 7).
            if let Err(e) = seal::seal_day(&dir, &day, key, self.settings.clock.now_micros(), true) {
                tracing::warn!("audit: cannot seal {day}: {e}");
            }
        }
        Ok(())
    }

    /// Makes `day_name` the `YYYY-MM-DD.jsonl` of `micros`: formatted once a day rather
    /// than once a record.
    fn refresh_day(&mut self, micros: i64) {
        let number = micros.div_euclid(86_400_000_000);
        if self.day_name.0 != number {
            self.day_name = (number, format!("{}.jsonl", time::day(micros)));
        }
    }

    /// Writes the lines gathered for the open day file in one write.
    fn write_out(&mut self, pending: &mut String) -> Result<(), AuditError> {
        if pending.is_empty() {
            return Ok(());
        }
        let Some((file, anchor)) = self.open.as_mut() else {
            return Err(self.error("no open day file"));
        };
        // The name is kept once per file, not copied for every batch.
        if self.unsynced.day.as_deref() != Some(anchor.file.as_str()) {
            self.unsynced.day = Some(anchor.file.clone());
        }
        let written = self.fault.write_all(file, pending.as_bytes());
        pending.clear();
        written.map_err(|e| self.error(e))
    }

    /// Syncs the day file written last, unless `sync` is lazy: one `fdatasync` for every
    /// record written since the last one (group commit: the records of every call that
    /// waits share it).
    fn sync(&mut self, sync: Flush) -> Result<(), AuditError> {
        let Some(day) = self.unsynced.day.as_ref().filter(|_| sync != Flush::Lazy) else {
            return Ok(());
        };
        crate::edge::crash::point("audit: day file fsync");
        let synced = match &self.open {
            Some((file, anchor)) if anchor.file == *day => file.sync_data(),
            // The day before, after a roll-over (or another writer's appends in between):
            // the same file by its name.
            _ => File::open(self.settings.dir.join(day)).and_then(|f| f.sync_data()),
        };
        synced.map_err(|e| self.error(e))?;
        self.unsynced.day = None;
        self.unsynced.synced += 1;
        Ok(())
    }

    /// How many times the day files were synced.
    #[cfg(test)]
    pub(super) fn day_syncs(&self) -> u64 {
        self.unsynced.synced
    }
}
