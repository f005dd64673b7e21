//! What the session keeps for asking in the client's dialog (PRODUCT.md section 6, step
//! 3): the settings that allow it, what a client declared, and the calls waiting for a
//! 2026-07-28 retry. `dialog.rs` and `input_required.rs` do the asking.

use std::time::Duration;

use crate::core::json::Value;

/// What the session needs to ask in the client's dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Who answers there (`by` = `operator:<user>@client`).
    pub user: String,
    /// In countersign's elicitation ids; never sent to the server.
    pub secret: String,
}

/// Whether `capabilities` (the client's, from `initialize`) declare form elicitation.
pub fn declares_form(capabilities: Option<&Value<'_>>) -> bool {
    match capabilities.and_then(|c| c.get("elicitation")) {
        Some(Value::Object(members)) => members.is_empty() || members.iter().any(|(k, _)| k == "form"),
        _ => false,
    }
}

/// A call answered with `input_required`, waiting for its retry.
#[derive(Debug)]
pub(super) struct Parked {
    pub state: String,
    pub tool: String,
    pub digest: String,
    /// What the dialog showed: its answer is read against it (the digest's code).
    pub shown: crate::core::prompt::Held,
    /// Monotonic instant after which the state lapses (the call's deadline).
    pub until: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_elicitation_is_read_from_the_capabilities() {
        let caps = |text: &str| crate::core::json::parse(text.as_bytes()).unwrap().into_owned();
        assert!(declares_form(Some(&caps(r#"{"elicitation":{}}"#))));
        assert!(declares_form(Some(&caps(r#"{"elicitation":{"form":{},"url":{}}}"#))));
        assert!(!declares_form(Some(&caps(r#"{"elicitation":{"url":{}}}"#))));
        assert!(!declares_form(Some(&caps(r#"{"sampling":{}}"#))));
        assert!(!declares_form(None));
    }
}
