//! The fake server (`--role-server`): canned. It finds the method, the id and whether the
//! tool is `big` with plain byte searches, and writes precomputed answers, so its own time
//! does not hide the relay's.

use std::io::{self, BufRead, BufReader, Write};

use super::{env_num, find, MIB};

pub(crate) const TOOLS: &str = r#"{"tools":[{"name":"echo","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}},{"name":"big","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}},{"name":"edit","inputSchema":{"type":"object"},"annotations":{"destructiveHint":true}}]}"#;
pub(crate) const INIT: &str =
    r#"{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"bench-fake","version":"1"}}"#;
pub(crate) const ECHO: &str =
    r#"{"content":[{"type":"text","text":"echo ran with {\"text\":\"hello\"}"}],"isError":false}"#;

/// `,"result":RESULT}\n`: what follows the id in an answer.
pub(crate) fn tail(result: &[u8]) -> Vec<u8> {
    let mut t = b",\"result\":".to_vec();
    t.extend_from_slice(result);
    t.extend_from_slice(b"}\n");
    t
}

pub(crate) fn fake_server() {
    let big_bytes = env_num("CS_BENCH_BIG_BYTES", 16 * MIB);
    let (init, tools, echo) = (tail(INIT.as_bytes()), tail(TOOLS.as_bytes()), tail(ECHO.as_bytes()));
    // `,"result":{...,"text":"xxx..."}...}\n` built in place: one copy of the large answer.
    let mut big = tail(br#"{"content":[{"type":"text","text":""#);
    big.truncate(big.len() - 2);
    big.reserve_exact(big_bytes + 64);
    big.resize(big.len() + big_bytes, b'x');
    big.extend_from_slice(b"\"}],\"isError\":false}}\n");
    let unknown = b",\"error\":{\"code\":-32601,\"message\":\"method not found\"}}\n".to_vec();

    let mut input = BufReader::with_capacity(64 << 10, io::stdin().lock());
    let mut out = io::BufWriter::with_capacity(64 << 10, io::stdout().lock());
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let Some(id) = raw_field(&line, b"\"id\":") else { continue }; // a notification
        let method = raw_field(&line, b"\"method\":").unwrap_or(b"");
        let answer = match method {
            b"\"tools/call\"" if find(&line, b"\"name\":\"big\"").is_some() => &big,
            b"\"tools/call\"" => &echo,
            b"\"initialize\"" => &init,
            b"\"tools/list\"" => &tools,
            _ => &unknown,
        };
        let ok = out
            .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":")
            .and_then(|()| out.write_all(id))
            .and_then(|()| out.write_all(answer))
            .and_then(|()| out.flush());
        if ok.is_err() {
            return;
        }
    }
}

/// The raw value after `key` when it is a number or a string without escapes.
pub(crate) fn raw_field<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = find(line, key)? + key.len();
    let rest = &line[at..];
    let start = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &rest[start..];
    let end = if rest.first() == Some(&b'"') {
        1 + rest[1..].iter().position(|&b| b == b'"')? + 1
    } else {
        rest.iter().position(|&b| b == b',' || b == b'}' || b.is_ascii_whitespace())?
    };
    Some(&rest[..end])
}
