//! One prober per unserved shard: when a request to a shard finds no
//! responders, the shard's gate closes; until a reply comes, one caller of
//! this node probes it (after a growing pause) while the others wait for
//! that probe's answer. Without it, every waiting caller would probe on its
//! own backoff, and 10,000 callers of a failed node's shards would send
//! 100,000 requests a second that nobody answers (the retry storm).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aether_core::aggregate::Jitter;
use tokio::sync::Notify;
use tokio::time::Instant;

/// The closed gate of one shard.
#[derive(Debug)]
struct Gate {
    /// When the next probe may go.
    open_at: Instant,
    /// The pause before the probe after next.
    pause: Duration,
    /// A caller is probing now.
    probing: bool,
    /// Woken when a probe ends.
    ended: Arc<Notify>,
}

/// The gates of the shards this node's callers found unserved.
#[derive(Debug, Default)]
pub(crate) struct Gates {
    closed: Mutex<HashMap<u32, Gate>>,
}

/// What a caller may do after [`Gates::pass`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    /// The shard is not known to be unserved: send.
    Open,
    /// Send; this caller probes the shard for everyone (report the result
    /// with [`Gates::served`] or [`Gates::unserved`]).
    Probe,
    /// The deadline came first.
    Late,
}

impl Gates {
    /// Waits, until `deadline` at most, for the right to send to `shard`.
    pub(crate) async fn pass(&self, shard: u32, deadline: Instant) -> Pass {
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Pass::Late;
            }
            let (sleep_until, ended) = {
                let mut closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(gate) = closed.get_mut(&shard) else {
                    return Pass::Open;
                };
                if gate.probing {
                    // Created under the lock: `notify_waiters` reaches it.
                    (deadline, Some(gate.ended.clone()))
                } else if gate.open_at <= now {
                    gate.probing = true;
                    return Pass::Probe;
                } else {
                    (gate.open_at.min(deadline), None)
                }
            };
            match ended {
                Some(ended) => {
                    let notified = ended.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    // Re-check: the probe may have ended before `enable`.
                    let still = self
                        .closed
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&shard)
                        .is_some_and(|g| g.probing);
                    if still {
                        let _ = tokio::time::timeout_at(sleep_until, notified).await;
                    }
                }
                None => tokio::time::sleep_until(sleep_until).await,
            }
        }
    }

    /// A request to `shard` got a reply: open its gate for everyone.
    pub(crate) fn served(&self, shard: u32) {
        let gate = self
            .closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&shard);
        if let Some(g) = gate {
            g.ended.notify_waiters();
        }
    }

    /// A request to `shard` found no responders: close (or keep closed) its
    /// gate, the next probe after a pause that grows from 1 ms to `max`.
    pub(crate) fn unserved(&self, shard: u32, max: Duration) {
        let mut closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        let gate = closed.entry(shard).or_insert_with(|| Gate {
            open_at: Instant::now(),
            pause: Duration::from_millis(1),
            probing: false,
            ended: Arc::new(Notify::new()),
        });
        // Up to half again as jitter, so that nodes do not probe in step.
        gate.open_at = Instant::now() + gate.pause + Jitter::Full.apply(gate.pause / 2);
        gate.pause = (gate.pause * 2).min(max);
        gate.probing = false;
        gate.ended.notify_waiters();
    }

    /// A probe ended without telling (the reply was lost): let the next
    /// caller probe.
    pub(crate) fn abandon(&self, shard: u32) {
        let mut closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(gate) = closed.get_mut(&shard) {
            gate.probing = false;
            gate.ended.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_prober_at_a_time_and_everyone_goes_once_served() {
        let gates = Arc::new(Gates::default());
        let deadline = Instant::now() + Duration::from_secs(10);
        assert_eq!(gates.pass(7, deadline).await, Pass::Open);
        gates.unserved(7, Duration::from_millis(100));
        // The first caller after the pause probes; the others wait.
        assert_eq!(gates.pass(7, deadline).await, Pass::Probe);
        let waiters: Vec<_> = (0..10)
            .map(|_| {
                let gates = gates.clone();
                tokio::spawn(async move { gates.pass(7, deadline).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            waiters.iter().all(|w| !w.is_finished()),
            "waiting on the probe"
        );
        gates.served(7);
        for w in waiters {
            assert_eq!(w.await.unwrap(), Pass::Open);
        }
        // Other shards never waited.
        assert_eq!(gates.pass(8, deadline).await, Pass::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unserved_probe_hands_over_after_a_growing_pause() {
        let gates = Gates::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        let max = Duration::from_millis(100);
        gates.unserved(1, max);
        let mut pauses = Vec::new();
        for _ in 0..10 {
            let t = Instant::now();
            assert_eq!(gates.pass(1, deadline).await, Pass::Probe);
            pauses.push(t.elapsed());
            gates.unserved(1, max);
        }
        assert!(
            pauses.windows(2).take(5).all(|w| w[1] >= w[0]),
            "{pauses:?}"
        );
        assert!(pauses.iter().all(|p| *p <= max + max / 2), "{pauses:?}");
        // A lost probe lets the next caller probe at once.
        let t = Instant::now();
        tokio::time::sleep(max * 2).await;
        assert_eq!(gates.pass(1, deadline).await, Pass::Probe);
        gates.abandon(1);
        assert_eq!(gates.pass(1, deadline).await, Pass::Probe);
        assert!(t.elapsed() <= max * 2 + Duration::from_millis(1));
        // The deadline bounds the wait.
        let soon = Instant::now() + Duration::from_millis(5);
        assert_eq!(gates.pass(1, soon).await, Pass::Late);
    }
}
