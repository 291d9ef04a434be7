//! The coordinator's wall clock, in the unit reports and requests use.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time in milliseconds. A clock set before 1970 reads as 0, which makes
/// every report look as if it came from the future and so never counts.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
