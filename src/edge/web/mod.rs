//! The browser approval page's server (PRODUCT.md section 6, step 4): HTTP/1.1 on
//! `127.0.0.1` only, on a port the system picks, started the first time a page is
//! needed (never with `web = false` or `--headless`: then no port is ever opened).
//!
//! Each page is a capability: `/a/<token>` with 256 random bits, valid while its call
//! waits, for one answer. The checks every request passes are in
//! [`crate::core::approval_page`] (host, origin, token, digest); this file holds the pages
//! being served and the connections.

mod serve;

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, Semaphore};

use crate::core::approval_page::{Decided, Purpose};
use crate::core::prompt::Held;

/// Most connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 16;

/// Most pages served at once (a process asks about one call at a time; a page for a
/// pending approval is one more).
const MAX_PAGES: usize = 64;

/// The pages this process serves.
pub struct Pages {
    port: u16,
    entries: Mutex<HashMap<String, Entry>>,
}

/// One page being served.
struct Entry {
    held: Held,
    purpose: Purpose,
    /// The token its form must echo.
    csrf: String,
    /// When the page stops answering (its call's deadline).
    deadline: Instant,
    /// Where the answer goes; taken by the one answer that counts.
    answer: Option<oneshot::Sender<PageAnswer>>,
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
    /// Binds `127.0.0.1:0` and starts serving. Call within a tokio runtime.
    pub async fn start() -> io::Result<Arc<Pages>> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let pages = Arc::new(Pages { port, entries: Mutex::new(HashMap::new()) });
        tokio::spawn(accept(listener, Arc::downgrade(&pages)));
        Ok(pages)
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
            entries.insert(token.clone(), Entry { held, purpose, csrf, deadline, answer: Some(tx) });
        }
        let url = format!("http://127.0.0.1:{}/a/{token}", self.port);
        Ok(Served { url, answer: rx, _withdraw: Withdraw { pages: self.clone(), token } })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // Nothing panics while holding it; a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Accepts connections while the pages exist; each is served on a task of its own, at
/// most [`MAX_CONNECTIONS`] at once.
async fn accept(listener: TcpListener, pages: std::sync::Weak<Pages>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!("approval page: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(pages) = pages.upgrade() else {
            return;
        };
        // Bound to 127.0.0.1, so only this machine can connect; checked anyway.
        if !peer.ip().is_loopback() {
            continue;
        }
        tokio::spawn(async move {
            serve::connection(pages, stream).await;
            drop(slot);
        });
    }
}

/// 256 random bits as hex, or an error: a page is never served with a guessable link.
fn secret() -> io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(crate::core::digest::hex(&bytes))
}
