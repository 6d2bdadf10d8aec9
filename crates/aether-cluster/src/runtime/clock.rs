//! [`Clock`]: which active actor to passivate when the node is over its
//! limit: the CLOCK approximation of least-recently-used (second chance).
//! A use sets the actor's reference bit (one atomic store, no lock); the
//! hand passes over the ring of activations, clearing set bits and picking
//! the first actor whose bit is clear. Admission is always yes: the limit
//! only picks victims (as Akka's passivation strategies do), it never
//! refuses an activation.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError, Weak};

/// An activation as the clock sees it.
pub(crate) trait Evictable: Send + Sync {
    /// Whether it was used since the hand last passed (and clears it).
    fn take_reference(&self) -> bool;

    /// Tells it to passivate as soon as it is idle.
    fn evict(self: std::sync::Arc<Self>);
}

/// The ring of the node's activations, in order of activation.
#[derive(Default)]
pub(crate) struct Clock {
    ring: Mutex<VecDeque<Weak<dyn Evictable>>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock")
            .field("ring", &self.ring.lock().map(|r| r.len()).unwrap_or(0))
            .finish()
    }
}

impl Clock {
    /// A new activation joins the ring (of `active` activations now). The
    /// entries of activations gone are dropped once they are as many as the
    /// living (a gone one's entry keeps its allocation), so the ring stays
    /// within twice the activations, at O(1) amortized per push.
    pub(crate) fn push(&self, activation: Weak<dyn Evictable>, active: usize) {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.len() >= 2 * active.max(32) {
            ring.retain(|w| w.strong_count() > 0);
        }
        ring.push_back(activation);
    }

    /// Picks `count` victims (fewer if the ring runs out) and tells them to
    /// passivate. Entries of activations already gone are dropped on the
    /// way; at most two passes over the ring.
    pub(crate) fn evict(&self, count: usize) -> usize {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let mut picked = 0;
        let mut budget = ring.len() * 2;
        while picked < count && budget > 0 {
            budget -= 1;
            let Some(weak) = ring.pop_front() else {
                break;
            };
            let Some(activation) = weak.upgrade() else {
                continue;
            };
            if activation.take_reference() {
                ring.push_back(weak);
                continue;
            }
            activation.evict();
            picked += 1;
        }
        picked
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Default)]
    struct Probe {
        used: AtomicBool,
        evicted: AtomicBool,
    }

    impl Evictable for Probe {
        fn take_reference(&self) -> bool {
            self.used.swap(false, Ordering::Relaxed)
        }
        fn evict(self: Arc<Self>) {
            self.evicted.store(true, Ordering::Relaxed);
        }
    }

    #[test]
    fn the_recently_used_get_a_second_chance_and_the_gone_are_dropped() {
        let clock = Clock::default();
        let probes: Vec<Arc<Probe>> = (0..4).map(|_| Arc::new(Probe::default())).collect();
        for p in &probes {
            clock.push(Arc::downgrade(p) as Weak<dyn Evictable>, 4);
        }
        probes[0].used.store(true, Ordering::Relaxed);
        assert_eq!(clock.evict(2), 2);
        let evicted: Vec<bool> = probes
            .iter()
            .map(|p| p.evicted.load(Ordering::Relaxed))
            .collect();
        assert_eq!(evicted, [false, true, true, false], "0 was used: spared");
        // Gone activations leave the ring without counting.
        let kept = probes[3].clone();
        drop(probes);
        assert_eq!(clock.evict(1), 1);
        assert!(kept.evicted.load(Ordering::Relaxed));
        assert_eq!(clock.evict(1), 0, "only gone ones are left");
        assert_eq!(clock.len(), 0);
    }
}
