//! Newline-delimited framing over an async byte stream (MCP stdio transport: "messages are
//! delimited by newlines, and MUST NOT contain embedded newlines").

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Largest message accepted in either direction. A longer line is skipped whole and
/// reported, so memory stays bounded by about this much per direction.
pub const MAX_MESSAGE: usize = 128 << 20;

#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// One message, without its `\n` (and without a `\r` before it).
    Message(Vec<u8>),
    /// A line longer than the limit was skipped; carries its length.
    TooLong(usize),
    /// End of stream. `unterminated` says whether bytes without a final `\n` were seen
    /// (they were returned as the last message).
    Eof,
}

pub struct LineReader<R> {
    inner: R,
    limit: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader { inner, limit: MAX_MESSAGE }
    }

    pub fn with_limit(inner: R, limit: usize) -> Self {
        LineReader { inner, limit }
    }

    /// Reads the next line. Cancel-safe only between lines: dropping the future mid-line
    /// loses the partial line, so callers keep one reader per loop and never race it.
    pub async fn next(&mut self) -> std::io::Result<Line> {
        let mut line = Vec::new();
        let mut skipped = 0usize;
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                return Ok(match (skipped, line.is_empty()) {
                    (0, true) => Line::Eof,
                    (0, false) => Line::Message(trim_cr(line)),
                    (n, _) => Line::TooLong(n),
                });
            }
            let (chunk, done) = match memchr::memchr(b'\n', available) {
                Some(at) => (&available[..at], Some(at + 1)),
                None => (available, None),
            };
            if skipped > 0 || line.len() + chunk.len() > self.limit {
                skipped += line.len() + chunk.len();
                line = Vec::new();
            } else {
                if line.capacity() - line.len() < chunk.len() {
                    // Grow by a quarter rather than doubling: a 16 MiB line then holds
                    // about 20 MiB, not 32 (large reallocations move pages, not bytes).
                    let more = (line.len() / 4).max(chunk.len()).max(64 << 10);
                    line.reserve_exact(more);
                }
                line.extend_from_slice(chunk);
            }
            let consumed = done.unwrap_or(available.len());
            self.inner.consume(consumed);
            if done.is_some() {
                return Ok(if skipped > 0 { Line::TooLong(skipped) } else { Line::Message(trim_cr(line)) });
            }
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

    async fn all(input: &[u8], limit: usize) -> Vec<Line> {
        let mut r = LineReader::with_limit(tokio::io::BufReader::with_capacity(4, input), limit);
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
                Line::TooLong(16),
                Line::Message(b"ok".to_vec()),
                Line::TooLong(16),
                Line::Eof
            ]
        );
    }
}
