//! The pages this process serves: each a capability link, its call's view and the
//! one answer it may take.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::oneshot;

use crate::core::approval_page::{Decided, Purpose};
use crate::core::prompt::Held;

/// Most pages served at once (a process asks about one call at a time; a page for a
/// pending approval is one more).
const MAX_PAGES: usize = 64;

/// Most connections served at once; more wait in the listen queue.
pub(super) const MAX_CONNECTIONS: usize = 16;

/// The pages this process serves.
pub struct Pages {
    pub(super) port: u16,
    entries: Mutex<HashMap<String, Entry>>,
    /// One permit per connection that may be served at once; a connection holds one.
    pub(super) slots: Arc<tokio::sync::Semaphore>,
}

/// One page being served.
pub(super) struct Entry {
    pub(super) held: Held,
    pub(super) purpose: Purpose,
    /// The token its form must echo.
    pub(super) csrf: String,
    /// When the page stops answering (its call's deadline).
    pub(super) deadline: Instant,
    /// Where the answer goes; taken by the one answer that counts.
    pub(super) answer: Option<oneshot::Sender<PageAnswer>>,
    /// When the page was last served: an answer within the grace period after it is not
    /// taken (a click meant for what was there before the page appeared).
    pub(super) shown_at: Option<Instant>,
}

/// An answer from the page, and where to say what came of it (shown to the operator as
/// the reply to their post).
pub struct PageAnswer {
    pub decided: Decided,
    pub outcome: oneshot::Sender<String>,
}

/// A page being served. Dropping it withdraws the page: its link answers nothing more.
pub struct Served {
    pub url: String,
    pub answer: oneshot::Receiver<PageAnswer>,
    _withdraw: Withdraw,
}

struct Withdraw {
    pages: Arc<Pages>,
    token: String,
}

impl Drop for Withdraw {
    fn drop(&mut self) {
        self.pages.lock().remove(&self.token);
    }
}

impl Pages {
    pub(super) fn new(port: u16) -> Pages {
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        Pages { port, entries: Mutex::new(HashMap::new()), slots }
    }

    /// Waits (up to `within`) until no connection is being served: the reply to an
    /// answer is out before a command that served one page exits.
    pub async fn quiet(&self, within: std::time::Duration) {
        let until = tokio::time::Instant::now() + within;
        while self.slots.available_permits() < MAX_CONNECTIONS && tokio::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves a page for `held` until `deadline` or until the returned value is dropped.
    /// Fails when no secret can be drawn (the page would be guessable) or too many pages
    /// are up.
    pub fn serve(self: &Arc<Self>, held: Held, purpose: Purpose, deadline: Instant) -> io::Result<Served> {
        let token = secret()?;
        let csrf = secret()?;
        let (tx, rx) = oneshot::channel();
        {
            let mut entries = self.lock();
            let now = Instant::now();
            entries.retain(|_, e| e.deadline > now);
            if entries.len() >= MAX_PAGES {
                return Err(io::Error::other("too many approval pages are open"));
            }
            entries.insert(token.clone(), Entry { held, purpose, csrf, deadline, answer: Some(tx), shown_at: None });
        }
        let url = format!("http://127.0.0.1:{}/a/{token}", self.port);
        Ok(Served { url, answer: rx, _withdraw: Withdraw { pages: self.clone(), token } })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // Nothing panics while holding it; a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// 256 random bits as hex, or an error: a page is never served with a guessable link.
fn secret() -> io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(crate::core::digest::hex(&bytes))
}
