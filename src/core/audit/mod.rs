//! The audit log's pure parts: record shape, redaction, chain, verification, calendar.

pub mod record;
pub mod redact;
pub mod redact_raw;
pub mod time;
pub mod verify;

pub use record::{advance, line_hash, render, Args, ChainHead, Event, Origin, GENESIS, SCHEMA};
