//! Strict JSON: one scanner that refuses anything two JSON readers could read differently.
//!
//! RFC 8259 leaves duplicate object keys, lone surrogate escapes and numbers beyond IEEE-754
//! precision to each implementation, so a Python server and a Rust gate could see two
//! different calls in the same bytes. Those three are reported as [`Ambiguity`]; everything
//! else that is not JSON is a [`JsonError`].
//!
//! Two entry points share one scanner: [`scan_envelope`] validates a whole message without
//! building a tree (the hot path for large results), and [`parse`] builds a borrowed
//! [`Value`] for the parts the gate must look inside.

mod keys;
mod number;
mod raw;
mod scan;
mod special;
mod utf8;
mod value;

pub use number::number_round_trips;
pub use raw::{skip_value, string_end, string_end_bytes, Elements, Kind, Members, Piece, Raw, Shared, Unescape};
pub use scan::{parse, scan_envelope, scan_envelope_str, Envelope, Message, Refusal};
pub use special::find_special;
pub use value::{Map, Value};

use std::fmt;

/// Input that is not JSON at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte {offset}")]
pub struct JsonError {
    pub what: &'static str,
    pub offset: usize,
}

/// JSON that is well-formed but that two readers could take differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ambiguity {
    DuplicateKey(String),
    LoneSurrogate,
    Number(String),
}

impl fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ambiguity::DuplicateKey(k) => write!(f, "duplicate object key {k:?}"),
            Ambiguity::LoneSurrogate => f.write_str("lone surrogate escape in a string"),
            Ambiguity::Number(n) => {
                let shown: String = n.chars().take(40).collect();
                write!(f, "number {shown} does not survive an IEEE-754 double round trip")
            }
        }
    }
}

/// The character a one-letter escape (`\n`, `\"`, …) stands for (RFC 8259 section 7);
/// `None` for `u` and anything that is not an escape.
fn simple_escape(c: u8) -> Option<char> {
    Some(match c {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        _ => return None,
    })
}

/// Maximum nesting depth accepted; deeper input is refused rather than risking the stack.
pub const MAX_DEPTH: usize = 256;
