//! [`RecentCommands`]: the ids of an actor's recent commands and the versions
//! they wrote, so a retried command returns its recorded outcome.

use std::collections::VecDeque;
use std::hash::BuildHasher;

use aether_core::CommandId;
use aether_core::aggregate::RecentCommand;

/// The id's hash, compared before the id itself: a scan of the window
/// compares machine words, not strings that share a long time-ordered
/// prefix.
fn hash(id: &CommandId) -> u64 {
    foldhash::fast::FixedState::with_seed(0x5eed).hash_one(id.as_str())
}

/// The last `capacity` commands of one actor that wrote events, oldest first.
///
/// Rebuilt on activation from the snapshot envelope and the causation ids of
/// the events after it; a command that wrote nothing (rejected, or no events)
/// is not remembered: deciding it again is harmless. Ids pushed out are kept
/// a while longer (as their hashes), so a retry arriving too late is counted
/// (`aether_runtime_dedupe_evicted_then_seen_total`) instead of passing
/// unnoticed.
///
/// Compact rather than indexed: an actor that ran four commands holds four
/// entries in one buffer (no hash tables of its own; a lookup scans the
/// hashes, at most `capacity` words).
#[derive(Debug, Default)]
pub(crate) struct RecentCommands {
    capacity: usize,
    order: VecDeque<(u64, RecentCommand)>,
    evicted: VecDeque<u64>,
}

impl RecentCommands {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    fn find(&self, id: &CommandId) -> Option<usize> {
        let h = hash(id);
        self.order
            .iter()
            .rposition(|(eh, r)| *eh == h && r.id == *id)
    }

    /// The versions `id` wrote, if remembered.
    pub(crate) fn get(&self, id: &CommandId) -> Option<(u64, u64)> {
        self.find(id).map(|i| {
            let r = &self.order[i].1;
            (r.first, r.last)
        })
    }

    /// Whether `id` was remembered once and pushed out since.
    pub(crate) fn was_evicted(&self, id: &CommandId) -> bool {
        if self.evicted.is_empty() {
            return false;
        }
        let h = hash(id);
        self.evicted.contains(&h)
    }

    /// Remembers that `id` wrote versions `first..=last`. A known id is
    /// extended (its events may span messages read separately).
    pub(crate) fn record(&mut self, id: CommandId, first: u64, last: u64) {
        if self.capacity == 0 {
            return;
        }
        if let Some(i) = self.find(&id) {
            let r = &mut self.order[i].1;
            r.first = r.first.min(first);
            r.last = r.last.max(last);
            return;
        }
        self.order
            .push_back((hash(&id), RecentCommand::new(id, first, last)));
        while self.order.len() > self.capacity {
            if let Some((h, _)) = self.order.pop_front() {
                metrics::counter!("aether_runtime_dedupe_evicted_total").increment(1);
                self.evicted.push_back(h);
                if self.evicted.len() > self.capacity {
                    self.evicted.pop_front();
                }
            }
        }
    }

    /// What goes into the snapshot envelope.
    pub(crate) fn to_vec(&self) -> Vec<RecentCommand> {
        self.order.iter().map(|(_, r)| r.clone()).collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> CommandId {
        CommandId::new(s).unwrap()
    }

    #[test]
    fn bounded_oldest_out_and_late_retries_are_noticed() {
        let mut r = RecentCommands::new(2);
        r.record(id("a"), 1, 1);
        r.record(id("b"), 2, 3);
        r.record(id("a"), 1, 1);
        assert_eq!(r.len(), 2);
        r.record(id("c"), 4, 4);
        assert_eq!(r.get(&id("a")), None);
        assert!(r.was_evicted(&id("a")));
        assert_eq!(r.get(&id("b")), Some((2, 3)));
        assert_eq!(r.get(&id("c")), Some((4, 4)));
        assert_eq!(
            r.to_vec().iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
        let mut off = RecentCommands::new(0);
        off.record(id("x"), 1, 1);
        assert_eq!(off.get(&id("x")), None);
    }

    #[test]
    fn a_range_read_in_parts_is_joined() {
        let mut r = RecentCommands::new(4);
        r.record(id("a"), 5, 5);
        r.record(id("a"), 6, 6);
        assert_eq!(r.get(&id("a")), Some((5, 6)));
        assert_eq!(r.to_vec()[0].last, 6);
    }
}
