//! The approval book on disk (PRODUCT.md section 6a): `<state>/approvals.json`, 0600, one
//! file for every countersign process of the user. Every change is read, applied and
//! written back (temporary file, fsync, rename) under an exclusive `flock` on
//! `<state>/approvals.lock`, so two processes racing for one receipt see one order: one
//! takes it, the other finds it gone.
//!
//! A book that cannot be read, is not this user's, is open to others, does not parse or
//! was written by a newer format is an error naming the file: nothing is approved from
//! it and nothing is written over it (a missing file is an empty book). The locking,
//! checks and atomic write are [`crate::edge::locked_file`]'s; the format is this file's.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::core::approvals::{short_id, Book, Change, BOOK_VERSION};
use crate::edge::locked_file::{Lock, LockedFile, LockedFileError};

/// The book's file in `<state>`.
pub const BOOK_FILE: &str = "approvals.json";
/// The lock beside it.
pub const LOCK_FILE: &str = "approvals.lock";

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("approval book {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("approval book {path} is corrupt ({why}): refusing to use it; move it aside to start over (its pending approvals, receipts and leases are then gone)")]
    Corrupt { path: PathBuf, why: String },
    #[error("approval book {path} {why}: refusing to use it")]
    Foreign { path: PathBuf, why: String },
}

impl From<LockedFileError> for ApprovalError {
    fn from(e: LockedFileError) -> ApprovalError {
        match e {
            LockedFileError::Io { path, source } => ApprovalError::Io { path, source },
            LockedFileError::Foreign { path, why } => ApprovalError::Foreign { path, why },
        }
    }
}

/// The approval book of this user.
#[derive(Debug, Clone)]
pub struct Store {
    file: LockedFile,
}

impl Store {
    /// The book in `<state>` (created 0700 and checked).
    pub fn open() -> Result<Store, ApprovalError> {
        let state = crate::edge::runtime_dir::state_dir()
            .map_err(|source| ApprovalError::Io { path: PathBuf::from("<state>"), source })?;
        Ok(Store::in_dir(&state))
    }

    /// The book in `dir` (tests; `dir` is trusted to be private).
    pub fn in_dir(dir: &Path) -> Store {
        Store { file: LockedFile::new(dir.join(BOOK_FILE), dir.join(LOCK_FILE)) }
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The book as stored (nothing pruned: see [`Book::live`]).
    pub fn read(&self) -> Result<Book, ApprovalError> {
        self.load(&self.file.lock()?)
    }

    /// Reads the book, prunes what ended by `now`, runs `change` on it and writes it back
    /// (only when something changed), all under the lock. Returns what `change` returned
    /// and the `lapsed` changes of the pruning, to be recorded like any other change.
    pub fn update<T>(&self, now: i64, change: impl FnOnce(&mut Book) -> T) -> Result<(T, Vec<Change>), ApprovalError> {
        let lock = self.file.lock()?;
        let mut book = self.load(&lock)?;
        let before = book.clone();
        let lapsed = book.prune(now);
        let value = change(&mut book);
        if book != before {
            let mut text = serde_json::to_string_pretty(&book).expect("the book serializes");
            text.push('\n');
            lock.write(&text)?;
        }
        Ok((value, lapsed))
    }

    fn load(&self, lock: &Lock<'_>) -> Result<Book, ApprovalError> {
        let Some(text) = lock.read()? else {
            return Ok(Book::default());
        };
        let corrupt = |why: String| ApprovalError::Corrupt { path: self.path().to_owned(), why };
        let book: Book = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if book.v != BOOK_VERSION {
            return Err(corrupt(format!("format v{}, this countersign reads v{BOOK_VERSION}", book.v)));
        }
        Ok(book)
    }
}

/// New short ids from `/dev/urandom` (for [`Book::ask`] and [`Book::grant_lease`]).
/// Without urandom, the clock and the pid stand in: the book still refuses an id that is
/// in use, so ids stay unique, only less hard to guess.
pub fn new_id_source() -> impl FnMut() -> String {
    let mut urandom = File::open("/dev/urandom").ok();
    let mut fallback: u32 = std::process::id().rotate_left(16)
        ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    move || {
        let mut bytes = [0u8; 4];
        if urandom.as_mut().and_then(|f| f.read_exact(&mut bytes).ok()).is_none() {
            fallback = fallback.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            bytes = fallback.to_le_bytes();
        }
        short_id(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::approvals::{Grant, NewPending};
    use crate::core::classify::Class;
    use crate::core::prompt::Held;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    const T0: i64 = 1_795_000_000_000_000;
    const D1: &str = "sha256:ab12000000000000000000000000000000000000000000000000000000000000";

    fn pending() -> NewPending {
        let mut held = Held::new("bank", None, "refund", None, Class::Destructive, "defaults.destructive");
        held.digest = D1.into();
        held.arguments = r#"{"order":"A1"}"#.into();
        NewPending {
            label: "bank".into(),
            tool: "refund".into(),
            digest: D1.into(),
            definition: None,
            held,
            audit_dir: "/audit".into(),
            session: "s".into(),
            request_id: "1".into(),
        }
    }

    fn approved(store: &Store) -> String {
        let ((id, _, _), _) = store.update(T0, |b| b.ask(pending(), new_id_source(), T0).unwrap()).unwrap();
        store.update(T0, |b| b.approve(&id, "op", T0).unwrap()).unwrap();
        id
    }

    #[test]
    fn the_book_persists_0600_and_a_missing_file_is_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::in_dir(tmp.path());
        assert_eq!(store.read().unwrap(), Book::default());
        assert!(!store.path().exists(), "reading writes nothing");
        let id = approved(&store);
        let book = Store::in_dir(tmp.path()).read().unwrap();
        assert_eq!(book.receipts[0].id, id);
        for name in [BOOK_FILE, LOCK_FILE] {
            let mode = fs::metadata(tmp.path().join(name)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
        assert!(fs::read_dir(tmp.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains("tmp")));
    }

    #[test]
    fn pruning_in_update_returns_the_lapses() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::in_dir(tmp.path());
        approved(&store);
        let (grant, lapsed) =
            store.update(T0 + 600_000_000, |b| b.take("bank", "refund", D1, &None, true, T0 + 600_000_000).0).unwrap();
        assert_eq!(grant, None);
        assert_eq!(lapsed.len(), 1);
        assert!(store.read().unwrap().receipts.is_empty(), "the lapse is written back");
    }

    #[test]
    fn a_bad_book_is_refused_by_name_and_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::in_dir(tmp.path());
        approved(&store);
        let named = store.path().display().to_string();
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o640)).unwrap();
        let err = store.read().unwrap_err().to_string();
        assert!(err.contains(&named) && err.contains("open to other users"), "{err}");
        assert!(
            store.update(T0, |b| b.take("bank", "refund", D1, &None, true, T0)).is_err(),
            "nothing is taken from it"
        );
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(store.path(), "{\"v\":1,\"pending\":[").unwrap();
        let err = store.update(T0, |b| b.prune(T0)).unwrap_err().to_string();
        assert!(err.contains(&named) && err.contains("corrupt"), "{err}");
        assert_eq!(fs::read_to_string(store.path()).unwrap(), "{\"v\":1,\"pending\":[", "not written over");
        fs::write(store.path(), "{\"v\":9}").unwrap();
        assert!(store.read().unwrap_err().to_string().contains("format v9"));
        fs::write(store.path(), "").unwrap();
        assert!(store.read().unwrap_err().to_string().contains("corrupt"), "an empty file is not an empty book");
        fs::remove_file(store.path()).unwrap();
        std::os::unix::fs::symlink("/dev/null", store.path()).unwrap();
        assert!(store.read().unwrap_err().to_string().contains(&named), "a symlink is not followed");
    }

    #[test]
    fn racing_threads_take_one_receipt_once() {
        let tmp = tempfile::tempdir().unwrap();
        for round in 0..5 {
            approved(&Store::in_dir(tmp.path()));
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let store = Store::in_dir(tmp.path());
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        barrier.wait();
                        store.update(T0 + 1, |b| b.take("bank", "refund", D1, &None, false, T0 + 1).0).unwrap().0
                    })
                })
                .collect();
            let grants: Vec<Option<Grant>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            assert_eq!(grants.iter().flatten().count(), 1, "round {round}: {grants:?}");
        }
    }

    #[test]
    fn ids_from_urandom_differ() {
        let mut ids = new_id_source();
        let seen: std::collections::BTreeSet<String> = (0..100).map(|_| ids()).collect();
        assert!(seen.len() >= 99);
        assert!(seen.iter().all(|id| crate::core::approvals::parse_id(id).as_deref() == Some(id.as_str())));
    }
}
