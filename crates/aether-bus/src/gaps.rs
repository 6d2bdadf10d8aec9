//! Detecting lost cross-node messages from per-publisher sequence numbers.
//!
//! Every `NatsEventBus` numbers its publications per namespace (1, 2, 3, ...)
//! and sends its node id and the number with each message (see
//! `nats::origin`). A receiver remembers the
//! last number seen per (origin node, namespace); a jump from `n` to `m > n + 1`
//! means `m - n - 1` messages of that namespace never arrived (core NATS is
//! at-most-once: a slow consumer or a reconnect loses messages). A node
//! numbers and hands over each namespace's messages in order, and NATS keeps
//! one connection's messages in order, so a number lower than the last one
//! means the publisher restarted with the same node id: counting starts over
//! from it.

use crate::hash::FastMap;

/// Last sequence seen per origin and namespace.
#[derive(Debug, Default)]
pub(crate) struct GapTracker {
    last: FastMap<Box<str>, FastMap<Box<str>, u64>>,
}

impl GapTracker {
    /// Records `seq` from `origin` on `namespace`; returns how many messages
    /// were skipped since the previous one (0 for the first seen, a repeat,
    /// or a lower number: the publisher restarted and is tracked from `seq`).
    #[cfg(test)]
    pub(crate) fn observe(&mut self, origin: &str, namespace: &str, seq: u64) -> u64 {
        self.observe_run(origin, namespace, seq, 1)
    }

    /// Records a message carrying `count` (≥ 1) publications numbered from
    /// `first`; returns how many were skipped before it, as
    /// [`GapTracker::observe`] does for one.
    pub(crate) fn observe_run(
        &mut self,
        origin: &str,
        namespace: &str,
        first: u64,
        count: u64,
    ) -> u64 {
        let last_of_run = first.saturating_add(count.max(1) - 1);
        let per_origin = match self.last.get_mut(origin) {
            Some(m) => m,
            None => self.last.entry(origin.into()).or_default(),
        };
        match per_origin.get_mut(namespace) {
            Some(last) => {
                let lost = first.saturating_sub(*last).saturating_sub(1);
                *last = last_of_run;
                lost
            }
            None => {
                per_origin.insert(namespace.into(), last_of_run);
                0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gaps_per_origin_and_namespace() {
        let mut g = GapTracker::default();
        assert_eq!(g.observe("n1", "a", 5), 0);
        assert_eq!(g.observe("n1", "a", 6), 0);
        assert_eq!(g.observe("n1", "a", 9), 2);
        assert_eq!(g.observe("n1", "b", 1), 0);
        assert_eq!(g.observe("n2", "a", 1), 0);
        assert_eq!(g.observe("n1", "a", 9), 0, "duplicates are not gaps");
        assert_eq!(g.observe("n1", "a", 10), 0);
    }

    /// Regression: a publisher that restarted with the same node id starts
    /// again at 1; the tracker kept the old, higher number and so detected
    /// no loss until the new numbers passed it.
    #[test]
    fn a_restarted_publisher_is_tracked_from_its_new_numbers() {
        let mut g = GapTracker::default();
        assert_eq!(g.observe("n1", "a", 1_000), 0);
        assert_eq!(g.observe("n1", "a", 1), 0, "restart: counting starts over");
        assert_eq!(g.observe("n1", "a", 2), 0);
        assert_eq!(g.observe("n1", "a", 5), 2, "gaps are seen at once again");
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;

    #[test]
    fn a_message_of_several_publications_advances_by_its_count() {
        let mut g = GapTracker::default();
        assert_eq!(g.observe_run("n1", "a", 1, 10), 0);
        assert_eq!(g.observe_run("n1", "a", 11, 5), 0, "1..=10 then 11..=15");
        assert_eq!(g.observe("n1", "a", 16), 0);
        assert_eq!(g.observe_run("n1", "a", 20, 3), 3, "17, 18, 19 missing");
        assert_eq!(g.observe("n1", "a", 23), 0, "the run ended at 22");
        assert_eq!(g.observe_run("n1", "a", 1, 4), 0, "restart");
        assert_eq!(g.observe("n1", "a", 6), 1, "5 missing");
    }
}
