//! Limits on what a peer can make the session hold (PRODUCT.md sections 6 and 8).

use std::time::Duration;

/// Held calls per process; beyond, `too_many_held`.
pub const MAX_HELD: usize = 64;
/// Bytes of held calls per process; beyond, `too_many_held`.
pub const MAX_HELD_BYTES: usize = 256 << 20;
/// Client requests in flight; beyond, an error.
pub const MAX_IN_FLIGHT: usize = 4096;
/// Denied tasks remembered for `tasks/*`, and for how long.
pub const MAX_DENIED_TASKS: usize = 256;
pub const DENIED_TASK_TTL: Duration = Duration::from_secs(3600);
/// How often a waiting client with a progress token hears from us.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// How long a 2026-07-28 retry may carry the approval of the call it retries.
pub const CARRY: Duration = Duration::from_secs(10 * 60);
/// Approvals waiting for their retry, at most.
pub const MAX_CARRIED: usize = 64;
/// How long the operator's edge may overrun a deadline before the session times the
/// call out itself.
pub const ASK_OVERRUN: Duration = Duration::from_secs(2);
