//! What countersign costs on the wire: one client workload driven, in one run, through
//!
//! * `direct`: the fake server alone;
//! * `bare relay`: a byte relay that parses nothing (below), the floor for any stdio
//!   interposer: two threads, plain `read`/`write` of 64 KiB, no framing;
//! * `line relay`: the same, but forwarding whole lines (read to the newline, then write),
//!   for information: the floor for an interposer that must see a message whole;
//! * `loop relay`: whole lines again, but on one thread with tokio's event loop, as
//!   countersign runs, for information: what the event loop itself costs;
//! * `line, 1 MiB`: the line relay with the two pipes that carry the server's answers
//!   enlarged to 1 MiB, as countersign enlarges them, for information: the floor for
//!   countersign's way of passing a large message whole;
//! * `work floor`: whole lines again, on blocking threads, with the per-call work a gate
//!   must do (parse both lines, classify, digest, two chained audit records) done plainly
//!   with serde_json, for information: what that work costs before any design of
//!   countersign's (`relay/floor.rs`);
//! * `countersign`: `countersign --headless --audit-dir DIR -- <fake server>`, audit on.
//!
//! Then, through `countersign --name bench-lease` with an approval book holding a lease on
//! the fake server's destructive tool `edit` (`relay/lease.rs`): calls of `edit` sent 1, 8
//! and 64 at once, each answered only after its `decision` is on disk, their latency p50
//! and p99; and startup, spawn to the answers of `initialize` and `tools/list`, median of
//! `CS_BENCH_STARTS` (50) starts of the fake server alone and of countersign over it with
//! the book, its pins and a sealing key in play.
//!
//! It prints the round-trip time of one read-only `tools/call` (median over thousands of
//! sequential calls, in rounds that alternate between the setups), the time to pass one
//! 16 MiB result, and the idle and peak resident memory of the relaying process, each with
//! its ratio to the bare relay and PASS/MISS against the targets in docs/performance.md.
//!
//! Run: `cargo bench --bench relay` (cargo builds the countersign binary for a bench and
//! names it in `CARGO_BIN_EXE_countersign`; `COUNTERSIGN_BIN` points elsewhere). Sizes:
//! `CS_BENCH_ROUNDS` (7), `CS_BENCH_CALLS` (5000 per setup and round), `CS_BENCH_WARMUP`
//! (500), `CS_BENCH_BIG_MIB` (16), `CS_BENCH_BIG_REPS` (15), `CS_BENCH_IDLE_MIB` (4, the
//! idle target for private memory), `CS_BENCH_TIMEOUT_S` (600), `CS_BENCH_STARTS` (50),
//! `CS_BENCH_WRAP` (a command that the relays and countersign are started under, such as a
//! profiler; words split on spaces). Without `--bench` (`cargo test --benches`) it does a smoke run with small sizes.
//!
//! This one executable plays every part: with `--role-server` it is the fake server, with
//! `--role-relay -- CMD...` the bare relay, with `--role-line-relay -- CMD...` the line
//! relay (`--role-line-relay-1m` with 1 MiB pipes), with `--role-loop-relay -- CMD...` the
//! loop relay, with `--role-work-floor -- CMD...` the work floor, and otherwise the client
//! that drives and measures. The fake server is canned: it finds the method, the id and
//! whether the tool is `big` with plain byte searches, and writes precomputed answers, so
//! its own time does not hide the relay's.
#![allow(clippy::unwrap_used, unsafe_code)]

#[path = "relay/bare.rs"]
mod bare;
#[path = "relay/driver.rs"]
mod driver;
#[path = "relay/event_loop.rs"]
mod event_loop;
#[path = "relay/floor.rs"]
mod floor;
#[path = "relay/lease.rs"]
mod lease;
#[path = "relay/report.rs"]
mod report;
#[path = "relay/server.rs"]
mod server;
#[path = "relay/session.rs"]
mod session;

const MIB: usize = 1 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--role-server") => server::fake_server(),
        Some("--role-relay") => bare::bare_relay(&args[2..], false, false),
        Some("--role-line-relay") => bare::bare_relay(&args[2..], true, false),
        Some("--role-line-relay-1m") => bare::bare_relay(&args[2..], true, true),
        Some("--role-loop-relay") => event_loop::loop_relay(&args[2..]),
        Some("--role-work-floor") => floor::work_floor(&args[2..]),
        // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: a smoke run.
        _ => driver::driver(args.iter().any(|a| a == "--bench")),
    }
}

fn env_num(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
