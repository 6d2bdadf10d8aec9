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

//!
//! Memory is bounded: nodes get a fresh random id on every start, so ids of
//! nodes long gone would otherwise pile up. At most [`MAX_ORIGINS`] origins are
//! remembered (the one heard from least recently is forgotten first) and at
//! most [`MAX_NAMESPACES_PER_ORIGIN`] namespaces per origin (beyond that the
//! origin's numbers start over). A forgotten (origin, namespace) is tracked
//! again from its next message, so only a gap right at that point can go
//! unreported.

use crate::hash::FastMap;

/// Origins remembered at most.
pub(crate) const MAX_ORIGINS: usize = 1024;
/// Namespaces remembered per origin at most.
pub(crate) const MAX_NAMESPACES_PER_ORIGIN: usize = 10_000;

#[derive(Debug, Default)]
struct Origin {
    /// Last sequence seen per namespace.
    namespaces: FastMap<Box<str>, u64>,
    /// The tracker's observation count when this origin was last heard from.
    last_heard: u64,
}

/// Last sequence seen per origin and namespace.
#[derive(Debug, Default)]
pub(crate) struct GapTracker {
    origins: FastMap<Box<str>, Origin>,
    observations: u64,
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
        self.observations += 1;
        let last_of_run = first.saturating_add(count.max(1) - 1);
        if !self.origins.contains_key(origin) && self.origins.len() >= MAX_ORIGINS {
            self.forget_least_recent();
        }
        let per_origin = match self.origins.get_mut(origin) {
            Some(o) => o,
            None => self.origins.entry(origin.into()).or_default(),
        };
        per_origin.last_heard = self.observations;
        let namespaces = &mut per_origin.namespaces;
        match namespaces.get_mut(namespace) {
            Some(last) => {
                let lost = first.saturating_sub(*last).saturating_sub(1);
                *last = last_of_run;
                lost
            }
            None => {
                if namespaces.len() >= MAX_NAMESPACES_PER_ORIGIN {
                    namespaces.clear();
                }
                namespaces.insert(namespace.into(), last_of_run);
                0
            }
        }
    }

    /// Forgets the origin heard from least recently (a scan: it runs only
    /// when [`MAX_ORIGINS`] are remembered and a new one appears).
    fn forget_least_recent(&mut self) {
        let oldest = self
            .origins
            .iter()
            .min_by_key(|(_, o)| o.last_heard)
            .map(|(k, _)| k.clone());
        if let Some(k) = oldest {
            self.origins.remove(&k);
        }
    }

    /// How many origins are remembered.
    #[cfg(test)]
    fn origin_count(&self) -> usize {
        self.origins.len()
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
    fn memory_is_bounded_and_the_least_recent_origin_goes_first() {
        let mut g = GapTracker::default();
        for i in 0..MAX_ORIGINS {
            g.observe(&format!("node-{i}"), "a", 1);
        }
        // node-0 stays current; node-1 is now the least recently heard.
        g.observe("node-0", "a", 2);
        g.observe("newcomer", "a", 1);
        assert_eq!(g.origin_count(), MAX_ORIGINS);
        assert_eq!(g.observe("node-0", "a", 5), 2, "node-0 is still tracked");
        assert_eq!(
            g.observe("node-1", "a", 9),
            0,
            "node-1 was forgotten: tracked anew"
        );
        for i in 0..3 * MAX_ORIGINS {
            g.observe(&format!("churn-{i}"), "a", 1);
        }
        assert_eq!(g.origin_count(), MAX_ORIGINS);
        for n in 0..MAX_NAMESPACES_PER_ORIGIN + 5 {
            g.observe("busy", &format!("ns-{n}"), 1);
        }
        assert!(g.origins["busy"].namespaces.len() <= MAX_NAMESPACES_PER_ORIGIN);
    }

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
