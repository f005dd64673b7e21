//! An approval a 2026-07-28 retry may carry (PRODUCT.md section 6a): kept by the session
//! ([`super::Session`]), made and used up where calls are decided (`decide.rs`).

use std::time::Duration;

use crate::core::gate::Decision;

/// A human approval that a 2026-07-28 retry of its call may carry: the server answered
/// the call with `input_required` and this `requestState`.
#[derive(Debug)]
pub(super) struct Carried {
    pub tool: String,
    pub digest: String,
    pub state: String,
    pub approval: Decision,
    /// Monotonic instant (like [`super::Now::mono`]) after which it lapses.
    pub until: Duration,
}
