//! The approval channel between wrappers and `countersign approver`: a Unix socket in the
//! user's runtime directory (directory 0700, socket 0600, the peer's uid checked on both
//! ends). One connection per held call, one JSON object per line:
//!
//! ```text
//! wrapper -> console  {"held": {...Held...}, "seconds": 50}
//! console -> wrapper  {"answer": "approve" | "deny" | "lease", "user": "ann"}
//! ```
//!
//! A wrapper withdraws a call by closing its connection.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::core::prompt::{Answer, Held};

pub const SOCKET: &str = "approver.sock";

#[derive(Debug, Serialize, Deserialize)]
pub struct Hold {
    pub held: Held,
    pub seconds: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub answer: Answer,
    pub user: String,
}

fn socket_path() -> io::Result<PathBuf> {
    Ok(super::runtime_dir::runtime_dir()?.join(SOCKET))
}

fn same_user(stream: &UnixStream) -> io::Result<()> {
    let peer = stream.peer_cred()?;
    // SAFETY: getuid cannot fail.
    let me = unsafe { libc::getuid() };
    if peer.uid() != me {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, format!("peer uid {} is not {me}", peer.uid())));
    }
    Ok(())
}

/// A console is listening, and is ours: the connection to send one held call on.
pub async fn connect() -> Option<UnixStream> {
    let stream = UnixStream::connect(socket_path().ok()?).await.ok()?;
    same_user(&stream).ok()?;
    Some(stream)
}

/// Sends `held` to the console and waits for its answer until `deadline`. `Ok(None)`
/// when the deadline passed. Dropping the future closes the connection, which withdraws
/// the call from the console.
pub async fn ask(stream: UnixStream, held: &Held, deadline: Instant) -> io::Result<Option<Reply>> {
    let (read, mut write) = stream.into_split();
    let seconds = deadline.saturating_duration_since(Instant::now()).as_secs();
    let mut line = serde_json::to_string(&Hold { held: held.clone(), seconds }).map_err(io::Error::other)?;
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    let mut answer = String::new();
    let mut read = BufReader::new(read);
    let deadline = tokio::time::Instant::from_std(deadline);
    match tokio::time::timeout_at(deadline, read.read_line(&mut answer)).await {
        Err(_) => Ok(None),
        Ok(Ok(0)) => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the approver console closed")),
        Ok(Ok(_)) => serde_json::from_str(&answer).map(Some).map_err(io::Error::other),
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

/// Accepts one wrapper connection from this user and reads its held call.
pub async fn accept(listener: &UnixListener) -> io::Result<(Hold, UnixStream)> {
    loop {
        let (stream, _) = listener.accept().await?;
        if let Err(e) = same_user(&stream) {
            tracing::warn!("refused an approval connection: {e}");
            continue;
        }
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            continue;
        }
        match serde_json::from_str::<Hold>(&line) {
            Ok(hold) => return Ok((hold, reader.into_inner())),
            Err(e) => tracing::warn!("refused a malformed held call: {e}"),
        }
    }
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
