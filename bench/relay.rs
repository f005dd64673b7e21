//! What countersign costs on the wire: one client workload driven, in one run, through
//!
//! * `direct`: the fake server alone;
//! * `bare relay`: a byte relay that parses nothing (below), the floor for any stdio
//!   interposer: two threads, plain `read`/`write` of 64 KiB, no framing;
//! * `line relay`: the same, but forwarding whole lines (read to the newline, then write),
//!   for information: the floor for an interposer that must see a message whole;
//! * `countersign`: `countersign --headless --audit-dir DIR -- <fake server>`, audit on.
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
//! idle target for private memory), `CS_BENCH_TIMEOUT_S` (600). Without `--bench` (`cargo test --benches`) it
//! does a smoke run with small sizes.
//!
//! This one executable plays every part: with `--role-server` it is the fake server, with
//! `--role-relay -- CMD...` the bare relay, with `--role-line-relay -- CMD...` the line
//! relay, and otherwise the client that drives and measures. The fake server is canned: it
//! finds the method, the id and whether the tool is `big` with plain byte searches, and
//! writes precomputed answers, so its own time does not hide the relay's.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--role-server") => fake_server(),
        Some("--role-relay") => bare_relay(&args[2..], false),
        Some("--role-line-relay") => bare_relay(&args[2..], true),
        // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: a smoke run.
        _ => driver(args.iter().any(|a| a == "--bench")),
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

// ---------------------------------------------------------------------------------------
// The fake server.

const TOOLS: &str = r#"{"tools":[{"name":"echo","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}},{"name":"big","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}]}"#;
const INIT: &str =
    r#"{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"bench-fake","version":"1"}}"#;
const ECHO: &str = r#"{"content":[{"type":"text","text":"echo ran with {\"text\":\"hello\"}"}],"isError":false}"#;

/// `,"result":RESULT}\n`: what follows the id in an answer.
fn tail(result: &[u8]) -> Vec<u8> {
    let mut t = b",\"result\":".to_vec();
    t.extend_from_slice(result);
    t.extend_from_slice(b"}\n");
    t
}

fn fake_server() {
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
fn raw_field<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
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

// ---------------------------------------------------------------------------------------
// The bare relay.

/// With `framed`, each direction forwards whole lines: read up to the newline, then write
/// the line (still no parsing). That is the floor for a relay that must see a message
/// whole before passing it on, as a gate that validates does.
fn bare_relay(args: &[String], framed: bool) {
    let cmd = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    let mut child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("bare relay: cannot run {:?}: {e}", cmd[0]));
    let child_in = child.stdin.take().expect("piped");
    let child_out = child.stdout.take().expect("piped");
    // Our own fds as plain files: no Stdin buffer, no LineWriter on stdout.
    let stdin = std::fs::File::from(io::stdin().lock().as_fd_owned());
    let stdout = std::fs::File::from(io::stdout().lock().as_fd_owned());
    let pump = if framed { pump_lines } else { pump };
    std::thread::spawn(move || pump(Box::new(stdin), Box::new(child_in))); // closes child_in at our EOF
    pump(Box::new(child_out), Box::new(stdout));
    let status = child.wait().map(|s| s.code().unwrap_or(1)).unwrap_or(1);
    std::process::exit(status);
}

trait OwnedFdExt {
    fn as_fd_owned(&self) -> std::os::fd::OwnedFd;
}

impl<T: std::os::fd::AsFd> OwnedFdExt for T {
    fn as_fd_owned(&self) -> std::os::fd::OwnedFd {
        self.as_fd().try_clone_to_owned().expect("dup a standard stream")
    }
}

/// Copies until end of file with plain `read` and `write` (not `io::copy`, which may
/// splice between pipes: a relay that has to look at the bytes cannot).
fn pump(mut from: Box<dyn Read>, mut to: Box<dyn Write>) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

/// Copies whole lines: reads (64 KiB at a time) up to a newline, then writes the line.
fn pump_lines(from: Box<dyn Read>, mut to: Box<dyn Write>) {
    let mut from = BufReader::with_capacity(64 << 10, from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match from.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if to.write_all(&line).is_err() {
            return;
        }
        if line.capacity() > MIB {
            line = Vec::new(); // as a relay that frees each message would
        }
    }
}

// ---------------------------------------------------------------------------------------
// The driver.

struct Session {
    name: &'static str,
    child: Child,
    input: Option<Box<dyn Write>>,
    output: BufReader<Box<dyn Read>>,
    next_id: u64,
    request: Vec<u8>,
    answer: Vec<u8>,
    rtt: Vec<u64>,
    round_medians: Vec<u64>,
    big: Vec<u64>,
    idle_rss: u64,
    /// The anonymous part of `idle_rss` (heap, stacks): the rest is mapped code and data.
    idle_anon: u64,
    small_hwm: u64,
    peak_hwm: u64,
    /// CPU time (all threads) spent during the round trips and during the large results.
    rtt_cpu: u64,
    big_cpu: u64,
}

impl Session {
    /// Starts `cmd` with pipes for stdin and stdout, or with socket pairs as Node.js
    /// clients (libuv) give their servers.
    fn start(name: &'static str, mut cmd: Command, sockets: bool) -> Session {
        let mut ends = None;
        if sockets {
            let (ours_in, theirs_in) = UnixStream::pair().expect("socket pair");
            let (ours_out, theirs_out) = UnixStream::pair().expect("socket pair");
            cmd.stdin(OwnedFd::from(theirs_in)).stdout(OwnedFd::from(theirs_out));
            ends = Some((ours_in, ours_out));
        } else {
            cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        }
        let mut child =
            cmd.stderr(Stdio::inherit()).spawn().unwrap_or_else(|e| panic!("{name}: cannot start {cmd:?}: {e}"));
        drop(cmd);
        let (input, output): (Box<dyn Write>, Box<dyn Read>) = match ends {
            Some((input, output)) => (Box::new(input), Box::new(output)),
            None => (Box::new(child.stdin.take().expect("piped")), Box::new(child.stdout.take().expect("piped"))),
        };
        let input = Some(input);
        let output = BufReader::with_capacity(MIB, output);
        Session {
            name,
            child,
            input,
            output,
            next_id: 0,
            request: Vec::with_capacity(512),
            answer: Vec::with_capacity(4096),
            rtt: Vec::new(),
            round_medians: Vec::new(),
            big: Vec::new(),
            idle_rss: 0,
            idle_anon: 0,
            small_hwm: 0,
            peak_hwm: 0,
            rtt_cpu: 0,
            big_cpu: 0,
        }
    }

    fn send(&mut self, line: &[u8]) {
        let input = self.input.as_mut().expect("open");
        input.write_all(line).unwrap_or_else(|e| panic!("{}: write: {e}", self.name));
    }

    /// One request, its answer in `self.answer`; returns the time between the two.
    fn request(&mut self, method: &str, params: &str) -> Duration {
        self.next_id += 1;
        self.request.clear();
        write!(self.request, r#"{{"jsonrpc":"2.0","id":{},"method":"{method}","params":{params}}}"#, self.next_id)
            .unwrap();
        self.request.push(b'\n');
        let started = Instant::now();
        let input = self.input.as_mut().expect("open");
        input.write_all(&self.request).unwrap_or_else(|e| panic!("{}: write: {e}", self.name));
        loop {
            self.answer.clear();
            let n = self.output.read_until(b'\n', &mut self.answer).unwrap_or_else(|e| panic!("{}: {e}", self.name));
            if n == 0 {
                panic!("{}: end of output while waiting for {method} #{}", self.name, self.next_id);
            }
            // Skip anything that is not our answer (a notification, another id).
            let head = &self.answer[..self.answer.len().min(40)];
            if raw_field(head, b"\"id\":").is_some() {
                break;
            }
        }
        let took = started.elapsed();
        let want = self.next_id.to_string();
        let got = raw_field(&self.answer[..self.answer.len().min(40)], b"\"id\":").unwrap_or(b"");
        if got != want.as_bytes() {
            panic!("{}: answer for id {} while waiting for {want}", self.name, String::from_utf8_lossy(got));
        }
        took
    }

    fn handshake(&mut self) {
        self.request(
            "initialize",
            r#"{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"relay-bench","version":"1"}}"#,
        );
        self.expect(b"\"protocolVersion\"", "initialize");
        self.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
        self.request("tools/list", "{}");
        self.expect(b"\"echo\"", "tools/list");
    }

    fn expect(&self, needle: &[u8], what: &str) {
        if find(&self.answer, needle).is_none() {
            panic!("{}: unexpected answer to {what}: {}", self.name, String::from_utf8_lossy(&self.answer));
        }
    }

    fn echo(&mut self) -> Duration {
        let took = self.request("tools/call", r#"{"name":"echo","arguments":{"text":"hello"}}"#);
        if find(&self.answer, b"echo ran with").is_none() {
            panic!("{}: the echo call did not run: {}", self.name, String::from_utf8_lossy(&self.answer));
        }
        took
    }

    fn big(&mut self, bytes: usize) -> Duration {
        let params = format!(r#"{{"name":"big","arguments":{{"size":{bytes}}}}}"#);
        let took = self.request("tools/call", &params);
        let tail = &self.answer[self.answer.len().saturating_sub(64)..];
        if self.answer.len() < bytes || find(tail, b"\"isError\":false").is_none() {
            let head = &self.answer[..self.answer.len().min(300)];
            panic!("{}: big answer of {} bytes: {}", self.name, self.answer.len(), String::from_utf8_lossy(head));
        }
        took
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes the client's end and waits for the process.
    fn finish(mut self) -> Session {
        drop(self.input.take());
        let status = self.child.wait().unwrap_or_else(|e| panic!("{}: wait: {e}", self.name));
        if !status.success() {
            eprintln!("warning: {} exited with {status}", self.name);
        }
        self
    }
}

/// (VmRSS, VmHWM, RssAnon) of `pid`, in bytes.
fn memory(pid: u32) -> (u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"), field("RssAnon:"))
}

/// User plus system CPU time of `pid` and all its threads so far, in nanoseconds.
fn cpu_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    (ticks(11) + ticks(12)) * 1_000_000_000 / hz
}

fn median(xs: &[u64]) -> u64 {
    percentile(xs, 50.0)
}

fn percentile(xs: &[u64], p: f64) -> u64 {
    if xs.is_empty() {
        return 0;
    }
    let mut v = xs.to_vec();
    v.sort_unstable();
    let rank = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[rank.min(v.len() - 1)]
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

fn cpu_model() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned()))
        .unwrap_or_else(|| "unknown".into())
}

fn us(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1e3)
}

fn ms(ns: u64) -> String {
    format!("{:.2} ms", ns as f64 / 1e6)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn driver(bench: bool) {
    let full = |n: usize, smoke: usize| if bench { n } else { smoke };
    let rounds = env_num("CS_BENCH_ROUNDS", full(7, 1));
    let calls = env_num("CS_BENCH_CALLS", full(5000, 200)).max(1);
    let warmup = env_num("CS_BENCH_WARMUP", full(500, 20));
    let big_bytes = env_num("CS_BENCH_BIG_MIB", full(16, 1)) * MIB;
    let big_reps = env_num("CS_BENCH_BIG_REPS", full(15, 2));
    let idle_target = env_num("CS_BENCH_IDLE_MIB", 4) as u64 * MIB as u64;
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
    let mut gate = Command::new(&countersign);
    gate.arg("--headless").arg("--audit-dir").arg(&audit_dir).arg("--");
    server(&mut gate);
    // Built-in policy and nothing from the caller's environment.
    gate.env("XDG_CONFIG_HOME", scratch.join("config")).env("XDG_STATE_HOME", scratch.join("state"));
    for var in ["COUNTERSIGN_POLICY", "COUNTERSIGN_NAME", "COUNTERSIGN_AUDIT_RETENTION_DAYS", "RUST_LOG"] {
        gate.env_remove(var);
    }
    // The same countersign, with socket pairs for stdio as under Node.js clients.
    let mut gate_sockets = Command::new(gate.get_program());
    gate_sockets.args(gate.get_args());
    for (k, v) in gate.get_envs() {
        match v {
            Some(v) => gate_sockets.env(k, v),
            None => gate_sockets.env_remove(k),
        };
    }
    let mut sessions = Vec::new();
    let setups = [
        ("direct", direct, false),
        ("bare relay", relay, false),
        ("line relay", line_relay, false),
        ("countersign", gate, false),
        ("cs, sockets", gate_sockets, true),
    ];
    for (name, mut cmd, sockets) in setups {
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
    for (s, before) in sessions.iter_mut().zip(cpu) {
        s.small_hwm = memory(s.pid()).1;
        s.rtt_cpu = cpu_time(s.pid()) - before;
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

    // The audit really was on: one decision and one result per call.
    let (mut decisions, mut results) = (0usize, 0usize);
    if let Ok(entries) = std::fs::read_dir(&audit_dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().ends_with(".jsonl") {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                decisions += text.lines().filter(|l| l.contains("\"event\":\"decision\"")).count();
                results += text.lines().filter(|l| l.contains("\"event\":\"result\"")).count();
            }
        }
    }
    // Two countersign setups share the audit directory.
    let expected_calls = 2 * (warmup + rounds * calls + big_reps);

    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "setup", "rtt p50", "rtt p90", "rtt p99", "cpu/call", "big p50", "big MB/s", "cpu/big", "idle RSS", "peak RSS"
    );
    for s in &sessions {
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
    for s in &sessions {
        let rounds: Vec<String> = s.round_medians.iter().map(|&m| format!("{:.1}", m as f64 / 1e3)).collect();
        println!("  {:<12} {} µs", s.name, rounds.join(" "));
    }
    println!("large result times, in order:");
    for s in &sessions {
        let reps: Vec<String> = s.big.iter().map(|&m| format!("{:.1}", m as f64 / 1e6)).collect();
        println!("  {:<12} {} ms", s.name, reps.join(" "));
    }
    println!("peak RSS after the round trips, before any large result:");
    for s in &sessions {
        println!("  {:<12} {}", s.name, mib(s.small_hwm));
    }
    let audit_ok = decisions == expected_calls && results == expected_calls;
    println!(
        "audit: {decisions} decision and {results} result records for {expected_calls} calls{}",
        if audit_ok { "" } else { "  <-- UNEXPECTED" }
    );
    println!("measured in {:.1} s", measured.as_secs_f64());
    println!();

    let (direct, relay, line_relay, gate, gate_sockets) =
        (&sessions[0], &sessions[1], &sessions[2], &sessions[3], &sessions[4]);
    let ratio = |a: u64, b: u64| if b == 0 { f64::NAN } else { a as f64 / b as f64 };
    println!("for scale, against the bare relay:");
    for s in [direct, line_relay, gate_sockets] {
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
        println!(
            "  cpu per call                      {:>6.2}x   (for information)",
            ratio(gate.rtt_cpu, relay.rtt_cpu)
        );
    }
    if big_reps > 0 {
        let big = ratio(median(&gate.big), median(&relay.big));
        println!(
            "  pass one {:<8} result           {big:>6.2}x   target <= 1.50x                  {}",
            mib(big_bytes as u64),
            verdict(big <= 1.5)
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
    let _ = std::fs::remove_dir_all(&scratch);
    if !audit_ok {
        std::process::exit(1);
    }
}
