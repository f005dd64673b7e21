//! The figures: statistics, units, and the table with its ratios and verdicts.

use std::time::Duration;

use super::driver::Sizes;
use super::session::Session;
use super::MIB;

/// What the run found besides each session's own figures.
pub(crate) struct Outcome {
    /// The largest answer passed, in bytes.
    pub(crate) largest: u64,
    pub(crate) measured: Duration,
    /// Audit records written, and the calls that should each have one of both.
    pub(crate) decisions: usize,
    pub(crate) results: usize,
    pub(crate) expected_calls: usize,
}

pub(crate) fn median(xs: &[u64]) -> u64 {
    percentile(xs, 50.0)
}

pub(crate) fn percentile(xs: &[u64], p: f64) -> u64 {
    if xs.is_empty() {
        return 0;
    }
    let mut v = xs.to_vec();
    v.sort_unstable();
    let rank = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[rank.min(v.len() - 1)]
}

pub(crate) fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn us(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1e3)
}

pub(crate) fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// Prints the table, the per-round detail and the verdicts; false when the audit did not
/// hold one decision and one result per call.
pub(crate) fn print(sizes: &Sizes, sessions: &[Session], outcome: &Outcome) -> bool {
    let Sizes { rounds, calls, big_bytes, big_reps, idle_target, .. } = *sizes;
    let Outcome { largest, measured, decisions, results, expected_calls } = *outcome;
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "setup", "rtt p50", "rtt p90", "rtt p99", "cpu/call", "big p50", "big MB/s", "cpu/big", "idle RSS", "peak RSS"
    );
    for s in sessions {
        let big = median(&s.big);
        let rate = if big > 0 { big_bytes as f64 / (big as f64 / 1e9) / 1e6 } else { 0.0 };
        println!(
            "{:<12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9.0} {:>9} {:>9} {:>9}",
            s.name,
            us(median(&s.rtt)),
            us(percentile(&s.rtt, 90.0)),
            us(percentile(&s.rtt, 99.0)),
            us(s.rtt_cpu / (rounds * calls).max(1) as u64),
            ms(big),
            rate,
            ms(s.big_cpu / big_reps.max(1) as u64),
            mib(s.idle_rss),
            mib(s.peak_hwm),
        );
    }
    println!("  (cpu/call, cpu/big: user+system time of that process, all threads, per call; for `direct` the");
    println!("  process is the fake server, whose memory also holds its precomputed large answer)");
    println!();
    println!("per-round rtt medians:");
    for s in sessions {
        let rounds: Vec<String> = s.round_medians.iter().map(|&m| format!("{:.1}", m as f64 / 1e3)).collect();
        println!("  {:<12} {} µs", s.name, rounds.join(" "));
    }
    println!("large result times, in order:");
    for s in sessions {
        let reps: Vec<String> = s.big.iter().map(|&m| format!("{:.1}", m as f64 / 1e6)).collect();
        println!("  {:<12} {} ms", s.name, reps.join(" "));
    }
    println!("peak RSS after the round trips, before any large result:");
    for s in sessions {
        println!("  {:<12} {}", s.name, mib(s.small_hwm));
    }
    let audit_ok = decisions == expected_calls && results == expected_calls;
    println!(
        "audit: {decisions} decision and {results} result records for {expected_calls} calls \
         (both countersign setups and the work floor){}",
        if audit_ok { "" } else { "  <-- UNEXPECTED" }
    );
    println!("measured in {:.1} s", measured.as_secs_f64());
    println!();

    let [direct, relay, line_relay, loop_relay, gate, gate_sockets, line_relay_1m, work_floor] = sessions else {
        panic!("the report expects the eight setups the driver starts");
    };
    let ratio = |a: u64, b: u64| if b == 0 { f64::NAN } else { a as f64 / b as f64 };
    println!("for scale, against the bare relay:");
    for s in [direct, line_relay, line_relay_1m, loop_relay, work_floor, gate_sockets] {
        println!(
            "  {:<12} round trip {:.2}x, cpu per call {:.2}x, large result {:.2}x, peak RSS {:.2}x",
            s.name,
            ratio(median(&s.rtt), median(&relay.rtt)),
            ratio(s.rtt_cpu, relay.rtt_cpu),
            ratio(median(&s.big), median(&relay.big)),
            ratio(s.peak_hwm, relay.peak_hwm),
        );
    }
    println!("countersign against the bare relay:");
    if rounds > 0 {
        let rtt = ratio(median(&gate.rtt), median(&relay.rtt));
        println!(
            "  round trip, read-only tools/call  {rtt:>6.2}x   target <= 1.25x                  {}",
            verdict(rtt <= 1.25)
        );
        let cpu = ratio(gate.rtt_cpu, relay.rtt_cpu);
        println!(
            "  cpu per call                      {cpu:>6.2}x   target <= 1.50x                  {}",
            verdict(cpu <= 1.5)
        );
        let per_call = |ns: u64| us(ns / (rounds * calls).max(1) as u64);
        println!(
            "    by thread: the session's {}, the audit thread's {}; the loop relay (its event loop, no work) {}",
            per_call(gate.rtt_cpu - gate.rtt_audit_cpu),
            per_call(gate.rtt_audit_cpu),
            per_call(loop_relay.rtt_cpu),
        );
        println!(
            "    the work floor (the same work done plainly, relay/floor.rs): round trip {:.2}x, cpu per call {:.2}x; countersign {:.2}x and {:.2}x that",
            ratio(median(&work_floor.rtt), median(&relay.rtt)),
            ratio(work_floor.rtt_cpu, relay.rtt_cpu),
            ratio(median(&gate.rtt), median(&work_floor.rtt)),
            ratio(gate.rtt_cpu, work_floor.rtt_cpu),
        );
    }
    if big_reps > 0 {
        let big = ratio(median(&gate.big), median(&relay.big));
        println!(
            "  pass one {:<8} result           {big:>6.2}x   target <= 1.30x                  {}",
            mib(big_bytes as u64),
            verdict(big <= 1.3)
        );
        println!(
            "    the floor for passing it whole with countersign's pipes (line, 1 MiB): {:.2}x; countersign {:.2}x that",
            ratio(median(&line_relay_1m.big), median(&relay.big)),
            ratio(median(&gate.big), median(&line_relay_1m.big)),
        );
        println!(
            "  peak RSS {:>9}                 {:>6.2}x   target <= 2 x largest message = {}   {}",
            mib(gate.peak_hwm),
            ratio(gate.peak_hwm, relay.peak_hwm),
            mib(2 * largest),
            verdict(gate.peak_hwm <= 2 * largest)
        );
    }
    // Idle is read on private memory: the mapped code is shared by every countersign
    // process of the user (one per server) and with the page cache (docs/performance.md).
    println!(
        "  idle private memory {:>9}      {:>6.2}x   target <= {}                       {}",
        mib(gate.idle_anon),
        ratio(gate.idle_anon, relay.idle_anon),
        mib(idle_target),
        verdict(gate.idle_anon <= idle_target)
    );
    println!(
        "    idle RSS in all {} (bare relay {}): the rest is mapped code and libc, shared",
        mib(gate.idle_rss),
        mib(relay.idle_rss)
    );
    audit_ok
}
