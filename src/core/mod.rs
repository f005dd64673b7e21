//! The pure core: decides, never does I/O. No tokio, no filesystem, no clock, no process
//! (a test in tests/architecture.rs keeps it that way).

pub mod approval_page;
pub mod approvals;
pub mod audit;
pub mod classify;
pub mod config;
pub mod digest;
pub mod gate;
pub mod json;
pub mod label;
pub mod pins;
pub mod policy;
pub mod prompt;
pub mod prompt_changes;
pub mod protocol;
pub mod sanitize;
pub mod session;
pub mod task;
