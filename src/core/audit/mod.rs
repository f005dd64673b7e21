//! The audit log's pure parts: record shape, redaction, chain, verification, calendar.

pub mod argv;
pub mod cut;
pub mod excerpt;
pub mod record;
pub mod redact;
pub mod redact_raw;
pub mod seal;
pub mod secrets;
pub mod time;
pub mod verify;

pub use record::{
    advance, line_hash, render, render_onto, Args, ChainHead, Event, Later, Members, Origin, GENESIS, SCHEMA,
};
