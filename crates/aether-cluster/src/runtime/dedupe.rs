//! [`RecentCommands`]: the ids of an actor's recent commands and the versions
//! they wrote, so a retried command returns its recorded outcome.

use std::collections::{HashMap, HashSet, VecDeque};

use foldhash::fast::RandomState;

use aether_core::CommandId;
use aether_core::aggregate::RecentCommand;

/// The last `capacity` commands of one actor that wrote events, oldest first.
///
/// Rebuilt on activation from the snapshot envelope and the causation ids of
/// the events after it; a command that wrote nothing (rejected, or no events)
/// is not remembered: deciding it again is harmless. Ids pushed out are kept
/// a while longer (as bare ids), so a retry arriving too late is counted
/// (`aether_runtime_dedupe_evicted_then_seen_total`) instead of passing
/// unnoticed.
#[derive(Debug, Default)]
pub(crate) struct RecentCommands {
    capacity: usize,
    order: VecDeque<RecentCommand>,
    index: HashMap<CommandId, (u64, u64), RandomState>,
    evicted: VecDeque<CommandId>,
    evicted_set: HashSet<CommandId, RandomState>,
}

impl RecentCommands {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    /// The versions `id` wrote, if remembered.
    pub(crate) fn get(&self, id: &CommandId) -> Option<(u64, u64)> {
        self.index.get(id).copied()
    }

    /// Whether `id` was remembered once and pushed out since.
    pub(crate) fn was_evicted(&self, id: &CommandId) -> bool {
        self.evicted_set.contains(id)
    }

    /// Remembers that `id` wrote versions `first..=last`. A known id is
    /// extended (its events may span messages read separately).
    pub(crate) fn record(&mut self, id: CommandId, first: u64, last: u64) {
        if self.capacity == 0 {
            return;
        }
        if let Some(range) = self.index.get_mut(&id) {
            range.0 = range.0.min(first);
            range.1 = range.1.max(last);
            if let Some(r) = self.order.iter_mut().rev().find(|r| r.id == id) {
                (r.first, r.last) = *range;
            }
            return;
        }
        self.index.insert(id.clone(), (first, last));
        self.order.push_back(RecentCommand::new(id, first, last));
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.index.remove(&old.id);
                self.forget(old.id);
            }
        }
    }

    fn forget(&mut self, id: CommandId) {
        metrics::counter!("aether_runtime_dedupe_evicted_total").increment(1);
        if self.evicted_set.insert(id.clone()) {
            self.evicted.push_back(id);
        }
        while self.evicted.len() > self.capacity {
            if let Some(old) = self.evicted.pop_front() {
                self.evicted_set.remove(&old);
            }
        }
    }

    /// What goes into the snapshot envelope.
    pub(crate) fn to_vec(&self) -> Vec<RecentCommand> {
        self.order.iter().cloned().collect()
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
