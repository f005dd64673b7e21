//! The wrapper's own stdin and stdout. When they are pipes (as under every MCP client)
//! they are driven directly by the event loop; `tokio::io::stdin()`/`stdout()` would send
//! every read and write through the blocking thread pool, which costs more than the rest
//! of a round trip. Anything else (a terminal, a file) keeps tokio's portable path.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;

/// Restores blocking mode on fd 0 and 1 when dropped (the descriptions are shared with
/// whoever started us).
pub struct Restore(Vec<(i32, i32)>);

impl Drop for Restore {
    fn drop(&mut self) {
        for (fd, flags) in &self.0 {
            // SAFETY: resetting the flags we read from the same descriptor.
            unsafe {
                libc::fcntl(*fd, libc::F_SETFL, *flags);
            }
        }
    }
}

pub type Input = Box<dyn AsyncRead + Send + Unpin>;
pub type Output = Box<dyn AsyncWrite + Send + Unpin>;

/// stdin and stdout for the relay, and the guard that restores their modes.
pub fn open() -> (Input, Output, Restore) {
    let mut restore = Restore(Vec::new());
    let input: Input = match dup_fifo(0, &mut restore).and_then(|f| pipe::Receiver::from_file(f).ok()) {
        Some(r) => Box::new(r),
        None => Box::new(tokio::io::stdin()),
    };
    let output: Output = match dup_fifo(1, &mut restore).and_then(|f| pipe::Sender::from_file(f).ok()) {
        Some(s) => Box::new(s),
        None => Box::new(tokio::io::stdout()),
    };
    (input, output, restore)
}

/// A duplicate of `fd` when it is a FIFO, remembering its flags for [`Restore`].
fn dup_fifo(fd: i32, restore: &mut Restore) -> Option<File> {
    // SAFETY: fstat/fcntl/dup on a standard descriptor; the duplicate is owned by the File.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 || st.st_mode & libc::S_IFMT != libc::S_IFIFO {
            return None;
        }
        let flags = libc::fcntl(fd, libc::F_GETFL);
        let copy = libc::dup(fd);
        if flags < 0 || copy < 0 {
            return None;
        }
        restore.0.push((fd, flags));
        let file = File::from_raw_fd(copy);
        debug_assert!(file.as_raw_fd() > 2);
        Some(file)
    }
}
