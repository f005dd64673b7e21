//! How long strings are cut for the log: one rule for the redacted tree (`redact`), the
//! redacted text (`redact_raw`) and the excerpts of rejected input (`excerpt`).

/// Strings longer than this many characters are cut.
pub const MAX_STRING: usize = 256;

/// `s` itself, or its first characters and a marker saying how much was cut.
pub fn cut(s: &str) -> String {
    match s.char_indices().nth(MAX_STRING) {
        None => s.to_owned(),
        Some((at, _)) => format!("{}…[cut {} chars]", &s[..at], s[at..].chars().count()),
    }
}
