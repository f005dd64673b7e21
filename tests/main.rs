//! The integration tests, as one binary: each file here is a module of it, and `support`
//! is compiled once for all of them. One binary is one link instead of one per file,
//! which was most of what `cargo test` cost from clean.
//!
//! The tests run on threads of this one process, so a test must not change what the
//! process shares: it hands its environment and working directory to the child it starts
//! (`Command::env`, `Command::current_dir`), never `std::env::set_var` or
//! `set_current_dir`; it installs no signal handler; and what it measures of a child it
//! measures of that child alone (`wait4`, `/proc/<pid>/status`), never of all children.
//! Run one file's tests with `cargo test --test integration <file>::`.

mod support;

mod approvals;
mod approver;
mod architecture;
mod audit;
mod audit_faults;
mod audit_leaks;
mod audit_scale;
mod audit_seal;
mod browser;
mod client_dialog;
mod crash;
mod demo;
mod faults;
mod gate;
mod generated;
mod install;
mod interop;
mod memory;
mod operator;
mod pins;
mod prompt;
mod properties;
mod receipts;
mod relay;
mod session;
mod settings;
mod soak;
mod web;
