//! Crash-loop back-off, modelled on the kubelet's `flowcontrol.Backoff` use in `doBackOff`.
//!
//! The first restart after an exit is immediate; every further exit waits the current back-off, which
//! starts at `base` and doubles up to `max`. If the previous exit is more than `2 * max` in the past the
//! entry has expired and the sequence starts over (kubelet: `hasExpired`). The real kubelet uses 10 s and
//! 5 min; the stand-in defaults to 1 s and 30 s so tests stay fast (a documented deviation).

use std::time::{Duration, Instant};

/// Back-off state for one container.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    entry: Option<Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    backoff: Duration,
    last_update: Instant,
}

impl Backoff {
    /// A fresh back-off with the given initial and maximum delay.
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max: max.max(base),
            entry: None,
        }
    }

    /// Records an exit at `exit_time` and returns how long to wait before the next start.
    pub fn on_exit(&mut self, exit_time: Instant) -> Duration {
        match self.entry {
            Some(entry)
                if exit_time.saturating_duration_since(entry.last_update) <= 2 * self.max =>
            {
                // kubelet: IsInBackOffSince is true, so wait the current back-off; the next Next() doubles it.
                let wait = entry.backoff;
                self.entry = Some(Entry {
                    backoff: (entry.backoff * 2).min(self.max),
                    last_update: exit_time,
                });
                wait
            }
            _ => {
                // No entry, or it expired: restart at once and arm the initial back-off.
                self.entry = Some(Entry {
                    backoff: self.base,
                    last_update: exit_time,
                });
                Duration::ZERO
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_doubles_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut t = Instant::now();
        let mut seen = Vec::new();
        for _ in 0..9 {
            let wait = b.on_exit(t);
            seen.push(wait.as_secs());
            t += wait + Duration::from_millis(100);
        }
        assert_eq!(seen, [0, 1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn kubelet_defaults_reach_five_minutes() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(300));
        let mut t = Instant::now();
        let seen: Vec<u64> = (0..8)
            .map(|_| {
                let wait = b.on_exit(t);
                t += wait + Duration::from_secs(1);
                wait.as_secs()
            })
            .collect();
        assert_eq!(seen, [0, 10, 20, 40, 80, 160, 300, 300]);
    }

    #[test]
    fn resets_after_running_long_enough() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let t0 = Instant::now();
        assert_eq!(b.on_exit(t0), Duration::ZERO);
        assert_eq!(
            b.on_exit(t0 + Duration::from_secs(1)),
            Duration::from_secs(1)
        );
        assert_eq!(
            b.on_exit(t0 + Duration::from_secs(3)),
            Duration::from_secs(2)
        );
        // More than 2 * max since the last exit: the entry expired.
        assert_eq!(b.on_exit(t0 + Duration::from_secs(64)), Duration::ZERO);
        assert_eq!(
            b.on_exit(t0 + Duration::from_secs(65)),
            Duration::from_secs(1)
        );
    }
}
