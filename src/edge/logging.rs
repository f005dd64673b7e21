//! Diagnostics: `tracing` to stderr, never stdout (stdout carries the protocol).

use tracing_subscriber::EnvFilter;

/// `-v` info, `-vv` debug; `RUST_LOG` wins when set.
pub fn init(verbose: u8) {
    let default = match verbose {
        0 => "countersign=warn",
        1 => "countersign=info",
        _ => "countersign=debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let color = std::env::var_os("NO_COLOR").is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .with_target(false)
        .without_time()
        // When stderr is gone (the client closed it), say nothing: the default reports the
        // failed write with eprintln!, which panics on the same broken pipe.
        .log_internal_errors(false)
        .try_init();
}
