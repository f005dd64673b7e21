//! The pins of each server label on disk (PRODUCT.md section 7a):
//! `<state>/pins/<label>.json`, 0600, in a 0700 directory. Every change is read, applied
//! and written back (temporary file, fsync, rename) under an exclusive `flock` on
//! `<label>.lock`, so countersign processes of one label never lose each other's pins.
//!
//! A pin file that cannot be read, is not this user's, is open to others, or does not
//! parse is an error naming the file: the session refuses to start rather than trust or
//! overwrite it (`countersign pins forget LABEL` starts over).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::pins::{Pins, Update};

/// `O_NOFOLLOW`: a pin file or its lock that is a symbolic link is refused.
const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;

#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("pin store {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("pin file {path} is corrupt ({why}): refusing to use it; `countersign pins forget {label}` starts over")]
    Corrupt { path: PathBuf, label: String, why: String },
    #[error("pin file {path} {why}: refusing to use it")]
    Foreign { path: PathBuf, why: String },
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
    file: PathBuf,
    lock: PathBuf,
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
            file: dir.join(format!("{stem}.json")),
            lock: dir.join(format!("{stem}.lock")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The stored pins (none when the file does not exist).
    pub fn load(&self) -> Result<Pins, PinError> {
        let _lock = self.locked()?;
        self.read()
    }

    /// Reads, changes and writes back the pins under the lock. `change` returns whether
    /// it changed anything (nothing is written otherwise).
    pub fn update<T>(&self, change: impl FnOnce(&mut Pins) -> (bool, T)) -> Result<T, PinError> {
        let _lock = self.locked()?;
        let mut pins = self.read()?;
        let (changed, value) = change(&mut pins);
        if changed {
            self.write(&pins)?;
        }
        Ok(value)
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
        let _lock = self.locked()?;
        match fs::remove_file(&self.file) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(PinError::Io { path: self.file.clone(), source }),
        }
    }

    fn io(&self, path: &Path) -> impl FnOnce(io::Error) -> PinError {
        let path = path.to_owned();
        move |source| PinError::Io { path, source }
    }

    fn locked(&self) -> Result<Lock, PinError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(NOFOLLOW)
            .open(&self.lock)
            .map_err(self.io(&self.lock))?;
        // Released when the file is closed.
        if let Err(e) = rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive) {
            return Err(PinError::Io { path: self.lock.clone(), source: e.into() });
        }
        Ok(Lock(file))
    }

    fn read(&self) -> Result<Pins, PinError> {
        let file = match OpenOptions::new().read(true).custom_flags(NOFOLLOW).open(&self.file) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Pins::new()),
            Err(source) => return Err(PinError::Io { path: self.file.clone(), source }),
        };
        let meta = file.metadata().map_err(self.io(&self.file))?;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            let why = format!("belongs to uid {}, not to this user (uid {me})", meta.uid());
            return Err(PinError::Foreign { path: self.file.clone(), why });
        }
        if !meta.is_file() || meta.mode() & 0o077 != 0 {
            let why = format!("is open to other users (mode {:o})", meta.mode() & 0o777);
            return Err(PinError::Foreign { path: self.file.clone(), why });
        }
        let text = io::read_to_string(file).map_err(self.io(&self.file))?;
        let corrupt = |why: String| PinError::Corrupt { path: self.file.clone(), label: self.label.clone(), why };
        let stored: File_ = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if stored.label != self.label {
            return Err(corrupt(format!("it holds the pins of {:?}", stored.label)));
        }
        Ok(stored.tools)
    }

    fn write(&self, pins: &Pins) -> Result<(), PinError> {
        let stored = File_ { label: self.label.clone(), tools: pins.clone() };
        let mut text = serde_json::to_string_pretty(&stored).expect("pins serialize");
        text.push('\n');
        let tmp = self.file.with_extension(format!("json.tmp{}", std::process::id()));
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .custom_flags(NOFOLLOW)
            .open(&tmp)
            .map_err(self.io(&tmp))?;
        f.write_all(text.as_bytes()).and_then(|()| f.sync_all()).map_err(self.io(&tmp))?;
        fs::rename(&tmp, &self.file).map_err(self.io(&self.file))?;
        if let Some(dir) = self.file.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
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

struct Lock(#[allow(dead_code)] File);

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
