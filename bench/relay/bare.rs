//! The bare relays (`--role-relay`, `--role-line-relay`): the floor for any stdio
//! interposer, and for one that must see each message whole.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use super::MIB;

/// With `framed`, each direction forwards whole lines: read up to the newline, then write
/// the line (still no parsing). That is the floor for a relay that must see a message
/// whole before passing it on, as a gate that validates does. With `big_pipes` as well,
/// it passes lines as countersign does: the two pipes that carry the server's answers
/// enlarged to 1 MiB, a long line read straight into itself up to 1 MiB at a time and
/// written with one call: the floor for countersign's own way of passing a large message.
pub(crate) fn bare_relay(args: &[String], framed: bool, big_pipes: bool) {
    let mut child = spawn_server(args, "bare relay");
    let child_in = child.stdin.take().expect("piped");
    let child_out = child.stdout.take().expect("piped");
    if big_pipes {
        let _ = rustix::pipe::fcntl_setpipe_size(&child_out, MIB);
        let _ = rustix::pipe::fcntl_setpipe_size(io::stdout(), MIB);
    }
    // Our own fds as plain files: no Stdin buffer, no LineWriter on stdout.
    let stdin = std::fs::File::from(io::stdin().lock().as_fd_owned());
    let stdout = std::fs::File::from(io::stdout().lock().as_fd_owned());
    if framed && big_pipes {
        std::thread::spawn(move || pump_lines_long(stdin.into(), Box::new(child_in)));
        pump_lines_long(child_out.into(), Box::new(stdout));
    } else {
        let pump = if framed { pump_lines } else { pump };
        std::thread::spawn(move || pump(Box::new(stdin), Box::new(child_in))); // closes child_in at our EOF
        pump(Box::new(child_out), Box::new(stdout));
    }
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

/// Copies whole lines as countersign reads them: into the line itself, with room for
/// 1 MiB more at each read (no second buffer, no copy but the kernel's), then one write.
pub(crate) fn pump_lines_long(from: std::os::fd::OwnedFd, mut to: Box<dyn Write>) {
    let mut line: Vec<u8> = Vec::new();
    // Bytes of `line` known to hold no newline.
    let mut searched = 0;
    loop {
        if let Some(at) = memchr::memchr(b'\n', &line[searched..]) {
            let end = searched + at + 1;
            if to.write_all(&line[..end]).is_err() {
                return;
            }
            // What followed goes into a new line, as a relay that frees each message would.
            line = line.split_off(end);
            searched = 0;
            continue;
        }
        searched = line.len();
        if line.capacity() - line.len() < MIB {
            line.reserve_exact(MIB.max(line.len() / 2));
        }
        match rustix::io::read(&from, rustix::buffer::spare_capacity(&mut line)) {
            Ok(0) => return,
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

/// Copies whole lines: reads (64 KiB at a time) up to a newline, then writes the line.
pub(crate) fn pump_lines(from: Box<dyn Read>, mut to: Box<dyn Write>) {
    each_line(from, |line| to.write_all(line).is_ok());
}

/// Hands `each` every line of `from` (read 64 KiB at a time, its newline kept) until the
/// end, a read error, or `each` says stop.
pub(crate) fn each_line(from: impl Read, mut each: impl FnMut(&[u8]) -> bool) {
    let mut from = BufReader::with_capacity(64 << 10, from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match from.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if !each(&line) {
            return;
        }
        if line.capacity() > MIB {
            line = Vec::new(); // as a relay that frees each message would
        }
    }
}
