//! One writer shared by every task that sends to a peer: whole lines, in the order the
//! lock is taken, flushed at once.

use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::Mutex;

type Writer = Box<dyn AsyncWrite + Send + Unpin>;

#[derive(Clone)]
pub struct Sink {
    inner: Arc<Mutex<Option<Writer>>>,
}

impl Sink {
    pub fn new(writer: impl AsyncWrite + Send + Unpin + 'static) -> Sink {
        // Small lines leave in one write with their newline; large ones bypass the buffer.
        let buffered = BufWriter::with_capacity(64 << 10, writer);
        Sink { inner: Arc::new(Mutex::new(Some(Box::new(buffered)))) }
    }

    /// Writes `line` and a newline, then flushes. Waits while the peer does not read
    /// (back-pressure). Cancel-safe: no, a cancelled send may leave half a line.
    pub async fn send(&self, line: &[u8]) -> std::io::Result<()> {
        let mut guard = self.inner.lock().await;
        let Some(writer) = guard.as_mut() else {
            return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "closed"));
        };
        writer.write_all(line).await?;
        writer.write_all(b"\n").await?;
        writer.flush().await
    }

    /// Closes the stream (the peer sees end of file). Later sends fail.
    pub async fn close(&self) {
        if let Some(mut writer) = self.inner.lock().await.take() {
            let _ = writer.shutdown().await;
        }
    }
}
