//! The edges: each wraps one OS resource.

pub mod approvals;
pub mod approver;
pub mod audit_log;
pub mod child;
pub mod clock;
pub mod crash;
pub mod desktop;
pub mod lines;
pub mod locked_file;
pub mod logging;
pub mod pin_store;
pub mod runtime_dir;
pub mod stderr;
pub mod stdio;
pub mod tty;
pub mod users;
pub mod web;
