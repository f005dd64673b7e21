//! The wrapper's own stdin and stdout. When they are pipes or stream sockets (as under
//! every MCP client: Python's and Rust's spawn pipes, Node.js's spawn socket pairs) they
//! are driven directly by the event loop; `tokio::io::stdin()`/`stdout()` would send
//! every read and write through the blocking thread pool, which costs more than the rest
//! of a round trip. Anything else (a terminal, a file) keeps tokio's portable path.
// libc calls with no safe wrapper here; every block says why it is sound (SAFETY).
#![allow(unsafe_code)]

use std::fs::File;
use std::os::fd::FromRawFd;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;
use tokio::net::UnixStream;

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
    // The server's answers leave through stdout (a no-op unless it is a pipe).
    enlarge_pipe(1);
    let input: Input = match dup_stream(0, &mut restore) {
        Some(Stream::Fifo(f)) => pipe::Receiver::from_file(f).map_or_else(|_| stdin(), |r| Box::new(r)),
        Some(Stream::Socket(s)) => UnixStream::from_std(s).map_or_else(|_| stdin(), |s| Box::new(s)),
        None => stdin(),
    };
    let output: Output = match dup_stream(1, &mut restore) {
        Some(Stream::Fifo(f)) => pipe::Sender::from_file(f).map_or_else(|_| stdout(), |s| Box::new(s)),
        Some(Stream::Socket(s)) => UnixStream::from_std(s).map_or_else(|_| stdout(), |s| Box::new(s)),
        None => stdout(),
    };
    (input, output, restore)
}

fn stdin() -> Input {
    Box::new(tokio::io::stdin())
}

fn stdout() -> Output {
    Box::new(tokio::io::stdout())
}

/// What a standard descriptor is when the event loop can drive it: a pipe (most clients)
/// or a stream socket (Node.js clients get socket pairs from libuv).
enum Stream {
    Fifo(File),
    Socket(std::os::unix::net::UnixStream),
}

/// A non-blocking duplicate of `fd` when it is a FIFO or a stream socket, remembering
/// its flags for [`Restore`].
fn dup_stream(fd: i32, restore: &mut Restore) -> Option<Stream> {
    // SAFETY: fstat/getsockopt/fcntl/dup on a standard descriptor; the duplicate is owned
    // by what is returned.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 {
            return None;
        }
        let kind = st.st_mode & libc::S_IFMT;
        let socket = kind == libc::S_IFSOCK && {
            let mut ty: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, (&mut ty as *mut libc::c_int).cast(), &mut len) == 0
                && ty == libc::SOCK_STREAM
        };
        if kind != libc::S_IFIFO && !socket {
            return None;
        }
        let flags = libc::fcntl(fd, libc::F_GETFL);
        let copy = libc::dup(fd);
        if flags < 0 || copy < 0 {
            return None;
        }
        restore.0.push((fd, flags));
        Some(if socket {
            let stream = std::os::unix::net::UnixStream::from_raw_fd(copy);
            stream.set_nonblocking(true).ok()?;
            Stream::Socket(stream)
        } else {
            Stream::Fifo(File::from_raw_fd(copy))
        })
    }
}

/// Asks the kernel for a larger buffer on the pipe `fd` (up to the unprivileged limit,
/// 1 MiB by default): a large message then crosses in a few reads instead of hundreds of
/// 64 KiB ones. Only the two pipes that carry the server's answers get one, 2 MiB of the
/// 64 MiB a user's pipes may hold before the kernel shrinks new ones
/// (`pipe-user-pages-soft`). Best effort: a refusal leaves the pipe as it was.
pub fn enlarge_pipe(fd: i32) {
    // SAFETY: F_SETPIPE_SZ only changes the kernel buffer of a pipe; on anything else it
    // fails with EBADF/EINVAL, which is ignored.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, PIPE_SIZE);
    }
}

const PIPE_SIZE: i32 = 1 << 20;
