//! One polling/retry loop for blocking code: try; on an error the caller deems transient, pause
//! and try again until a deadline, then hand back the last error. Used by the API client,
//! the post-API phases, the etcd client and reset. Knows nothing of what is being retried.
//! (Async health waits have their own loop in `health::wait`, which also reports progress.)

use std::time::{Duration, Instant};

/// How long and how often to retry. The deadline starts when [`Retry::run`] is called; the
/// first attempt always happens, even with a zero timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// No new attempt starts after this much time has passed since the first.
    pub timeout: Duration,
    /// The pause after a transient failure (zero: retry at once).
    pub interval: Duration,
}

impl Retry {
    /// Retry for up to `timeout`, pausing `interval` between attempts.
    #[must_use]
    pub const fn new(timeout: Duration, interval: Duration) -> Self {
        Retry { timeout, interval }
    }

    /// Runs `attempt` until it succeeds, fails with an error `transient` rejects, or the
    /// deadline passes.
    ///
    /// # Errors
    /// The first error that is not transient, or the last error at the deadline.
    pub fn run<T, E>(
        &self,
        mut attempt: impl FnMut() -> Result<T, E>,
        mut transient: impl FnMut(&E) -> bool,
    ) -> Result<T, E> {
        let end = Instant::now() + self.timeout;
        loop {
            match attempt() {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if !transient(&e) || Instant::now() >= end {
                        return Err(e);
                    }
                    if !self.interval.is_zero() {
                        std::thread::sleep(self.interval);
                    }
                }
            }
        }
    }

    /// [`Retry::run`] with every error transient: wait until `attempt` succeeds.
    ///
    /// # Errors
    /// The last error at the deadline.
    pub fn until_ok<T, E>(&self, attempt: impl FnMut() -> Result<T, E>) -> Result<T, E> {
        self.run(attempt, |_| true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_success_returns_at_once() {
        let mut n = 0;
        let r: Result<u32, ()> = Retry::new(Duration::from_secs(5), MS).run(
            || {
                n += 1;
                Ok(7)
            },
            |()| true,
        );
        assert_eq!((r, n), (Ok(7), 1));
    }

    #[test]
    fn transient_errors_are_retried_until_success() {
        let mut n = 0;
        let r = Retry::new(Duration::from_secs(5), MS).run(
            || {
                n += 1;
                if n < 4 { Err(n) } else { Ok(n) }
            },
            |_| true,
        );
        assert_eq!(r, Ok(4));
    }

    #[test]
    fn a_permanent_error_stops_after_one_attempt() {
        let mut n = 0;
        let r: Result<(), &str> = Retry::new(Duration::from_secs(5), MS).run(
            || {
                n += 1;
                Err("forbidden")
            },
            |e| *e != "forbidden",
        );
        assert_eq!((r, n), (Err("forbidden"), 1));
    }

    #[test]
    fn the_last_error_comes_back_at_the_deadline() {
        let start = Instant::now();
        let mut n = 0;
        let r: Result<(), u32> = Retry::new(Duration::from_millis(30), Duration::from_millis(5))
            .until_ok(|| {
                n += 1;
                Err(n)
            });
        let took = start.elapsed();
        assert_eq!(r, Err(n));
        assert!(n >= 2, "retried: {n}");
        assert!(took >= Duration::from_millis(30), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn a_zero_timeout_still_tries_once() {
        let mut n = 0;
        let r: Result<(), ()> = Retry::new(Duration::ZERO, MS).until_ok(|| {
            n += 1;
            Err(())
        });
        assert_eq!((r, n), (Err(()), 1));
    }

    #[test]
    fn the_interval_is_waited_between_attempts() {
        let start = Instant::now();
        let mut n = 0;
        let r = Retry::new(Duration::from_secs(5), Duration::from_millis(20)).until_ok(|| {
            n += 1;
            if n < 3 { Err(()) } else { Ok(()) }
        });
        assert_eq!(r, Ok(()));
        assert!(start.elapsed() >= Duration::from_millis(40));
    }
}
