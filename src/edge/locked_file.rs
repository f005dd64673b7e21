//! A private file of the user in `<state>` that several countersign processes share (the
//! approval book, each label's pins). Every read-modify-write holds an exclusive `flock`
//! on a lock file beside it ([`LockedFile::lock`]), so two processes never lose each
//! other's change. Writes go to a temporary file, are fsynced and renamed over the file:
//! a reader sees the old text or the new, never half of one.
//!
//! Both files are created 0600 and opened without following a symlink. A file that is
//! not this user's, not a plain file, or open to others is refused with an error naming
//! it: nothing is read from it and nothing is written over it. What the text means is the
//! caller's (each store parses, formats and names its own errors).
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// `O_NOFOLLOW | O_CLOEXEC`: a file or lock that is a symbolic link is refused.
const NO_FOLLOW: i32 = (rustix::fs::OFlags::NOFOLLOW.bits() | rustix::fs::OFlags::CLOEXEC.bits()) as i32;

/// Why a locked file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockedFileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    /// Not this user's, not a plain file, or open to others; `why` says which.
    #[error("{path} {why}: refusing to use it")]
    Foreign { path: PathBuf, why: String },
}

/// A file and the lock file that guards it.
#[derive(Debug, Clone)]
pub struct LockedFile {
    file: PathBuf,
    lock: PathBuf,
}

/// The lock on a [`LockedFile`], held until dropped: the file is read and written through
/// it only.
#[derive(Debug)]
pub struct Lock<'a> {
    file: &'a Path,
    /// Closing it releases the `flock`.
    _lock: File,
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> LockedFileError + '_ {
    move |source| LockedFileError::Io { path: path.to_owned(), source }
}

fn foreign(path: &Path, why: String) -> LockedFileError {
    LockedFileError::Foreign { path: path.to_owned(), why }
}

impl LockedFile {
    /// `file`, guarded by `lock` (both in a directory the caller has checked is private).
    pub fn new(file: PathBuf, lock: PathBuf) -> LockedFile {
        LockedFile { file, lock }
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    /// Waits for the exclusive lock (creating the lock file 0600 when missing).
    pub fn lock(&self) -> Result<Lock<'_>, LockedFileError> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(NO_FOLLOW)
            .open(&self.lock)
            .map_err(io_at(&self.lock))?;
        // Released when the file is closed.
        match lock_exclusive(&lock) {
            Ok(()) => Ok(Lock { file: &self.file, _lock: lock }),
            Err(source) => Err(LockedFileError::Io { path: self.lock.clone(), source }),
        }
    }
}

/// Waits for an exclusive `flock` on `file` (held until the file is closed or unlocked),
/// and waits again when a signal interrupts the wait. Every lock countersign takes goes
/// through here or [`try_lock_exclusive`].
pub(crate) fn lock_exclusive(file: &File) -> io::Result<()> {
    loop {
        match rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive) {
            Err(rustix::io::Errno::INTR) => {}
            done => return done.map_err(io::Error::from),
        }
    }
}

/// Waits for a shared `flock` on `file` (readers that must not see a writer half-way),
/// as [`lock_exclusive`] does.
pub(crate) fn lock_shared(file: &File) -> io::Result<()> {
    loop {
        match rustix::fs::flock(file, rustix::fs::FlockOperation::LockShared) {
            Err(rustix::io::Errno::INTR) => {}
            done => return done.map_err(io::Error::from),
        }
    }
}

/// Takes an exclusive `flock` on `file` when nobody holds one; `Ok(false)` when someone does.
pub(crate) fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    loop {
        match rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(true),
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(false),
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

impl Lock<'_> {
    /// The file's text, `None` when it does not exist. Refused when it is not this
    /// user's, not a plain file, or open to other users.
    pub fn read(&self) -> Result<Option<String>, LockedFileError> {
        let file = match OpenOptions::new().read(true).custom_flags(NO_FOLLOW).open(self.file) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io_at(self.file)(source)),
        };
        let meta = file.metadata().map_err(io_at(self.file))?;
        let me = crate::edge::runtime_dir::uid();
        if meta.uid() != me {
            return Err(foreign(self.file, format!("belongs to uid {}, not to this user (uid {me})", meta.uid())));
        }
        if !meta.is_file() {
            return Err(foreign(self.file, "is not a plain file".into()));
        }
        if meta.mode() & 0o077 != 0 {
            let why = format!("is open to other users (mode {:o}); `chmod 600` it if it is yours", meta.mode() & 0o777);
            return Err(foreign(self.file, why));
        }
        let mut text = String::new();
        (&file).read_to_string(&mut text).map_err(io_at(self.file))?;
        Ok(Some(text))
    }

    /// Replaces the file with `text` durably: a temporary file (0600) beside it, fsync,
    /// rename, fsync of the directory.
    pub fn write(&self, text: &str) -> Result<(), LockedFileError> {
        let mut name = OsString::from(self.file.file_name().unwrap_or_default());
        name.push(format!(".tmp{}", std::process::id()));
        let tmp = self.file.with_file_name(name);
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .custom_flags(NO_FOLLOW)
            .open(&tmp)
            .map_err(io_at(&tmp))?;
        let what = self.file.file_name().unwrap_or_default().to_string_lossy();
        let written = crate::edge::crash::write_all(&format!("{what}: temporary file"), &mut f, text.as_bytes());
        if let Err(e) = written.and_then(|()| {
            crate::edge::crash::point(&format!("{what}: temporary file fsync"));
            f.sync_all()
        }) {
            let _ = fs::remove_file(&tmp);
            return Err(LockedFileError::Io { path: tmp, source: e });
        }
        crate::edge::crash::point(&format!("{what}: rename"));
        fs::rename(&tmp, self.file).map_err(io_at(self.file))?;
        crate::edge::crash::point(&format!("{what}: directory fsync"));
        if let Some(dir) = self.file.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Removes the file durably (the directory fsynced after); `false` when there was none.
    pub fn remove(&self) -> Result<bool, LockedFileError> {
        let what = self.file.file_name().unwrap_or_default().to_string_lossy();
        crate::edge::crash::point(&format!("{what}: remove"));
        match fs::remove_file(self.file) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(source) => return Err(io_at(self.file)(source)),
        }
        crate::edge::crash::point(&format!("{what}: directory fsync"));
        if let Some(dir) = self.file.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A signal that interrupts the wait (one whose handler asks for no restart) makes
    /// the lock be waited for again, not an error that would leave the caller without it.
    #[test]
    #[allow(unsafe_code)]
    fn a_signal_does_not_end_the_wait_for_a_lock() {
        extern "C" fn nothing(_: libc::c_int) {}
        // SAFETY: a zeroed `sigaction` is a valid empty one; its handler does nothing, and
        // nothing else in this test binary uses SIGUSR2. No SA_RESTART: a blocked
        // `flock` returns EINTR.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = nothing as extern "C" fn(libc::c_int) as usize;
            assert_eq!(libc::sigaction(libc::SIGUSR2, &action, std::ptr::null_mut()), 0);
        }
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("l.lock");
        let held = File::create(&path).unwrap();
        lock_exclusive(&held).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            // SAFETY: pthread_self has no preconditions.
            tx.send(unsafe { libc::pthread_self() }).unwrap();
            let file = OpenOptions::new().write(true).open(&path).unwrap();
            lock_exclusive(&file)
        });
        let thread = rx.recv().unwrap();
        for _ in 0..5 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            // SAFETY: the thread is alive (joined only below) and handles SIGUSR2.
            assert_eq!(unsafe { libc::pthread_kill(thread, libc::SIGUSR2) }, 0);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "the waiter still waits for the lock");
        drop(held);
        assert!(waiter.join().unwrap().is_ok(), "and gets it once it is free");
    }

    fn in_tmp() -> (tempfile::TempDir, LockedFile) {
        let tmp = tempfile::tempdir().unwrap();
        let file = LockedFile::new(tmp.path().join("f.json"), tmp.path().join("f.lock"));
        (tmp, file)
    }

    #[test]
    fn writes_are_0600_whole_and_leave_no_temporary_file() {
        let (tmp, file) = in_tmp();
        let held = file.lock().unwrap();
        assert_eq!(held.read().unwrap(), None, "a missing file is none");
        held.write("one\n").unwrap();
        held.write("two\n").unwrap();
        assert_eq!(held.read().unwrap().as_deref(), Some("two\n"));
        for name in ["f.json", "f.lock"] {
            let mode = fs::metadata(tmp.path().join(name)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
        let names: Vec<String> =
            fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
        assert!(held.remove().unwrap());
        assert!(!held.remove().unwrap(), "removing a missing file says so");
    }

    #[test]
    fn a_file_open_to_others_a_directory_or_a_symlink_is_refused_by_name() {
        let (_tmp, file) = in_tmp();
        let held = file.lock().unwrap();
        let named = file.path().display().to_string();
        held.write("x").unwrap();
        fs::set_permissions(file.path(), fs::Permissions::from_mode(0o604)).unwrap();
        let err = held.read().unwrap_err();
        assert!(matches!(err, LockedFileError::Foreign { .. }), "{err}");
        let err = err.to_string();
        assert!(err.contains(&named) && err.contains("open to other users (mode 604)"), "{err}");
        fs::remove_file(file.path()).unwrap();
        fs::create_dir(file.path()).unwrap();
        let err = held.read().unwrap_err().to_string();
        assert!(err.contains(&named) && err.contains("not a plain file"), "{err}");
        fs::remove_dir(file.path()).unwrap();
        std::os::unix::fs::symlink("/dev/null", file.path()).unwrap();
        let err = held.read().unwrap_err();
        assert!(matches!(err, LockedFileError::Io { .. }) && err.to_string().contains(&named), "{err}");
    }

    #[test]
    fn the_lock_orders_read_modify_write_across_threads() {
        let (_tmp, file) = in_tmp();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let file = file.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        let held = file.lock().unwrap();
                        let n: u32 = held.read().unwrap().map_or(0, |t| t.trim().parse().unwrap());
                        held.write(&format!("{}\n", n + 1)).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(file.lock().unwrap().read().unwrap().as_deref(), Some("160\n"));
    }
}
