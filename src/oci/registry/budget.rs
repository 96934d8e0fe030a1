//! What one client may still spend: bytes read (verify's read bound) and time (verify's
//! `--timeout`). Past either, nothing more is sent, nor retried.

use std::time::{Duration, Instant};

use super::*;

impl RegistryClient {
    /// Sends no request, nor a retry, once this client has received more than `max` bytes
    /// in all ([`RegistryClient::received`]): verify's read bound, which retries of answers
    /// cut short would otherwise pass by the requests in flight times the attempts.
    pub fn limit_reads(&self, max: u64) {
        self.budget.store(max, std::sync::atomic::Ordering::Relaxed);
    }

    /// An error once more than the budget was received, or the time allowed is over.
    pub(super) fn within_budget(&self, method: &Method, what: &str) -> Result<()> {
        use std::sync::atomic::Ordering::Relaxed;
        self.time_left(method, what)?;
        let max = self.budget.load(Relaxed);
        if self.received.load(Relaxed) <= max {
            return Ok(());
        }
        Err(Error::msg(format!(
            "{}: not sent: read more than {} from this registry in all already; refused \
             (the registry may be hostile)",
            self.what(method, what),
            limits::size_words(max)
        )))
    }

    /// The counter of every body byte this client received (answers that failed their
    /// digest or size check, were refused or retried, error answers and 404s included):
    /// verify bounds all it reads by it.
    pub fn received(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        self.received.clone()
    }

    /// Sends no request, nor a retry, after `at`, and waits for none past it: a request's
    /// timeout and a retry's delay end there at the latest. Verify's overall deadline
    /// (`--timeout`), which the per-request bounds alone do not give: a registry answering
    /// slowly on purpose could otherwise hold a verification for minutes. The first call sets
    /// it; later calls keep it.
    pub fn limit_time(&self, at: Instant) {
        let _ = self.stop_at.set(at);
    }

    /// The time left before [`RegistryClient::limit_time`]'s end; an error once it passed.
    pub(super) fn time_left(&self, method: &Method, what: &str) -> Result<Duration> {
        let Some(at) = self.stop_at.get() else {
            return Ok(Duration::MAX);
        };
        match at.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(left),
            _ => Err(Error::msg(format!(
                "{}: stopped: the time allowed for talking to this registry is over (raise \
                 `--timeout` if the registry is just slow)",
                self.what(method, what)
            ))),
        }
    }
}
