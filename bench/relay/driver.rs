//! The client that drives every setup through the same workload, in alternating rounds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use countersign::edge::audit_log::AUDIT_THREAD;

use super::lease;
use super::report::{self, cpu_model, median, mib, Outcome};
use super::session::{cpu_time, memory, thread_cpu_time, Session};
use super::{env_num, MIB};

/// The workload's sizes (`CS_BENCH_*`).
#[derive(Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) rounds: usize,
    pub(crate) calls: usize,
    pub(crate) big_bytes: usize,
    pub(crate) big_reps: usize,
    pub(crate) idle_target: u64,
}

fn countersign_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("COUNTERSIGN_BIN") {
        return PathBuf::from(path);
    }
    if let Some(path) = option_env!("CARGO_BIN_EXE_countersign") {
        return PathBuf::from(path);
    }
    // target/release/deps/relay-HASH -> target/release/countersign
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent().and_then(Path::parent).expect("target dir").join("countersign")
}

/// `cmd` started under the command in `CS_BENCH_WRAP` (words split on spaces), for the
/// relays and countersign: a profiler or an instruction counter
/// (`bench/instructions.py` sets it).
pub(crate) fn wrapped(cmd: Command) -> Command {
    let Ok(wrap) = std::env::var("CS_BENCH_WRAP") else {
        return cmd;
    };
    let mut words = wrap.split_whitespace();
    let Some(program) = words.next() else {
        return cmd;
    };
    let mut outer = Command::new(program);
    outer.args(words).arg(cmd.get_program()).args(cmd.get_args());
    copy_env(&cmd, &mut outer);
    outer
}

/// A command like `cmd`: its program, arguments and environment changes.
pub(crate) fn copy_command(cmd: &Command) -> Command {
    let mut copy = Command::new(cmd.get_program());
    copy.args(cmd.get_args());
    copy_env(cmd, &mut copy);
    copy
}

fn copy_env(from: &Command, to: &mut Command) {
    for (k, v) in from.get_envs() {
        match v {
            Some(v) => to.env(k, v),
            None => to.env_remove(k),
        };
    }
}

/// `cmd` (countersign) with the built-in policy, its state in `state`, and nothing of
/// countersign's from the caller's environment.
pub(crate) fn isolated(cmd: &mut Command, scratch: &Path, state: &Path) {
    cmd.env("XDG_CONFIG_HOME", scratch.join("config")).env("COUNTERSIGN_HOME", state);
    for var in ["COUNTERSIGN_POLICY", "COUNTERSIGN_NAME", "COUNTERSIGN_AUDIT_RETENTION_DAYS", "RUST_LOG"] {
        cmd.env_remove(var);
    }
}

fn scratch_dir() -> PathBuf {
    let base = std::env::temp_dir();
    for n in 0.. {
        let dir = base.join(format!("countersign-bench-{}-{n}", std::process::id()));
        if std::fs::create_dir(&dir).is_ok() {
            return dir;
        }
    }
    unreachable!()
}

pub(crate) fn driver(bench: bool) {
    let full = |n: usize, smoke: usize| if bench { n } else { smoke };
    let rounds = env_num("CS_BENCH_ROUNDS", full(7, 1));
    let calls = env_num("CS_BENCH_CALLS", full(5000, 200)).max(1);
    let warmup = env_num("CS_BENCH_WARMUP", full(500, 20));
    let big_bytes = env_num("CS_BENCH_BIG_MIB", full(16, 1)) * MIB;
    let big_reps = env_num("CS_BENCH_BIG_REPS", full(15, 2));
    let idle_target = env_num("CS_BENCH_IDLE_MIB", 4) as u64 * MIB as u64;
    let sizes = Sizes { rounds, calls, big_bytes, big_reps, idle_target };
    let timeout = Duration::from_secs(env_num("CS_BENCH_TIMEOUT_S", 600) as u64);
    std::thread::spawn(move || {
        std::thread::sleep(timeout);
        // Our children see their stdin close and exit.
        eprintln!("relay bench: still running after {timeout:?} (CS_BENCH_TIMEOUT_S): giving up");
        std::process::exit(3);
    });

    let me = std::env::current_exe().expect("current_exe");
    let countersign = countersign_bin();
    if !countersign.is_file() {
        eprintln!(
            "countersign binary not found at {}: run `cargo bench --bench relay` (it builds the binary) \
             or set COUNTERSIGN_BIN",
            countersign.display()
        );
        std::process::exit(2);
    }
    let scratch = scratch_dir();
    let audit_dir = scratch.join("audit");

    println!("countersign relay benchmark");
    if !bench {
        println!("  SMOKE RUN (not started by `cargo bench`): small sizes, the figures mean nothing");
    }
    println!("  machine:      {} cores, {}", std::thread::available_parallelism().map_or(0, |n| n.get()), cpu_model());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load1: f64 = load.split_whitespace().next().and_then(|l| l.parse().ok()).unwrap_or(0.0);
    println!(
        "  load average: {}{}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        if load1 > 1.0 { "  <-- the machine is busy: expect noisy figures" } else { "" }
    );
    println!("  countersign:  {}", countersign.display());
    println!("  audit dir:    {}", audit_dir.display());
    println!(
        "  workload:     {rounds} rounds x {calls} sequential read-only tools/call per setup \
         (+{warmup} warm-up), {big_reps} x one {} result",
        mib(big_bytes as u64)
    );
    println!();

    let server = |cmd: &mut Command| {
        cmd.arg(&me).arg("--role-server");
    };
    let mut direct = Command::new(&me);
    direct.arg("--role-server");
    let mut relay = Command::new(&me);
    relay.args(["--role-relay", "--"]);
    server(&mut relay);
    let mut line_relay = Command::new(&me);
    line_relay.args(["--role-line-relay", "--"]);
    server(&mut line_relay);
    let mut line_relay_1m = Command::new(&me);
    line_relay_1m.args(["--role-line-relay-1m", "--"]);
    server(&mut line_relay_1m);
    let mut loop_relay = Command::new(&me);
    loop_relay.args(["--role-loop-relay", "--"]);
    server(&mut loop_relay);
    let floor_log = scratch.join("floor.jsonl");
    let mut work_floor = Command::new(&me);
    work_floor.args(["--role-work-floor", "--"]).env("CS_BENCH_FLOOR_LOG", &floor_log);
    server(&mut work_floor);
    let mut gate = Command::new(&countersign);
    gate.arg("--headless").arg("--audit-dir").arg(&audit_dir).arg("--");
    server(&mut gate);
    isolated(&mut gate, &scratch, &scratch.join("state"));
    // The same countersign, with socket pairs for stdio as under Node.js clients.
    let gate_sockets = copy_command(&gate);
    let mut sessions = Vec::new();
    let setups = [
        ("direct", direct, false),
        ("bare relay", relay, false),
        ("line relay", line_relay, false),
        ("loop relay", loop_relay, false),
        ("countersign", gate, false),
        ("cs, sockets", gate_sockets, true),
        ("line, 1 MiB", line_relay_1m, false),
        ("work floor", work_floor, false),
    ];
    for (name, cmd, sockets) in setups {
        let mut cmd = if name == "direct" { cmd } else { wrapped(cmd) };
        cmd.env("CS_BENCH_BIG_BYTES", big_bytes.to_string());
        sessions.push(Session::start(name, cmd, sockets));
    }
    let bench_started = Instant::now();
    for s in &mut sessions {
        s.handshake();
        for _ in 0..warmup {
            s.echo();
        }
    }
    std::thread::sleep(Duration::from_millis(300)); // let the audit writer settle
    for s in &mut sessions {
        let (rss, _, anon) = memory(s.pid());
        (s.idle_rss, s.idle_anon) = (rss, anon);
    }

    // Round trips: every round runs each setup once, the order rotating.
    let cpu: Vec<u64> = sessions.iter().map(|s| cpu_time(s.pid())).collect();
    let audit_cpu: Vec<u64> = sessions.iter().map(|s| thread_cpu_time(s.pid(), AUDIT_THREAD)).collect();
    for round in 0..rounds {
        for k in 0..sessions.len() {
            let i = (round + k) % sessions.len();
            let s = &mut sessions[i];
            let mut samples = Vec::with_capacity(calls);
            for _ in 0..calls {
                samples.push(s.echo().as_nanos() as u64);
            }
            s.round_medians.push(median(&samples));
            s.rtt.extend(samples);
        }
    }
    for ((s, before), audit_before) in sessions.iter_mut().zip(cpu).zip(audit_cpu) {
        s.small_hwm = memory(s.pid()).1;
        s.rtt_cpu = cpu_time(s.pid()) - before;
        s.rtt_audit_cpu = thread_cpu_time(s.pid(), AUDIT_THREAD) - audit_before;
    }

    // Large results, alternating too.
    if big_reps > 0 {
        for s in &mut sessions {
            s.answer.reserve(big_bytes + MIB);
        }
    }
    let cpu: Vec<u64> = sessions.iter().map(|s| cpu_time(s.pid())).collect();
    for rep in 0..big_reps {
        for k in 0..sessions.len() {
            let i = (rep + k) % sessions.len();
            let s = &mut sessions[i];
            let took = s.big(big_bytes);
            s.big.push(took.as_nanos() as u64);
        }
    }
    let largest = if big_reps > 0 { sessions[0].answer.len() as u64 } else { 0 };
    for (s, before) in sessions.iter_mut().zip(cpu) {
        s.peak_hwm = memory(s.pid()).1;
        s.big_cpu = cpu_time(s.pid()) - before;
        s.answer = Vec::new();
    }
    let measured = bench_started.elapsed();
    let sessions: Vec<Session> = sessions.into_iter().map(Session::finish).collect();

    // The audit really was on: one decision and one result per call, from the two
    // countersign setups (they share the audit directory) and from the work floor.
    let (mut decisions, mut results) = (0usize, 0usize);
    let logs = std::fs::read_dir(&audit_dir).into_iter().flatten().flatten().map(|e| e.path());
    for log in logs.filter(|p| p.extension().is_some_and(|e| e == "jsonl")).chain([floor_log]) {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        decisions += text.lines().filter(|l| l.contains("\"event\":\"decision\"")).count();
        results += text.lines().filter(|l| l.contains("\"event\":\"result\"")).count();
    }
    let expected_calls = 3 * (warmup + rounds * calls + big_reps);
    let outcome = Outcome { largest, measured, decisions, results, expected_calls };
    let audit_ok = report::print(&sizes, &sessions, &outcome);
    let leases = lease::lease_latency(&countersign, &me, &scratch, bench);
    let startup = lease::startup(&countersign, &me, &scratch, env_num("CS_BENCH_STARTS", full(50, 3)));
    lease::print(&leases, &startup);
    let _ = std::fs::remove_dir_all(&scratch);
    if !audit_ok {
        std::process::exit(1);
    }
}
