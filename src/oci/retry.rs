//! Retry policy for registry requests: bounded attempts, exponential backoff with jitter.

use std::time::Duration;

/// How often and how patiently transient failures are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub base_delay: Duration,
    /// Upper bound for one delay (also for a server's `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `n` (0-based), with a little jitter.
    pub fn delay(&self, n: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(1u32 << n.min(16));
        let jitter = Duration::from_millis(u64::from(rand_u32() % 50));
        (exp + jitter).min(self.max_delay)
    }
}

/// A cheap random number for jitter (no cryptographic use).
pub(crate) fn rand_u32() -> u32 {
    use rand_core::RngCore;
    rand_core::OsRng.next_u32()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded() {
        let p = RetryPolicy::default();
        assert!(p.delay(0) >= Duration::from_millis(100));
        assert!(p.delay(30) <= p.max_delay);
    }
}
