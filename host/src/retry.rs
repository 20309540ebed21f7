//! Retry policy: only `temporary` errors are retried, with bounded attempts,
//! exponential backoff and a bound on the total time. Plugins classify
//! errors; they never retry themselves.

use arca_core::Result;
use std::future::Future;
use std::time::{Duration, Instant};

/// A retry policy.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub initial_delay: Duration,
    /// No retry starts after this much time has passed.
    pub total: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 4,
            initial_delay: Duration::from_millis(100),
            total: Duration::from_secs(30),
        }
    }
}

impl Retry {
    /// Runs `f` until it succeeds, fails permanently, or the budget is spent.
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let start = Instant::now();
        let mut delay = self.initial_delay;
        let mut attempt = 1;
        loop {
            match f().await {
                Err(e) if e.temporary && attempt < self.attempts && start.elapsed() + delay < self.total => {
                    tracing::debug!(attempt, error = %e, "retrying after a temporary error");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                r => return r,
            }
        }
    }
}
