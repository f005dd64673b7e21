//! The event-loop relay (`--role-loop-relay`): whole lines, as the line relay, but the way
//! countersign carries them: one thread, tokio's current-thread runtime over `epoll`,
//! non-blocking pipes, a task per direction. It reads nothing in the lines, so the gap
//! between it and the bare relay is what the event loop itself costs per message, and the
//! gap between it and countersign is countersign's own work.

use std::os::fd::OwnedFd;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;

use super::bare::{spawn_server, OwnedFdExt};
use super::MIB;

pub(crate) fn loop_relay(args: &[String]) {
    let mut child = spawn_server(args, "loop relay");
    let child_in = OwnedFd::from(child.stdin.take().expect("piped"));
    let child_out = OwnedFd::from(child.stdout.take().expect("piped"));
    let stdin = std::io::stdin().as_fd_owned();
    let stdout = std::io::stdout().as_fd_owned();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let from_client = pipe::Receiver::from_owned_fd(stdin).expect("stdin is a pipe");
        let to_client = pipe::Sender::from_owned_fd(stdout).expect("stdout is a pipe");
        let from_server = pipe::Receiver::from_owned_fd(child_out).expect("a pipe");
        let to_server = pipe::Sender::from_owned_fd(child_in).expect("a pipe");
        // Closes the server's stdin at the client's end of file.
        let up = tokio::spawn(pump_lines(from_client, to_server));
        pump_lines(from_server, to_client).await;
        up.abort();
    });
    let status = child.wait().map(|s| s.code().unwrap_or(1)).unwrap_or(1);
    std::process::exit(status);
}

/// Reads (64 KiB at a time) up to a newline, then writes the line whole.
async fn pump_lines(from: pipe::Receiver, mut to: pipe::Sender) {
    let mut from = BufReader::with_capacity(64 << 10, from);
    let mut line = Vec::new();
    loop {
        line.clear();
        match from.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if to.write_all(&line).await.is_err() {
            return;
        }
        if line.capacity() > MIB {
            line = Vec::new();
        }
    }
}
