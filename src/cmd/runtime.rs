//! The runtime the commands that do I/O run on.

use crate::Error;

/// Runs `future` on a single-threaded runtime (the relay is I/O bound; one thread keeps
/// its hand-offs cheap).
pub(super) fn block_on<F: std::future::Future>(future: F) -> Result<F::Output, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the runtime", e))?;
    let output = runtime.block_on(future);
    // A prompt thread may still wait for a key; it sees its call withdrawn within 100 ms.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    Ok(output)
}
