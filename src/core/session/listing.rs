//! countersign's own `tools/list` (PRODUCT.md section 3): a 2026-07-28 client may call
//! tools it listed in another process, so the session asks the server itself, page by
//! page, with ids that cannot collide with the client's, and never forwards the answers.
//! A listing that fails is remembered for 30 s (PRODUCT.md section 8): calls held in that
//! time count as `unknown` at once.

use std::time::Duration;

use crate::core::classify::Tool;
use crate::core::protocol::Id;

/// How long the server has to answer one page.
pub(super) const PAGE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most pages followed.
pub(super) const MAX_PAGES: usize = 100;
/// How long a failed listing is remembered.
pub(super) const REMEMBER_FAILURE: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub(super) struct Listing {
    /// The page being asked for: its request id and until when the server has to answer.
    page: Option<(Id, Duration)>,
    tools: Vec<Tool>,
    pages: usize,
    failed_until: Option<Duration>,
}

impl Listing {
    pub(super) fn running(&self) -> bool {
        self.page.is_some()
    }

    /// A recent listing failed: do not try again yet.
    pub(super) fn failed_recently(&self, now: Duration) -> bool {
        self.failed_until.is_some_and(|until| now < until)
    }

    /// Asks for a page (the first when `cursor` is `None`).
    pub(super) fn ask(&mut self, id: Id, cursor: Option<&str>, now: Duration) {
        if cursor.is_none() {
            self.tools.clear();
            self.pages = 0;
        }
        self.pages += 1;
        self.page = Some((id, now + PAGE_TIMEOUT));
    }

    pub(super) fn is_page(&self, id: &Id) -> bool {
        self.page.as_ref().is_some_and(|(p, _)| p == id)
    }

    /// A page came: `Some(tools)` when the listing is complete, `None` when the next page
    /// must be asked for (or the pages ran out: see [`Listing::too_long`]).
    pub(super) fn page(&mut self, tools: Vec<Tool>, next: bool) -> Option<Vec<Tool>> {
        self.page = None;
        self.tools.extend(tools);
        if next {
            return None;
        }
        self.failed_until = None;
        Some(std::mem::take(&mut self.tools))
    }

    pub(super) fn too_long(&self) -> bool {
        self.pages >= MAX_PAGES
    }

    pub(super) fn fail(&mut self, now: Duration) {
        self.page = None;
        self.tools.clear();
        self.failed_until = Some(now + REMEMBER_FAILURE);
    }

    pub(super) fn abandon(&mut self) {
        self.page = None;
        self.tools.clear();
    }

    pub(super) fn deadline(&self) -> Option<Duration> {
        self.page.as_ref().map(|(_, until)| *until)
    }

    pub(super) fn expired(&self, now: Duration) -> bool {
        self.deadline().is_some_and(|until| now >= until)
    }
}
