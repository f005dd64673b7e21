//! The pins of each server label on disk (PRODUCT.md section 7a):
//! `<state>/pins/<label>.json`, 0600, in a 0700 directory. Every change is read, applied
//! and written back (temporary file, fsync, rename) under an exclusive `flock` on
//! `<label>.lock`, so countersign processes of one label never lose each other's pins.
//!
//! A pin file that cannot be read, is not this user's, is open to others, or does not
//! parse is an error naming the file: the session refuses to start rather than trust or
//! overwrite it (`countersign pins forget LABEL` starts over). The locking, checks and
//! atomic write are [`crate::edge::locked_file`]'s; the format is this file's.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::pins::{Pins, Update};
use crate::edge::locked_file::{Lock, LockedFile, LockedFileError};

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("pin store {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("pin file {path} is corrupt ({why}): refusing to use it; `countersign pins forget {label}` starts over")]
    Corrupt { path: PathBuf, label: String, why: String },
    #[error("pin file {path} {why}: refusing to use it")]
    Foreign { path: PathBuf, why: String },
}

impl From<LockedFileError> for PinError {
    fn from(e: LockedFileError) -> PinError {
        match e {
            LockedFileError::Io { path, source } => PinError::Io { path, source },
            LockedFileError::Foreign { path, why } => PinError::Foreign { path, why },
        }
    }
}

/// The file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File_ {
    label: String,
    tools: Pins,
}

/// The pins of one label.
#[derive(Debug, Clone)]
pub struct PinStore {
    label: String,
    file: LockedFile,
}

/// `<state>/pins`, created 0700.
pub fn pins_dir() -> Result<PathBuf, PinError> {
    let state = crate::edge::runtime_dir::state_dir()
        .map_err(|source| PinError::Io { path: PathBuf::from("<state>"), source })?;
    let dir = state.join("pins");
    crate::edge::runtime_dir::private_dir(&dir).map_err(|source| PinError::Io { path: dir.clone(), source })?;
    Ok(dir)
}

/// A file name for `label`: letters, digits, `-` and `_` as they are, every other byte
/// `%XX` (so `/`, `..`, controls and dots can never make a path or a hidden file).
pub fn file_stem(label: &str) -> String {
    let mut out = String::new();
    for b in label.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('%');
    }
    out
}

impl PinStore {
    pub fn open(label: &str) -> Result<PinStore, PinError> {
        Ok(PinStore::in_dir(&pins_dir()?, label))
    }

    pub fn in_dir(dir: &Path, label: &str) -> PinStore {
        let stem = file_stem(label);
        PinStore {
            label: label.to_owned(),
            file: LockedFile::new(dir.join(format!("{stem}.json")), dir.join(format!("{stem}.lock"))),
        }
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The stored pins (none when the file does not exist).
    pub fn load(&self) -> Result<Pins, PinError> {
        self.read(&self.file.lock()?)
    }

    /// Reads, changes and writes back the pins under the lock. `change` returns whether
    /// it changed anything (nothing is written otherwise).
    pub fn update<T>(&self, change: impl FnOnce(&mut Pins) -> (bool, T)) -> Result<T, PinError> {
        let lock = self.file.lock()?;
        let mut pins = self.read(&lock)?;
        let (changed, value) = change(&mut pins);
        if changed {
            self.write(&lock, pins)?;
        }
        Ok(value)
    }

    fn write(&self, lock: &Lock<'_>, pins: Pins) -> Result<(), PinError> {
        let stored = File_ { label: self.label.clone(), tools: pins };
        let mut text = serde_json::to_string_pretty(&stored).expect("pins serialize");
        text.push('\n');
        Ok(lock.write(&text)?)
    }

    /// Like [`PinStore::update`], with `record` run under the lock once the change is
    /// known and before it is written, so that an operator's change is in the audit log
    /// before it is in the pins (as the approval book's are). When `record` fails (the
    /// inner error), nothing is written.
    pub fn update_recorded<T, E>(
        &self,
        change: impl FnOnce(&mut Pins) -> (bool, T),
        record: impl FnOnce(&T) -> Result<(), E>,
    ) -> Result<Result<T, E>, PinError> {
        let lock = self.file.lock()?;
        let mut pins = self.read(&lock)?;
        let (changed, value) = change(&mut pins);
        if changed {
            if let Err(e) = record(&value) {
                return Ok(Err(e));
            }
            self.write(&lock, pins)?;
        }
        Ok(Ok(value))
    }

    /// Applies a session's update, stamped `at` (RFC 3339).
    pub fn apply(&self, update: &Update, at: &str) -> Result<(), PinError> {
        self.apply_all(std::slice::from_ref(update), at)
    }

    /// Applies a session's updates in order, in one write.
    pub fn apply_all(&self, updates: &[Update], at: &str) -> Result<(), PinError> {
        self.update(|pins| {
            let changed = updates.iter().fold(false, |c, u| crate::core::pins::apply(pins, u, at) | c);
            (changed, ())
        })
    }

    /// Removes the label's pins.
    pub fn forget(&self) -> Result<bool, PinError> {
        Ok(self.forget_recorded(|| Ok::<(), PinError>(()))?.unwrap_or(false))
    }

    /// Removes the label's pins, with `record` run under the lock first when there are
    /// any (see [`PinStore::update_recorded`]); `false` when there were none.
    pub fn forget_recorded<E>(&self, record: impl FnOnce() -> Result<(), E>) -> Result<Result<bool, E>, PinError> {
        let lock = self.file.lock()?;
        // Whatever the file holds (forget is how a corrupt one is started over).
        if fs::symlink_metadata(self.path()).is_err() {
            return Ok(Ok(false));
        }
        if let Err(e) = record() {
            return Ok(Err(e));
        }
        Ok(Ok(lock.remove()?))
    }

    fn read(&self, lock: &Lock<'_>) -> Result<Pins, PinError> {
        let Some(text) = lock.read()? else {
            return Ok(Pins::new());
        };
        let corrupt = |why: String| PinError::Corrupt { path: self.path().to_owned(), label: self.label.clone(), why };
        let stored: File_ = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if stored.label != self.label {
            return Err(corrupt(format!("it holds the pins of {:?}", stored.label)));
        }
        Ok(stored.tools)
    }
}

/// One label's pins, or why its file cannot be used.
pub type Labelled = Result<(String, Pins), PinError>;

/// Every label's pins in `dir`, by label (files that cannot be read are returned as errors).
pub fn all(dir: &Path) -> Result<Vec<Labelled>, PinError> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).map_err(|source| PinError::Io { path: dir.to_owned(), source })?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let label = match fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<File_>(&t).ok()) {
            Some(f) => f.label,
            None => {
                let why = "not a pin file".to_owned();
                out.push(Err(PinError::Corrupt { path: path.clone(), label: String::new(), why }));
                continue;
            }
        };
        let store = PinStore::in_dir(dir, &label);
        out.push(store.load().map(|pins| (label, pins)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::pins::Definition;
    use std::os::unix::fs::PermissionsExt;

    fn def(d: &str) -> Definition {
        Definition { digest: d.to_owned(), definition: "{}".to_owned() }
    }

    #[test]
    fn labels_make_safe_file_names() {
        assert_eq!(file_stem("fs"), "fs");
        assert_eq!(file_stem("../x"), "%2E%2E%2Fx");
        assert_eq!(file_stem(".hidden"), "%2Ehidden");
        assert_eq!(file_stem("a\u{1b}b"), "a%1Bb");
        assert_eq!(file_stem(""), "%");
        assert_ne!(file_stem("a/b"), file_stem("a%2Fb"));
    }

    #[test]
    fn pins_persist_0600_and_a_bad_file_is_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let store = PinStore::in_dir(tmp.path(), "srv/1");
        assert!(store.load().unwrap().is_empty());
        store.apply(&Update::New { tool: "a".into(), definition: def("sha256:1") }, "t").unwrap();
        store.apply(&Update::Seen { tool: "a".into(), definition: def("sha256:2") }, "t2").unwrap();
        let pins = store.load().unwrap();
        assert_eq!(pins["a"].pinned.digest, "sha256:1");
        assert_eq!(pins["a"].seen.as_ref().unwrap().definition.digest, "sha256:2");
        let mode = fs::metadata(store.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(all(tmp.path()).unwrap().into_iter().map(|r| r.unwrap().0).collect::<Vec<_>>(), ["srv/1"]);

        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains(&store.path().display().to_string()) && err.contains("open to other users"), "{err}");
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(store.path(), "{not json").unwrap();
        let err = store.load().unwrap_err().to_string();
        assert!(err.contains("corrupt") && err.contains(&store.path().display().to_string()), "{err}");
        assert!(store.forget().unwrap());
        assert!(store.load().unwrap().is_empty());
    }

    #[test]
    fn concurrent_writers_lose_no_pin() {
        let tmp = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = PinStore::in_dir(tmp.path(), "x");
                std::thread::spawn(move || {
                    for j in 0..10 {
                        let u = Update::New { tool: format!("t{i}-{j}"), definition: def("sha256:1") };
                        store.apply(&u, "t").unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(PinStore::in_dir(tmp.path(), "x").load().unwrap().len(), 80);
    }
}
