//! One setup under measurement: a process the bench talks to as an MCP client, and what
//! was measured of it.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::server::raw_field;
use super::{find, MIB};

pub(crate) struct Session {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    pub(crate) input: Option<Box<dyn Write>>,
    pub(crate) output: BufReader<Box<dyn Read>>,
    pub(crate) next_id: u64,
    pub(crate) request: Vec<u8>,
    pub(crate) answer: Vec<u8>,
    pub(crate) rtt: Vec<u64>,
    pub(crate) round_medians: Vec<u64>,
    pub(crate) big: Vec<u64>,
    pub(crate) idle_rss: u64,
    /// The anonymous part of `idle_rss` (heap, stacks): the rest is mapped code and data.
    pub(crate) idle_anon: u64,
    pub(crate) small_hwm: u64,
    pub(crate) peak_hwm: u64,
    /// CPU time (all threads) spent during the round trips and during the large results.
    pub(crate) rtt_cpu: u64,
    pub(crate) big_cpu: u64,
    /// The audit thread's share of `rtt_cpu` (countersign only).
    pub(crate) rtt_audit_cpu: u64,
}

impl Session {
    /// Starts `cmd` with pipes for stdin and stdout, or with socket pairs as Node.js
    /// clients (libuv) give their servers.
    pub(crate) fn start(name: &'static str, mut cmd: Command, sockets: bool) -> Session {
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
            rtt_audit_cpu: 0,
        }
    }

    pub(crate) fn send(&mut self, line: &[u8]) {
        let input = self.input.as_mut().expect("open");
        input.write_all(line).unwrap_or_else(|e| panic!("{}: write: {e}", self.name));
    }

    /// One request, its answer in `self.answer`; returns the time between the two.
    pub(crate) fn request(&mut self, method: &str, params: &str) -> Duration {
        self.next_id += 1;
        self.request.clear();
        write!(self.request, r#"{{"jsonrpc":"2.0","id":{},"method":"{method}","params":{params}}}"#, self.next_id)
            .unwrap();
        self.request.push(b'\n');
        let started = Instant::now();
        let input = self.input.as_mut().expect("open");
        input.write_all(&self.request).unwrap_or_else(|e| panic!("{}: write: {e}", self.name));
        let id = self.next_id;
        self.next_answer(|| format!("{method} #{id}"));
        let took = started.elapsed();
        let want = self.next_id.to_string();
        let got = raw_field(&self.answer[..self.answer.len().min(40)], b"\"id\":").unwrap_or(b"");
        if got != want.as_bytes() {
            panic!("{}: answer for id {} while waiting for {want}", self.name, String::from_utf8_lossy(got));
        }
        took
    }

    /// Reads lines into `self.answer` until one is an answer (has an id), skipping
    /// anything else (a notification). `waiting_for` names what, should the output end.
    fn next_answer(&mut self, waiting_for: impl Fn() -> String) {
        loop {
            self.answer.clear();
            let n = self.output.read_until(b'\n', &mut self.answer).unwrap_or_else(|e| panic!("{}: {e}", self.name));
            if n == 0 {
                panic!("{}: end of output while waiting for {}", self.name, waiting_for());
            }
            if raw_field(&self.answer[..self.answer.len().min(40)], b"\"id\":").is_some() {
                return;
            }
        }
    }

    pub(crate) fn handshake(&mut self) {
        self.request(
            "initialize",
            r#"{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"relay-bench","version":"1"}}"#,
        );
        self.expect(b"\"protocolVersion\"", "initialize");
        self.send(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
        self.request("tools/list", "{}");
        self.expect(b"\"echo\"", "tools/list");
    }

    pub(crate) fn expect(&self, needle: &[u8], what: &str) {
        if find(&self.answer, needle).is_none() {
            panic!("{}: unexpected answer to {what}: {}", self.name, String::from_utf8_lossy(&self.answer));
        }
    }

    pub(crate) fn echo(&mut self) -> Duration {
        let took = self.request("tools/call", r#"{"name":"echo","arguments":{"text":"hello"}}"#);
        if find(&self.answer, b"echo ran with").is_none() {
            panic!("{}: the echo call did not run: {}", self.name, String::from_utf8_lossy(&self.answer));
        }
        took
    }

    /// `n` calls of `tool` written at once; returns the time from that write to each
    /// answer, which must be the tool's (not a denial).
    pub(crate) fn burst(&mut self, tool: &str, n: usize) -> Vec<Duration> {
        self.request.clear();
        for _ in 0..n {
            self.next_id += 1;
            writeln!(
                self.request,
                r#"{{"jsonrpc":"2.0","id":{},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"n":{}}}}}}}"#,
                self.next_id, self.next_id
            )
            .unwrap();
        }
        let started = Instant::now();
        let input = self.input.as_mut().expect("open");
        input.write_all(&self.request).unwrap_or_else(|e| panic!("{}: write: {e}", self.name));
        let mut took = Vec::with_capacity(n);
        while took.len() < n {
            self.next_answer(|| format!("a burst of {n}"));
            took.push(started.elapsed());
            if find(&self.answer, b"echo ran with").is_none() {
                panic!("{}: a call of {tool} did not run: {}", self.name, String::from_utf8_lossy(&self.answer));
            }
        }
        took
    }

    pub(crate) fn big(&mut self, bytes: usize) -> Duration {
        let params = format!(r#"{{"name":"big","arguments":{{"size":{bytes}}}}}"#);
        let took = self.request("tools/call", &params);
        let tail = &self.answer[self.answer.len().saturating_sub(64)..];
        if self.answer.len() < bytes || find(tail, b"\"isError\":false").is_none() {
            let head = &self.answer[..self.answer.len().min(300)];
            panic!("{}: big answer of {} bytes: {}", self.name, self.answer.len(), String::from_utf8_lossy(head));
        }
        took
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes the client's end and waits for the process.
    pub(crate) fn finish(mut self) -> Session {
        drop(self.input.take());
        let status = self.child.wait().unwrap_or_else(|e| panic!("{}: wait: {e}", self.name));
        if !status.success() {
            eprintln!("warning: {} exited with {status}", self.name);
        }
        self
    }
}

/// (VmRSS, VmHWM, RssAnon) of `pid`, in bytes.
pub(crate) fn memory(pid: u32) -> (u64, u64, u64) {
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
pub(crate) fn cpu_time(pid: u32) -> u64 {
    stat_cpu(&format!("/proc/{pid}/stat")).map_or(0, |(_, ns)| ns)
}

/// The part of [`cpu_time`] spent by `pid`'s threads named `name`
/// (countersign names its audit thread; the rest is the session's thread and short-lived
/// helpers).
pub(crate) fn thread_cpu_time(pid: u32, name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| stat_cpu(&task.path().join("stat").to_string_lossy()))
        // `/proc` shows the first 15 bytes of a thread's name.
        .filter(|(comm, _)| *comm == name[..name.len().min(15)])
        .map(|(_, ns)| ns)
        .sum()
}

/// The command name and user plus system CPU time, in nanoseconds, of a `stat` file of
/// `/proc`.
fn stat_cpu(path: &str) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name is in parentheses and may hold spaces.
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(').map_or("", |(_, c)| c).to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some((comm, (ticks(11) + ticks(12)) * 1_000_000_000 / hz))
}
