//! Core-NATS heartbeats and the suspicion detector.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::id::NodeId;

/// Tracks when each member was last heard from and decides suspicion.
///
/// Pure logic (no I/O) so it is unit-tested; the watcher feeds it heartbeats,
/// joins and leaves, and calls [`HeartbeatTracker::check`] periodically.
#[derive(Debug)]
pub(crate) struct HeartbeatTracker {
    suspect_after: Duration,
    last_seen: BTreeMap<NodeId, (Instant, bool)>,
}

/// A change of suspicion decided by [`HeartbeatTracker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Suspicion {
    /// The node has been silent for the suspicion time.
    Suspected(NodeId),
    /// The suspected node was heard from again.
    Recovered(NodeId),
}

impl HeartbeatTracker {
    /// A tracker suspecting members silent for `suspect_after`.
    pub(crate) fn new(suspect_after: Duration) -> Self {
        Self {
            suspect_after,
            last_seen: BTreeMap::new(),
        }
    }

    /// Starts tracking `node` as heard `now` (a join counts as a sign of life).
    pub(crate) fn track(&mut self, node: NodeId, now: Instant) {
        self.last_seen.entry(node).or_insert((now, false));
    }

    /// Stops tracking `node`.
    pub(crate) fn forget(&mut self, node: &NodeId) {
        self.last_seen.remove(node);
    }

    /// Records a heartbeat; returns `Recovered` if the node was suspected.
    /// Heartbeats of untracked nodes are ignored (they are not members yet).
    pub(crate) fn heard(&mut self, node: &NodeId, now: Instant) -> Option<Suspicion> {
        let entry = self.last_seen.get_mut(node)?;
        let was_suspected = entry.1;
        *entry = (now, false);
        was_suspected.then(|| Suspicion::Recovered(node.clone()))
    }

    /// Newly suspected nodes at `now`.
    pub(crate) fn check(&mut self, now: Instant) -> Vec<Suspicion> {
        let mut out = Vec::new();
        for (node, (seen, suspected)) in &mut self.last_seen {
            if !*suspected && now.saturating_duration_since(*seen) >= self.suspect_after {
                *suspected = true;
                out.push(Suspicion::Suspected(node.clone()));
            }
        }
        out
    }

    /// Whether `node` is suspected.
    #[cfg(test)]
    fn is_suspected(&self, node: &NodeId) -> bool {
        self.last_seen.get(node).is_some_and(|e| e.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspects_after_silence_and_recovers() {
        let t0 = Instant::now();
        let a = NodeId::new("a").unwrap();
        let mut t = HeartbeatTracker::new(Duration::from_millis(600));
        t.track(a.clone(), t0);
        assert!(t.check(t0 + Duration::from_millis(500)).is_empty());
        assert_eq!(t.heard(&a, t0 + Duration::from_millis(500)), None);
        assert!(t.check(t0 + Duration::from_millis(1000)).is_empty());
        assert_eq!(
            t.check(t0 + Duration::from_millis(1100)),
            vec![Suspicion::Suspected(a.clone())]
        );
        // Suspected once only.
        assert!(t.check(t0 + Duration::from_millis(2000)).is_empty());
        assert!(t.is_suspected(&a));
        assert_eq!(
            t.heard(&a, t0 + Duration::from_millis(2100)),
            Some(Suspicion::Recovered(a.clone()))
        );
        t.forget(&a);
        assert_eq!(t.heard(&a, t0), None);
    }
}
