//! The browser approval page's server (PRODUCT.md section 6, step 4): HTTP/1.1 on
//! `127.0.0.1` only, on a port the system picks, started the first time a page is
//! needed (never with `web = false` or `--headless`: then no port is ever opened).
//!
//! Each page is a capability: `/a/<token>` with 256 random bits, valid while its call
//! waits, for one answer. The checks every request passes are in
//! [`crate::core::approval_page`] (host, origin, token, digest); this file holds the pages
//! being served and the connections.

mod pages;
mod serve;

use std::io;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use pages::{PageAnswer, Pages, Served};

/// Binds `127.0.0.1:0` and starts serving pages. Call within a tokio runtime.
pub async fn start() -> io::Result<Arc<Pages>> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let pages = Arc::new(Pages::new(listener.local_addr()?.port()));
    tokio::spawn(accept(listener, Arc::downgrade(&pages), pages.slots.clone()));
    Ok(pages)
}

/// Accepts connections while the pages exist; each is served on a task of its own, at
/// most [`pages::MAX_CONNECTIONS`] at once (a slot each; the next one accepted waits for a
/// slot, the others in the listen queue).
async fn accept(listener: TcpListener, pages: std::sync::Weak<Pages>, slots: Arc<tokio::sync::Semaphore>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!("approval page: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        // Bound to 127.0.0.1, so only this machine can connect; checked anyway.
        if !peer.ip().is_loopback() {
            continue;
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(pages) = pages.upgrade() else {
            return;
        };
        tokio::spawn(async move {
            serve::connection(pages, stream).await;
            drop(slot);
        });
    }
}
