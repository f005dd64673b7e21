//! countersign: a gate between an MCP client and a stdio MCP server.
//!
//! Layout: [`core`] decides and does no I/O; [`edge`] wraps one OS resource per module;
//! [`relay`] wires them for one wrapped server; [`cmd`] holds the subcommands; [`cli`] is
//! the only module that knows about flags. [`Error`] and the exit statuses live in
//! `error.rs`, under every part that returns them.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod cmd;
pub mod core;
pub mod edge;
pub mod relay;

mod error;

pub use error::{Error, EXIT_CANNOT_EXECUTE, EXIT_FAILURE, EXIT_NOT_FOUND};

/// Runs what the command line asks for; returns the exit status.
pub fn run(cli: cli::Cli) -> Result<i32, Error> {
    cmd::run(cli)
}
