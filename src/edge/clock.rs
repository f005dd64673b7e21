//! The wall clock, with one test hook: `COUNTERSIGN_TEST_CLOCK=<RFC 3339 instant>` starts
//! the clock at that instant, from where it runs at real speed (to cross a UTC midnight
//! in an integration test).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::core::audit::time::parse_rfc3339;

#[derive(Debug, Clone, Copy, Default)]
pub struct Clock {
    offset_micros: i64,
    /// Follows tokio's clock from this instant instead of the system's (in-process tests
    /// on paused time: advancing tokio's time moves this clock).
    tokio_from: Option<tokio::time::Instant>,
}

impl Clock {
    pub fn from_env() -> Clock {
        let start = std::env::var("COUNTERSIGN_TEST_CLOCK").ok().and_then(|t| parse_rfc3339(&t));
        match start {
            Some(start) => Clock { offset_micros: start - system_micros(), tokio_from: None },
            None => Clock::default(),
        }
    }

    /// A clock at `micros` now that moves with tokio's time (call it in the runtime).
    pub fn following_tokio(micros: i64) -> Clock {
        Clock { offset_micros: micros, tokio_from: Some(tokio::time::Instant::now()) }
    }

    /// Microseconds since the Unix epoch, UTC.
    pub fn now_micros(&self) -> i64 {
        match self.tokio_from {
            Some(from) => self.offset_micros + from.elapsed().as_micros() as i64,
            None => system_micros() + self.offset_micros,
        }
    }
}

fn system_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// 128 random bits as hex, for session and lease ids.
pub fn random_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        // No urandom: time and pid still make ids unique enough to tell sessions apart.
        let fallback = (system_micros() as u128) << 32 | u128::from(std::process::id());
        bytes = fallback.to_le_bytes();
    }
    crate::core::digest::hex(&bytes)
}
