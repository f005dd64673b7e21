//! The two peers' byte streams: one reader and one writer task per direction.
//!
//! A reader reads a line, has it examined (off the session's task when it is large),
//! hands it to the session, and reads the next only once that line has left through
//! its writer (or was answered, held or dropped). So each direction holds about one
//! message at a time, a slow reader on the far side stops us reading (back-pressure),
//! and a giant message never sits in several queues at once. The session never waits
//! on a writer: writers take lines from unbounded queues whose depth the readers' pacing
//! bounds.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot};

use crate::core::session::{inbound, outbound};
use crate::edge::lines::{Line, LineReader};

/// Held by every action that carries a line a reader handed over; when the last one is
/// dropped (the line was written, or will never be), the reader goes on.
pub(super) type Pace = Arc<oneshot::Sender<()>>;

/// Lines at least this long are examined on a blocking thread, so that the session's
/// task keeps serving the other direction meanwhile.
const EXAMINE_APART: usize = 1 << 20;

/// What the readers tell the session.
pub(super) enum Read {
    Client(inbound::ClientLine, Pace),
    ClientClosed,
    Server(outbound::ServerLine, Pace),
    ServerClosed,
}

/// Reads the client's lines until it closes its end. Cancel-safe: no (a line being read
/// is lost), so it runs in its own task until the session ends.
pub(super) async fn read_client(input: impl AsyncRead + Unpin, tx: mpsc::Sender<Read>) {
    let mut lines = LineReader::new(input);
    loop {
        let line = match lines.next().await {
            Ok(Line::Message(line)) => examine(line, inbound::read, inbound::ClientLine::TooLong).await,
            Ok(Line::TooLong { len, .. }) => inbound::ClientLine::TooLong(len),
            Ok(Line::Eof) => break,
            Err(e) => {
                tracing::error!("reading from the client: {e}");
                break;
            }
        };
        let (pace, done) = oneshot::channel();
        if tx.send(Read::Client(line, Arc::new(pace))).await.is_err() {
            return;
        }
        let _ = done.await;
    }
    let _ = tx.send(Read::ClientClosed).await;
}

/// Reads the server's lines until its stdout closes.
pub(super) async fn read_server(output: impl AsyncRead + Unpin, tx: mpsc::Sender<Read>) {
    let mut lines = LineReader::new(output);
    loop {
        let line = match lines.next().await {
            Ok(Line::Message(bytes)) => {
                let line =
                    examine(Bytes::from(bytes), outbound::read, |len| outbound::ServerLine::TooLong { len, id: None })
                        .await;
                if let outbound::ServerLine::Dropped { why, bytes, .. } = &line {
                    let shown = crate::core::audit::redact::redact_excerpt(&bytes[..bytes.len().min(300)]);
                    tracing::warn!("dropped a line from the server, {why}: {}", shown.escape_debug());
                }
                line
            }
            Ok(Line::TooLong { len, head }) => {
                tracing::error!("dropped a server message of {len} bytes: larger than the limit");
                outbound::ServerLine::TooLong { len, id: outbound::sniff_id(&head) }
            }
            Ok(Line::Eof) => break,
            Err(e) => {
                tracing::error!("reading from the server: {e}");
                break;
            }
        };
        let (pace, done) = oneshot::channel();
        if tx.send(Read::Server(line, Arc::new(pace))).await.is_err() {
            return;
        }
        let _ = done.await;
    }
    let _ = tx.send(Read::ServerClosed).await;
}

/// Examines a line: inline when small, on a blocking thread when large (`lost` stands in
/// when that thread is gone: the runtime is shutting down).
async fn examine<I: AsRef<[u8]> + Send + 'static, T: Send + 'static>(
    line: I,
    read: fn(I) -> T,
    lost: fn(usize) -> T,
) -> T {
    let len = line.as_ref().len();
    if len < EXAMINE_APART {
        return read(line);
    }
    tokio::task::spawn_blocking(move || read(line)).await.unwrap_or_else(|_| lost(len))
}

/// A line for a writer, and the pacing of the reader it came from.
pub(super) type Outgoing = (Bytes, Option<Pace>);

/// Writes whole lines to one peer until its queue closes, then closes the stream (the
/// peer sees end of file). A line is written whole or not at all: the task is never
/// cancelled mid-line, it ends when the queue does.
pub(super) async fn write(
    output: impl AsyncWrite + Unpin,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    peer: &'static str,
) {
    // Small lines leave in one write with their newline; large ones bypass the buffer.
    let mut out = BufWriter::with_capacity(64 << 10, output);
    let mut paces = Vec::new();
    let mut broken = false;
    while let Some((line, pace)) = rx.recv().await {
        paces.extend(pace);
        if !broken {
            let written = async {
                out.write_all(&line).await?;
                out.write_all(b"\n").await?;
                // Flush once nothing more is queued: a burst leaves in few writes.
                if rx.is_empty() {
                    out.flush().await?;
                }
                Ok::<_, std::io::Error>(())
            };
            if let Err(e) = written.await {
                tracing::debug!("{peer} closed its end: {e}");
                broken = true;
            }
        }
        drop(line);
        if rx.is_empty() {
            paces.clear();
        }
    }
    let _ = out.shutdown().await;
}
