//! A client's config file that does not parse, as the JSON and the TOML readers report it.

/// A file that does not parse: the line and what is wrong.
#[derive(Debug, Clone)]
pub(super) struct ParseFailure {
    pub line: usize,
    pub message: String,
}
