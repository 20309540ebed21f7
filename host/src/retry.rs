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

#[cfg(test)]
mod tests {
    use super::*;
    use arca_core::Error;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn policy() -> Retry {
        Retry {
            attempts: 3,
            initial_delay: Duration::from_millis(1),
            total: Duration::from_secs(5),
        }
    }

    fn run<T>(f: impl Future<Output = T>) -> T {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(f),
            Err(e) => panic!("runtime: {e}"),
        }
    }

    #[test]
    fn temporary_errors_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let r = run(policy().run(|| async {
            if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                Err(Error::unexpected("busy").temporary())
            } else {
                Ok(7)
            }
        }));
        assert_eq!(r, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn permanent_errors_are_not_retried_and_attempts_are_bounded() {
        let calls = AtomicU32::new(0);
        let r: Result<()> = run(policy().run(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::not_found("gone"))
        }));
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let calls = AtomicU32::new(0);
        let r: Result<()> = run(policy().run(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::unexpected("always busy").temporary())
        }));
        assert!(r.is_err_and(|e| e.message == "always busy"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
