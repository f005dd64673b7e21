//! countersign's own work per call, without any I/O: the pure core driven in a loop with
//! the lines the relay benchmark's client and fake server exchange (one read-only
//! `tools/call` and its answer), and the audit records of that call rendered and hashed
//! as the audit thread does. Run: `cargo bench --bench core` (`CS_CORE_CALLS`, 200000).
//!
//! The relay benchmark measures what a call costs through the binary; this one shows how
//! much of that is the core's work, step by step, with warm caches.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use countersign::core::audit::{advance, render, ChainHead, Event, Origin};
use countersign::core::policy::Policy;
use countersign::core::session::{inbound, outbound, Action, Now, Session, Settings};
use sha2::{Digest, Sha256};

fn main() {
    let calls: usize = std::env::var("CS_CORE_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
    let calls = if std::env::args().any(|a| a == "--bench") { calls } else { 1000 };
    let evict: usize = std::env::var("CS_CORE_EVICT_KIB").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut scratch = vec![0u8; evict << 10];
    let syscalls: usize = std::env::var("CS_CORE_SYSCALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut session = Session::new(Settings {
        session: "0123456789abcdef".into(),
        label: "bench".into(),
        policy: Policy::default(),
        headless: true,
        approval_timeout: Duration::from_secs(60),
        pins: Default::default(),
        dialog: None,
    });
    let origin = Origin { session: "0123456789abcdef".into(), server: "bench".into() };
    let mut head = ChainHead { seq: 0, hash: "0".repeat(64) };
    let start = Instant::now();
    let now = || Now { mono: start.elapsed(), wall_micros: 1_764_000_000_000_000 + start.elapsed().as_micros() as i64 };
    let mut out = Vec::new();
    // The handshake, so that `echo` is known read-only.
    let handshake = [
        (
            "initialize",
            r#"{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"core-bench","version":"1"}}"#,
            r#"{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"bench-fake","version":"1"}}"#,
        ),
        (
            "tools/list",
            "{}",
            r#"{"tools":[{"name":"echo","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}]}"#,
        ),
    ];
    for (n, (method, params, result)) in handshake.iter().enumerate() {
        let id = n + 1;
        let request = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#);
        session.client(inbound::read(request.into_bytes()), now(), &mut out);
        let answer = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#);
        session.server(outbound::read(Bytes::from(answer.into_bytes())), now(), &mut out);
        if n == 0 {
            let note = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec();
            session.client(inbound::read(note), now(), &mut out);
        }
        out.clear();
    }

    let echo = r#"{"content":[{"type":"text","text":"echo ran with {\"text\":\"hello\"}"}],"isError":false}"#;
    let mut steps = [Duration::ZERO; 5];
    let mut records = Vec::<Event>::new();
    let mut bytes = 0usize;
    let mut lines = Vec::new();
    let total = Instant::now();
    for n in 0..calls {
        let id = n + 10;
        let request =
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"hello"}}}}}}"#)
                .into_bytes();
        let answer = Bytes::from(format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{echo}}}"#).into_bytes());
        if evict > 0 {
            // What other processes do to the caches while the relay sleeps.
            for i in (0..scratch.len()).step_by(64) {
                scratch[i] = scratch[i].wrapping_add(1);
            }
            std::hint::black_box(&scratch);
        }
        for _ in 0..syscalls {
            // Each one enters the kernel and leaves it, as the relay does between messages.
            std::hint::black_box(rustix::process::getppid());
        }
        let t0 = Instant::now();
        let line = inbound::read(request);
        let t1 = Instant::now();
        session.client(line, now(), &mut out);
        let t2 = Instant::now();
        let line = outbound::read(answer);
        let t3 = Instant::now();
        session.server(line, now(), &mut out);
        let t4 = Instant::now();
        for action in out.drain(..) {
            match action {
                Action::Record(event) | Action::RecordDurable(_, event) => records.push(event),
                Action::ToServer(_) | Action::ToClient(_) => {}
                other => panic!("a read-only call should not need {other:?}"),
            }
        }
        assert_eq!(records.len(), 2, "a decision and a result per call");
        for event in records.drain(..) {
            let line = render(&head, &origin, 1_764_000_000_000_000 + n as i64, &event);
            bytes += line.len();
            head = advance(&head, &line);
            if n == 0 {
                lines.push(line);
            }
        }
        let t5 = Instant::now();
        for (step, took) in steps.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4]) {
            *step += took;
        }
    }
    let total = total.elapsed();
    let per = |d: Duration| d.as_nanos() as f64 / calls as f64 / 1000.0;
    println!("countersign core, per read-only call ({calls} calls, warm caches):");
    for (name, d) in [
        "read the client's line",
        "session: client",
        "read the server's line",
        "session: server",
        "render + hash 2 records",
    ]
    .iter()
    .zip(steps)
    {
        println!("  {name:<26} {:>6.2} µs", per(d));
    }
    println!("  {:<26} {:>6.2} µs (with the loop's own work)", "all", per(total));
    println!("  audit bytes per call       {}", bytes / calls);
    // The floor of the records' part: SHA-256 over the same bytes, nothing else.
    let hashed = Instant::now();
    for _ in 0..calls {
        for line in &lines {
            std::hint::black_box(Sha256::digest(std::hint::black_box(line.as_bytes())));
        }
    }
    println!("  of which SHA-256 alone     {:>6.2} µs (the two records' chain hashes)", per(hashed.elapsed()));
    big_results(if calls > 1000 { 40 } else { 2 });
}

/// One 16 MiB result read as the relay reads a server's line (checked, scanned, its
/// envelope found): all ASCII, as the relay bench's `big` tool answers, and text that is
/// a third non-ASCII, whose UTF-8 is checked byte run by byte run.
fn big_results(reps: usize) {
    println!("one 16 MiB result, outbound::read ({reps} reads each):");
    for (name, unit) in [("ASCII text", "x".repeat(64)), ("mixed text", "héllo wörld, 日本語のテキスト 😀 ".repeat(2))]
    {
        let mut text = String::with_capacity(16 << 20);
        while text.len() < 16 << 20 {
            text.push_str(&unit);
        }
        let line = format!(
            r#"{{"jsonrpc":"2.0","id":7,"result":{{"content":[{{"type":"text","text":"{text}"}}],"isError":false}}}}"#
        );
        let line = Bytes::from(line.into_bytes());
        let mut best = Duration::MAX;
        let mut all = Duration::ZERO;
        for _ in 0..reps {
            let t = Instant::now();
            let read = outbound::read(std::hint::black_box(line.clone()));
            let took = t.elapsed();
            assert!(matches!(read, outbound::ServerLine::Single(_)), "the result reads as one answer");
            best = best.min(took);
            all += took;
        }
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("  {name:<26} {:>6.2} ms best, {:>6.2} ms mean", ms(best), ms(all / reps as u32));
    }
}
