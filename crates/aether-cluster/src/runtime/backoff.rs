//! [`Backoff`]: the pauses between attempts of a routed call.

use std::time::Duration;

use aether_core::aggregate::Jitter;
use tokio::time::Instant;

/// Pauses between attempts: 1 ms, doubling up to `max`, each with up to
/// half of it again as jitter, never past the deadline.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(max: Duration) -> Self {
        Self {
            next: Duration::from_millis(1),
            max,
        }
    }

    /// Sleeps; `false` (after sleeping until the deadline) if the deadline
    /// leaves no time for another attempt.
    pub(crate) async fn pause(&mut self, deadline: Instant) -> bool {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let wake = Instant::now() + base + Jitter::Full.apply(base / 2);
        if wake >= deadline {
            tokio::time::sleep_until(deadline).await;
            return false;
        }
        tokio::time::sleep_until(wake).await;
        true
    }

    /// Sleeps `wait`; `false` (at once) if that would pass the deadline.
    pub(crate) async fn pause_for(&mut self, wait: Duration, deadline: Instant) -> bool {
        let wake = Instant::now() + wait;
        if wake >= deadline {
            return false;
        }
        tokio::time::sleep_until(wake).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn pauses_grow_to_the_cap_and_stop_at_the_deadline() {
        let max = Duration::from_millis(8);
        let mut b = Backoff::new(max);
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut took = Vec::new();
        for _ in 0..6 {
            let t = Instant::now();
            assert!(b.pause(deadline).await);
            took.push(t.elapsed());
        }
        assert!(took[0] >= Duration::from_millis(1), "{took:?}");
        assert!(took.iter().all(|t| *t <= max + max / 2), "{took:?}");
        assert!(took[5] >= max, "{took:?}");
        let soon = Instant::now() + Duration::from_millis(2);
        assert!(!b.pause(soon).await);
        assert!(Instant::now() >= soon);
        assert!(!b.pause_for(Duration::from_secs(5), deadline).await);
    }
}
