//! Two figures beside the relay's: calls allowed by a lease, 1, 8 and 64 at once (each has
//! its `decision` on disk before it is forwarded: the write-ahead path, where concurrent
//! records share one `fdatasync`), and startup (spawn to the answers of `initialize` and
//! `tools/list`) of the fake server alone against `countersign -- <server>` with an
//! approval book, pins and a sealing key in play.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use countersign::edge::approvals::Store;
use countersign::edge::pin_store::PinStore;

use super::driver::{copy_command, isolated, wrapped};
use super::report::{median, ms, percentile, verdict};
use super::session::Session;

/// The server label the lease is for, and the destructive tool of the fake server.
const LABEL: &str = "bench-lease";
const TOOL: &str = "edit";

/// How many calls go at once, and how many times.
const BURSTS: [(usize, usize); 3] = [(1, 300), (8, 60), (64, 12)];

/// `countersign --name bench-lease` over the fake server (not headless: a headless session
/// keeps no book and so honours no lease), with its own state and audit directories under
/// `scratch`.
fn gate(countersign: &Path, me: &Path, scratch: &Path) -> Command {
    let mut cmd = Command::new(countersign);
    cmd.args(["--name", LABEL]).arg("--audit-dir").arg(scratch.join("lease-audit"));
    cmd.arg("--").arg(me).arg("--role-server");
    isolated(&mut cmd, scratch, &state(scratch));
    wrapped(cmd)
}

fn state(scratch: &Path) -> PathBuf {
    scratch.join("lease-state")
}

/// Lease-allowed call latencies: (calls at once, p50, p99) in nanoseconds.
pub(crate) fn lease_latency(countersign: &Path, me: &Path, scratch: &Path, bench: bool) -> Vec<(usize, u64, u64)> {
    let mut s = Session::start("lease", gate(countersign, me, scratch), false);
    s.handshake();
    grant(scratch);
    let mut figures = Vec::new();
    for (at_once, times) in BURSTS {
        let mut samples = Vec::new();
        for _ in 0..if bench { times } else { 2 } {
            samples.extend(s.burst(TOOL, at_once).into_iter().map(|d| d.as_nanos() as u64));
        }
        figures.push((at_once, median(&samples), percentile(&samples, 99.0)));
    }
    s.finish();
    figures
}

/// Grants the lease on [`TOOL`] under the definition countersign pinned for it (as the
/// `a` key does), straight into the book.
fn grant(scratch: &Path) {
    let pins_dir = state(scratch).join("pins");
    let deadline = Instant::now() + Duration::from_secs(10);
    let definition = loop {
        // The pins are written by a worker of the session: soon after the listing.
        let pins = PinStore::in_dir(&pins_dir, LABEL).load().unwrap_or_default();
        if let Some(pin) = pins.get(TOOL) {
            break pin.pinned.digest.clone();
        }
        assert!(Instant::now() < deadline, "no pin for {TOOL} under {}", pins_dir.display());
        std::thread::sleep(Duration::from_millis(5));
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64;
    let audit = scratch.join("lease-audit").display().to_string();
    Store::in_dir(&state(scratch))
        .update(now, |book| book.grant_lease(|| "bench1".into(), LABEL, TOOL, &Some(definition), "bench", &audit, now))
        .expect("grant the lease");
}

/// Startup medians over `n` starts, in nanoseconds: (direct, countersign) times to the
/// answer of `initialize` and to that of `tools/list`.
pub(crate) fn startup(countersign: &Path, me: &Path, scratch: &Path, n: usize) -> [(u64, u64); 2] {
    // A sealing key, so that a start also looks for days to seal.
    let mut keygen = Command::new(countersign);
    keygen.args(["audit", "keygen"]).env("COUNTERSIGN_HOME", state(scratch));
    let made = keygen.stdin(Stdio::null()).stdout(Stdio::null()).status().expect("run countersign audit keygen");
    assert!(made.success(), "countersign audit keygen: {made}");
    let mut direct = Command::new(me);
    direct.arg("--role-server");
    let mut wrapped = gate(countersign, me, scratch);
    // No large answer to build: the fake server starts in a few hundred microseconds. And
    // no `LD_LIBRARY_PATH` (cargo sets one for the bench): with it, the loader of each
    // program tries some forty paths before the system's, which countersign would pay
    // twice (itself and the server it starts), where a client starts either without it.
    for cmd in [&mut direct, &mut wrapped] {
        cmd.env("CS_BENCH_BIG_BYTES", "0").env_remove("LD_LIBRARY_PATH");
    }
    let mut times = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    for _ in 0..n {
        for (i, cmd) in [&direct, &wrapped].into_iter().enumerate() {
            let started = Instant::now();
            let mut s =
                Session::start(if i == 0 { "direct start" } else { "countersign start" }, copy_command(cmd), false);
            s.request(
                "initialize",
                r#"{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"relay-bench","version":"1"}}"#,
            );
            times[i].0.push(started.elapsed().as_nanos() as u64);
            s.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
            s.request("tools/list", "{}");
            times[i].1.push(started.elapsed().as_nanos() as u64);
            s.finish();
        }
    }
    times.map(|(init, list)| (median(&init), median(&list)))
}

pub(crate) fn print(leases: &[(usize, u64, u64)], startup: &[(u64, u64); 2]) {
    println!("lease-allowed destructive calls (decision on disk before forwarding), sent at once:");
    for &(at_once, p50, p99) in leases {
        let target =
            if at_once == 8 { format!("target p50 <= 2 ms   {}", verdict(p50 <= 2_000_000)) } else { String::new() };
        println!("  {at_once:>3} at once   p50 {:>9}   p99 {:>9}   {target}", ms(p50), ms(p99));
    }
    let [(direct_init, direct_list), (gate_init, gate_list)] = *startup;
    let added = gate_init.saturating_sub(direct_init);
    println!("startup (spawn to the answer; a book with a lease, pins and a sealing key in play):");
    println!(
        "  initialize  server alone {:>9}   countersign {:>9}   +{:<9} target <= +5 ms   {}",
        ms(direct_init),
        ms(gate_init),
        ms(added),
        verdict(added <= 5_000_000)
    );
    println!(
        "  tools/list  server alone {:>9}   countersign {:>9}   +{}",
        ms(direct_list),
        ms(gate_list),
        ms(gate_list.saturating_sub(direct_list))
    );
}
