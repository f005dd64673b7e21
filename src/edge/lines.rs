//! Newline-delimited framing over an async byte stream (MCP stdio transport: "messages are
//! delimited by newlines, and MUST NOT contain embedded newlines").

use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest message accepted in either direction. A longer line is skipped whole and
/// reported, so memory stays bounded by about this much per direction.
pub const MAX_MESSAGE: usize = 128 << 20;

/// How much of a skipped line is kept.
pub const HEAD: usize = 4096;

/// Bytes read at a time while between lines or in a short one.
const CHUNK: usize = 64 << 10;

/// Room made at a time in a long line: what a pipe enlarged to 1 MiB can hand over at once.
const LONG_READ: usize = 1 << 20;

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// One message, without its `\n` (and without a `\r` before it).
    Message(Vec<u8>),
    /// A line longer than the limit was skipped: its length and its first bytes (up to
    /// [`HEAD`]), from which the id of a request it answers may still be read.
    TooLong { len: usize, head: Vec<u8> },
    /// End of stream (bytes without a final `\n` were returned as the last message).
    Eof,
}

/// Splits a byte stream into lines. Short lines come out of a 64 KiB buffer; once a line
/// outgrows it, the rest is read straight into the line, as much as the pipe holds per
/// read, so a large message is copied once (kernel to line) rather than twice.
pub struct LineReader<R> {
    inner: R,
    limit: usize,
    /// Bytes read but not yet returned: `buf[at..]`.
    buf: Vec<u8>,
    at: usize,
    /// The line being read (kept here, not in `next`'s future, so that dropping that
    /// future loses nothing).
    line: Vec<u8>,
    /// Bytes of a line over the limit skipped so far, and its first bytes.
    skipped: usize,
    head: Vec<u8>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_limit(inner, MAX_MESSAGE)
    }

    pub fn with_limit(inner: R, limit: usize) -> Self {
        LineReader {
            inner,
            limit,
            buf: Vec::with_capacity(CHUNK),
            at: 0,
            line: Vec::new(),
            skipped: 0,
            head: Vec::new(),
        }
    }

    /// Reads the next line. Cancel-safe: what was read of a line stays in the reader, so
    /// the line is returned whole by a later call when a caller drops this future (as a
    /// `select!` does when another branch is ready first).
    pub async fn next(&mut self) -> std::io::Result<Line> {
        loop {
            // What is buffered first.
            let pending = &self.buf[self.at..];
            let newline = memchr::memchr(b'\n', pending);
            let chunk = &pending[..newline.unwrap_or(pending.len())];
            if self.skipped > 0 || self.line.len() + chunk.len() > self.limit {
                if self.skipped == 0 {
                    self.head.extend_from_slice(&self.line[..self.line.len().min(HEAD)]);
                }
                let room = HEAD - self.head.len();
                self.head.extend_from_slice(&chunk[..chunk.len().min(room)]);
                self.skipped += self.line.len() + chunk.len();
                self.line = Vec::new();
            } else {
                self.line.extend_from_slice(chunk);
            }
            match newline {
                Some(at) => {
                    self.at += at + 1;
                    return Ok(self.finished());
                }
                None => {
                    self.buf.clear();
                    self.at = 0;
                }
            }
            // Then the stream (`read_buf` is cancel-safe: nothing is read when it is
            // dropped): into the buffer, or for a long line straight into it.
            let read = if self.skipped == 0 && self.line.len() >= CHUNK {
                self.read_into_line().await?
            } else {
                self.inner.read_buf(&mut self.buf).await?
            };
            if read == 0 {
                return Ok(if self.skipped == 0 && self.line.is_empty() { Line::Eof } else { self.finished() });
            }
        }
    }

    /// Reads once into `line`'s spare room; whatever follows a newline in what came goes
    /// back to the buffer. Returns the bytes read.
    async fn read_into_line(&mut self) -> std::io::Result<usize> {
        let line = &mut self.line;
        if line.capacity() == line.len() {
            // Grow by half: a 16 MiB line then holds at most 24 MiB, not 32 as with
            // doubling, and is copied about 30 MiB on the way rather than the 66 MiB of
            // growing by a quarter. (Once glibc has freed one mapped block of that size,
            // it raises its mmap threshold and serves the next from the heap, so each
            // reallocation copies bytes rather than moving pages: the copies showed up
            // as 9 % of the CPU of passing 16 MiB results.)
            line.reserve_exact((line.len() / 2).max(LONG_READ));
        }
        let from = line.len();
        let read = self.inner.read_buf(line).await?;
        if let Some(at) = memchr::memchr(b'\n', &line[from..]) {
            // Hand the newline and what follows back to the buffer: the loop ends the line there.
            self.buf.extend_from_slice(&line[from + at..]);
            line.truncate(from + at);
        } else if line.len() > self.limit {
            // Over the limit: the next pass through the loop starts skipping.
            self.buf.extend_from_slice(&line[from..]);
            line.truncate(from);
        }
        Ok(read)
    }

    /// The line read so far, as what `next` returns once its end is found.
    fn finished(&mut self) -> Line {
        let line = std::mem::take(&mut self.line);
        if self.skipped > 0 {
            let len = std::mem::take(&mut self.skipped);
            Line::TooLong { len, head: std::mem::take(&mut self.head) }
        } else {
            Line::Message(trim_cr(line))
        }
    }
}

fn trim_cr(mut line: Vec<u8>) -> Vec<u8> {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes a few at a time, as a pipe may.
    struct Trickle<'a>(&'a [u8], usize);

    impl tokio::io::AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let n = self.1.min(self.0.len()).min(buf.remaining());
            buf.put_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            std::task::Poll::Ready(Ok(()))
        }
    }

    async fn all(input: &[u8], limit: usize) -> Vec<Line> {
        let mut out = Vec::new();
        for step in [1, 3, 4096, usize::MAX] {
            let got = all_in_steps(input, limit, step).await;
            if step > 1 {
                assert_eq!(got, out, "reading {step} bytes at a time");
            }
            out = got;
        }
        out
    }

    async fn all_in_steps(input: &[u8], limit: usize, step: usize) -> Vec<Line> {
        let mut r = LineReader::with_limit(Trickle(input, step), limit);
        let mut out = Vec::new();
        loop {
            let l = r.next().await.unwrap();
            let eof = l == Line::Eof;
            out.push(l);
            if eof {
                return out;
            }
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_dropped_read_loses_nothing() {
        use tokio::io::AsyncWriteExt;
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut r = LineReader::with_limit(rx, 100);
        tx.write_all(b"{\"a\":").await.unwrap();
        // Reads the start of the line, then waits for more and is dropped.
        let waited = tokio::time::timeout(std::time::Duration::ZERO, r.next()).await;
        assert!(waited.is_err(), "the line is not complete yet");
        tx.write_all(b"1}\n").await.unwrap();
        assert_eq!(r.next().await.unwrap(), Line::Message(b"{\"a\":1}".to_vec()));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn splits_on_newline_only_and_trims_cr() {
        let got = all(b"{\"a\":1}\r\n\n{\"b\":\"x\ry\"}\nlast", 100).await;
        assert_eq!(
            got,
            vec![
                Line::Message(b"{\"a\":1}".to_vec()),
                Line::Message(Vec::new()),
                Line::Message(b"{\"b\":\"x\ry\"}".to_vec()),
                Line::Message(b"last".to_vec()),
                Line::Eof
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn long_lines_are_skipped_whole() {
        let got = all(b"short\n0123456789abcdef\nok\n0123456789abcdef", 8).await;
        assert_eq!(
            got,
            vec![
                Line::Message(b"short".to_vec()),
                Line::TooLong { len: 16, head: b"0123456789abcdef".to_vec() },
                Line::Message(b"ok".to_vec()),
                Line::TooLong { len: 16, head: b"0123456789abcdef".to_vec() },
                Line::Eof
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn long_lines_are_read_whole_and_what_follows_is_kept() {
        let long = vec![b'x'; 3 * CHUNK + 17];
        let mut input = long.clone();
        input.extend_from_slice(b"\nnext\n");
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\r\n");
        input.extend_from_slice(&long);
        input.extend_from_slice(b"xx\ntail");
        // The limit counts a `\r` before the newline.
        let got = all(&input, long.len() + 1).await;
        assert_eq!(
            got,
            vec![
                Line::Message(long.clone()),
                Line::Message(b"next".to_vec()),
                Line::Message(long.clone()),
                Line::TooLong { len: long.len() + 2, head: long[..HEAD].to_vec() },
                Line::Message(b"tail".to_vec()),
                Line::Eof
            ]
        );
    }
}
