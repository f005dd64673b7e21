//! The bare relays (`--role-relay`, `--role-line-relay`): the floor for any stdio
//! interposer, and for one that must see each message whole.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use super::MIB;

/// With `framed`, each direction forwards whole lines: read up to the newline, then write
/// the line (still no parsing). That is the floor for a relay that must see a message
/// whole before passing it on, as a gate that validates does.
pub(crate) fn bare_relay(args: &[String], framed: bool) {
    let mut child = spawn_server(args, "bare relay");
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

/// Starts the server named after the relay's `--`, its stdin and stdout piped to us.
pub(crate) fn spawn_server(args: &[String], relay: &str) -> Child {
    let cmd = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{relay}: cannot run {:?}: {e}", cmd[0]))
}

pub(crate) trait OwnedFdExt {
    fn as_fd_owned(&self) -> std::os::fd::OwnedFd;
}

impl<T: std::os::fd::AsFd> OwnedFdExt for T {
    fn as_fd_owned(&self) -> std::os::fd::OwnedFd {
        self.as_fd().try_clone_to_owned().expect("dup a standard stream")
    }
}

/// Copies until end of file with plain `read` and `write` (not `io::copy`, which may
/// splice between pipes: a relay that has to look at the bytes cannot).
pub(crate) fn pump(mut from: Box<dyn Read>, mut to: Box<dyn Write>) {
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
pub(crate) fn pump_lines(from: Box<dyn Read>, mut to: Box<dyn Write>) {
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
