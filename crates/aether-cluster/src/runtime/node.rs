//! [`Node`]: what every actor type of one system shares: the limits, the
//! recovery permits, the clock that picks actors to passivate, the coarse
//! time idle actors are judged by, the shutdown signal, and the fence of the
//! placement (none on one node).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::clock::Clock;
use super::config::RuntimeConfig;
use super::fence::Fence;
use super::permits::Permits;

/// What the node's actor types share.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) config: RuntimeConfig,
    pub(crate) permits: Permits,
    pub(crate) clock: Clock,
    /// Set once: no new activations, every actor finishes and stops.
    shutting_down: AtomicBool,
    /// Activations on this node now (active actors, and those finishing a
    /// passivation), and a wake-up when the last one is gone.
    active: AtomicUsize,
    /// Of those, the ones told to leave (a limit's victims, a shard's
    /// actors): on their way out, so the limit does not pick again for them.
    leaving: AtomicUsize,
    pub(crate) gone: Notify,
    /// When the node started, and the milliseconds since then as the sweeper
    /// last saw them: the time of an actor's last use, read without a clock
    /// call.
    started: Instant,
    tick: AtomicU64,
    /// Whether this node may run an actor's turns now (`None`: every actor
    /// runs here, as on one node).
    pub(crate) fence: Option<Arc<dyn Fence>>,
}

impl Node {
    pub(crate) fn new(config: RuntimeConfig, fence: Option<Arc<dyn Fence>>) -> Self {
        Self {
            fence,
            permits: Permits::new(config.recovery_permits),
            config,
            clock: Clock::default(),
            shutting_down: AtomicBool::new(false),
            active: AtomicUsize::new(0),
            leaving: AtomicUsize::new(0),
            gone: Notify::new(),
            started: Instant::now(),
            tick: AtomicU64::new(0),
        }
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Stops admitting messages.
    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// The coarse time (milliseconds since the node started, as of the last
    /// sweep).
    pub(crate) fn tick(&self) -> u64 {
        self.tick.load(Ordering::Relaxed)
    }

    /// Moves the coarse time on to now; returns it.
    pub(crate) fn advance(&self) -> u64 {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.tick.store(now, Ordering::Relaxed);
        now
    }

    /// Activations now.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// One activation began; returns how many the node has now.
    pub(crate) fn activated(&self) -> usize {
        metrics::gauge!("aether_runtime_active_actors").increment(1.0);
        self.active.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Activations over the node's limit now, not counting those on their
    /// way out already.
    pub(crate) fn over_limit(&self, active: usize) -> usize {
        let staying = active.saturating_sub(self.leaving.load(Ordering::Acquire));
        staying.saturating_sub(self.config.max_active)
    }

    /// One activation was told to leave (once per activation).
    pub(crate) fn told_to_leave(&self) {
        self.leaving.fetch_add(1, Ordering::AcqRel);
    }

    /// One activation ended; `told` whether it had been told to leave.
    pub(crate) fn deactivated(&self, told: bool) {
        if told {
            self.leaving.fetch_sub(1, Ordering::AcqRel);
        }
        if self.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.gone.notify_waiters();
        }
        metrics::gauge!("aether_runtime_active_actors").decrement(1.0);
    }

    /// Waits until no activation is left, `timeout` at most; `false` if some
    /// are left then.
    pub(crate) async fn all_gone(&self, timeout: Duration) -> bool {
        let all_gone = async {
            loop {
                let notified = self.gone.notified();
                if self.active() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, all_gone).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_on_their_way_out_do_not_count_against_the_limit() {
        let node = Node::new(
            RuntimeConfig {
                max_active: 2,
                ..RuntimeConfig::default()
            },
            None,
        );
        let mut active = 0;
        for _ in 0..3 {
            active = node.activated();
        }
        assert_eq!(node.over_limit(active), 1);
        node.told_to_leave();
        // The victim has not left yet: the next activation picks one more,
        // not two (the flake this fixed: the newest actor evicted).
        active = node.activated();
        assert_eq!(node.over_limit(active), 1);
        node.told_to_leave();
        node.deactivated(true);
        node.deactivated(false);
        assert_eq!(node.active(), 2);
        assert_eq!(node.over_limit(node.active()), 0);
    }
}
