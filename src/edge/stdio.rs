//! The wrapper's own stdin and stdout. When they are pipes or stream sockets (as under
//! every MCP client: Python's and Rust's spawn pipes, Node.js's spawn socket pairs) they
//! are driven directly by the event loop; `tokio::io::stdin()`/`stdout()` would send
//! every read and write through the blocking thread pool, which costs more than the rest
//! of a round trip. Anything else (a terminal, a file) keeps tokio's portable path.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{FileType, OFlags};
use rustix::net::SocketType;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;
use tokio::net::UnixStream;

/// Which of the wrapper's standard descriptors.
#[derive(Clone, Copy)]
enum Std {
    In,
    Out,
}

impl Std {
    /// Set the flags of the descriptor (of its open file description, shared with
    /// whoever started us).
    fn set_flags(self, flags: OFlags) {
        let _ = match self {
            Std::In => rustix::fs::fcntl_setfl(std::io::stdin(), flags),
            Std::Out => rustix::fs::fcntl_setfl(std::io::stdout(), flags),
        };
    }
}

/// Restores blocking mode on fd 0 and 1 when dropped (the descriptions are shared with
/// whoever started us).
pub struct Restore(Vec<(Std, OFlags)>);

impl Drop for Restore {
    fn drop(&mut self) {
        for (which, flags) in &self.0 {
            which.set_flags(*flags);
        }
    }
}

pub type Input = Box<dyn AsyncRead + Send + Unpin>;
pub type Output = Box<dyn AsyncWrite + Send + Unpin>;

/// stdin and stdout for the relay, and the guard that restores their modes.
pub fn open() -> (Input, Output, Restore) {
    let mut restore = Restore(Vec::new());
    // The server's answers leave through stdout (a no-op unless it is a pipe).
    enlarge_pipe(std::io::stdout());
    let input: Input = match dup_stream(Std::In, &mut restore) {
        Some(Stream::Fifo(f)) => pipe::Receiver::from_file(f).map_or_else(|_| stdin(), |r| Box::new(r)),
        Some(Stream::Socket(s)) => UnixStream::from_std(s).map_or_else(|_| stdin(), |s| Box::new(s)),
        None => stdin(),
    };
    let output: Output = match dup_stream(Std::Out, &mut restore) {
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

/// A non-blocking duplicate of `which` when it is a FIFO or a stream socket, remembering
/// its flags for [`Restore`].
fn dup_stream(which: Std, restore: &mut Restore) -> Option<Stream> {
    let (stdin, stdout) = (std::io::stdin(), std::io::stdout());
    let fd = match which {
        Std::In => stdin.as_fd(),
        Std::Out => stdout.as_fd(),
    };
    let kind = FileType::from_raw_mode(rustix::fs::fstat(fd).ok()?.st_mode);
    let socket = kind == FileType::Socket && rustix::net::sockopt::socket_type(fd).ok() == Some(SocketType::STREAM);
    if kind != FileType::Fifo && !socket {
        return None;
    }
    let flags = rustix::fs::fcntl_getfl(fd).ok()?;
    let copy: OwnedFd = rustix::io::dup(fd).ok()?;
    restore.0.push((which, flags));
    Some(if socket {
        let stream = std::os::unix::net::UnixStream::from(copy);
        stream.set_nonblocking(true).ok()?;
        Stream::Socket(stream)
    } else {
        Stream::Fifo(File::from(copy))
    })
}

/// Asks the kernel for a larger buffer on the pipe `fd` (up to the unprivileged limit,
/// 1 MiB by default): a large message then crosses in a few reads instead of hundreds of
/// 64 KiB ones. Only the two pipes that carry the server's answers get one, 2 MiB of the
/// 64 MiB a user's pipes may hold before the kernel shrinks new ones
/// (`pipe-user-pages-soft`). Best effort: a refusal (or anything but a pipe) leaves it as
/// it was.
pub fn enlarge_pipe(fd: impl AsFd) {
    let _ = rustix::pipe::fcntl_setpipe_size(fd, PIPE_SIZE);
}

const PIPE_SIZE: usize = 1 << 20;
