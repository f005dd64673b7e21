//! The approval channel between wrappers and `countersign approver`: a Unix socket in the
//! user's runtime directory (directory 0700, socket 0600, the peer's uid checked on both
//! ends). One connection per held call, one JSON object per line:
//!
//! ```text
//! wrapper -> console  {"held": {...Held...}, "ms_left": 50000}
//! console -> wrapper  {"answer": "approve" | "deny" | "lease", "user": "ann", "reason": "use the staging db"}
//! ```
//!
//! The console never decides a timeout: it shows the time left and drops the call when the
//! wrapper closes the connection (its deadline passed, the client cancelled, it exited).
//! A console that closes the connection without an answer (it quit) is a timeout for the
//! wrapper. The console survives anything a peer sends: lines are capped at
//! [`LINE_MAX`], a peer gets [`READ_TIMEOUT`] to send its line, and each connection is
//! read on its own task.
// libc calls with no safe wrapper here; every block says why it is sound (SAFETY).
#![allow(unsafe_code)]

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, Semaphore};

use crate::core::prompt::{Answer, Held};

pub const SOCKET: &str = "approver.sock";
/// Longest line either end reads; a longer one is refused.
pub const LINE_MAX: u64 = 1 << 20;
/// How long a connecting peer has to send its held call.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Most connections read at once; more wait to be accepted.
pub const CONNECTIONS_MAX: usize = 256;
/// Longest reason an operator can give with a denial (characters).
pub const REASON_MAX: usize = 200;

#[derive(Debug, Serialize, Deserialize)]
pub struct Hold {
    pub held: Held,
    /// Milliseconds left until the wrapper's deadline, when it was sent.
    pub ms_left: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub answer: Answer,
    pub user: String,
    /// The operator's words for the model, with a denial (untrusted: shown inert).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn socket_path() -> io::Result<PathBuf> {
    Ok(super::runtime_dir::runtime_dir()?.join(SOCKET))
}

fn same_user(stream: &UnixStream) -> io::Result<()> {
    let peer = stream.peer_cred()?;
    let me = super::runtime_dir::uid();
    if peer.uid() != me {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("peer uid {} is not {me}", peer.uid())));
    }
    Ok(())
}

/// Reads one line of at most [`LINE_MAX`] bytes; `None` at EOF or when it is too long.
async fn read_capped<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = reader.take(LINE_MAX + 1).read_until(b'\n', &mut line).await?;
    if n == 0 || line.len() as u64 > LINE_MAX || !line.ends_with(b"\n") {
        return Ok(None);
    }
    Ok(Some(line))
}

/// A console is listening, and is ours: the connection to send one held call on.
pub async fn connect() -> Option<UnixStream> {
    let stream = UnixStream::connect(socket_path().ok()?).await.ok()?;
    same_user(&stream).ok()?;
    Some(stream)
}

/// Sends `held` to the console and waits for its answer until `deadline`. `Ok(None)`
/// when the deadline passed or the console closed the connection without an answer
/// (it quit): both are timeouts, never "nobody could be asked". Dropping the future
/// closes the connection, which withdraws the call from the console.
pub async fn ask(stream: UnixStream, held: &Held, deadline: Instant) -> io::Result<Option<Reply>> {
    let (read, mut write) = stream.into_split();
    let ms_left = deadline.saturating_duration_since(Instant::now()).as_millis() as u64;
    let mut line = serde_json::to_string(&Hold { held: held.clone(), ms_left }).map_err(io::Error::other)?;
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    let mut read = BufReader::new(read);
    let deadline = tokio::time::Instant::from_std(deadline);
    match tokio::time::timeout_at(deadline, read_capped(&mut read)).await {
        Err(_) => Ok(None),
        Ok(Ok(None)) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the console closed before answering")),
        Ok(Ok(Some(answer))) => serde_json::from_slice(&answer).map(Some).map_err(io::Error::other),
        Ok(Err(e)) => Err(e),
    }
}

/// The console's end: binds the socket (replacing a stale one, refusing a live one).
pub async fn listen() -> io::Result<UnixListener> {
    let path = socket_path()?;
    if path.exists() {
        if UnixStream::connect(&path).await.is_ok() {
            return Err(io::Error::new(io::ErrorKind::AddrInUse, "an approver console is already running"));
        }
        std::fs::remove_file(&path)?;
    }
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Accepts wrapper connections until `held` closes, each read on its own task; well-formed
/// held calls from this user are sent on `held`. Nothing a peer sends ends the loop.
pub async fn serve(listener: UnixListener, held: mpsc::Sender<(Hold, UnixStream)>) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else { return };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors and the like: wait a moment rather than spin or end.
                    tracing::warn!("accepting an approval connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = held.closed() => return,
        };
        let held = held.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match read_hold(stream).await {
                Ok(item) => {
                    let _ = held.send(item).await;
                }
                Err(e) => tracing::warn!("refused an approval connection: {e}"),
            }
        });
    }
}

/// Reads one connection's held call: from this user, one line, in time, well-formed.
async fn read_hold(stream: UnixStream) -> io::Result<(Hold, UnixStream)> {
    same_user(&stream)?;
    let mut reader = BufReader::new(stream);
    let line = match tokio::time::timeout(READ_TIMEOUT, read_capped(&mut reader)).await {
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "the peer sent nothing in time")),
        Ok(line) => line?.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no line, or one too long"))?,
    };
    let hold = serde_json::from_slice::<Hold>(&line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok((hold, reader.into_inner()))
}

/// Sends the operator's answer back to the waiting wrapper.
pub async fn answer(stream: &mut UnixStream, reply: &Reply) -> io::Result<()> {
    let mut line = serde_json::to_string(reply).map_err(io::Error::other)?;
    line.push('\n');
    stream.write_all(line.as_bytes()).await
}

/// Removes the socket when the console exits.
pub fn unlink() {
    if let Ok(path) = socket_path() {
        let _ = std::fs::remove_file(path);
    }
}
