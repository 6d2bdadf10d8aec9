//! [`RecentCommands`]: the ids of an actor's recent commands and the versions
//! they wrote, so a retried command returns its recorded outcome.

use std::collections::VecDeque;
use std::hash::BuildHasher;

use aether_core::CommandId;
use aether_core::aggregate::RecentCommand;

/// The id's hash, compared before the id itself: a scan of a small window
/// compares machine words, not strings that share a long time-ordered
/// prefix. A command's is taken once, by its caller (`CommandMsg::id_hash`),
/// off its actor's turn.
pub(crate) fn hash(id: &CommandId) -> u64 {
    let h = foldhash::fast::FixedState::with_seed(0x5eed).hash_one(id.as_str());
    #[cfg(test)]
    if tests::COLLIDING.with(std::cell::Cell::get) {
        // Four hashes in all: collisions everywhere, for the tests.
        return h & 3;
    }
    h
}

/// Windows up to this size are scanned; larger ones get an index.
const SCAN: usize = 16;

/// An id's hash → the sequence number of the latest entry with that hash,
/// and how many entries have it (more than one only on a collision of
/// 64-bit hashes, where a lookup scans).
type Index = std::collections::HashMap<u64, Slot, std::hash::BuildHasherDefault<Identity>>;

#[derive(Debug, Clone, Copy)]
struct Slot {
    seq: usize,
    count: u32,
}

/// A multiset of hashes (hash → how many times it is in the deque), hashed
/// by themselves.
type HashSet64 = std::collections::HashMap<u64, u32, std::hash::BuildHasherDefault<Identity>>;

/// A map keyed by command ids' hashes ([`hash`]), hashed by themselves.
pub(crate) type ByHash<V> =
    std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<Identity>>;

/// The hasher of values that are hashes already.
#[derive(Default)]
pub(crate) struct Identity(u64);

impl std::hash::Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
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
/// Compact while small: an actor that ran four commands holds four entries
/// in one buffer, scanned by hash. Past [`SCAN`] entries an index (id →
/// sequence number) is built, so a busy actor's full window costs a lookup,
/// not a scan.
#[derive(Debug, Default)]
pub(crate) struct RecentCommands {
    capacity: usize,
    order: VecDeque<(u64, RecentCommand)>,
    /// How many entries were ever pushed out of `order` (so an entry's
    /// sequence number minus this is its position).
    popped: usize,
    index: Option<Box<Index>>,
    evicted: VecDeque<u64>,
    evicted_set: Option<Box<HashSet64>>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity")
    }
}

impl RecentCommands {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            ..Self::default()
        }
    }

    fn find_hashed(&self, id: &CommandId, h: u64) -> Option<usize> {
        if let Some(index) = &self.index {
            let slot = index.get(&h)?;
            if slot.count == 1 {
                let i = slot.seq - self.popped;
                return (self.order[i].1.id == *id).then_some(i);
            }
        }
        self.order
            .iter()
            .rposition(|(eh, r)| *eh == h && r.id == *id)
    }

    /// The versions `id` wrote, if remembered.
    #[cfg(test)]
    pub(crate) fn get(&self, id: &CommandId) -> Option<(u64, u64)> {
        self.get_hashed(id, hash(id))
    }

    /// [`Self::get`] of an id whose [`hash`] is `h`.
    pub(crate) fn get_hashed(&self, id: &CommandId, h: u64) -> Option<(u64, u64)> {
        self.find_hashed(id, h).map(|i| {
            let r = &self.order[i].1;
            (r.first, r.last)
        })
    }

    /// Whether `id` was remembered once and pushed out since.
    #[cfg(test)]
    pub(crate) fn was_evicted(&self, id: &CommandId) -> bool {
        !self.evicted.is_empty() && self.was_evicted_hashed(hash(id))
    }

    /// [`Self::was_evicted`] of an id whose [`hash`] is `h`.
    pub(crate) fn was_evicted_hashed(&self, h: u64) -> bool {
        if self.evicted.is_empty() {
            return false;
        }
        match &self.evicted_set {
            Some(set) => set.contains_key(&h),
            None => self.evicted.contains(&h),
        }
    }

    /// Remembers that `id` wrote versions `first..=last`. A known id is
    /// extended (its events may span messages read separately). Ids it pushes
    /// out are not counted: a window rebuilt from a history (or a handed-off
    /// state) pushes out what the live window had pushed out already.
    pub(crate) fn record(&mut self, id: CommandId, first: u64, last: u64) {
        let h = hash(&id);
        self.record_hashed(id, h, first, last);
    }

    /// A window of `capacity` rebuilt from `commands`, oldest first (a
    /// loaded history's, a handed-off state's).
    pub(crate) fn rebuilt(
        capacity: usize,
        commands: impl IntoIterator<Item = RecentCommand>,
    ) -> Self {
        let mut recent = Self::new(capacity);
        for c in commands {
            recent.record(c.id, c.first, c.last);
        }
        recent
    }

    /// [`Self::record`] of an id whose [`hash`] is `h`: returns how many ids
    /// it pushed out, for a turn's count of them
    /// (`aether_runtime_dedupe_evicted_total`, on the type's cached handle: a
    /// metric looked up by name hashes its key each time).
    pub(crate) fn record_hashed(&mut self, id: CommandId, h: u64, first: u64, last: u64) -> u64 {
        if self.capacity == 0 {
            return 0;
        }
        if let Some(i) = self.find_hashed(&id, h) {
            let r = &mut self.order[i].1;
            r.first = r.first.min(first);
            r.last = r.last.max(last);
            return 0;
        }
        let seq = self.popped + self.order.len();
        if let Some(index) = &mut self.index {
            index_add(index, h, seq);
        }
        self.order
            .push_back((h, RecentCommand::new(id, first, last)));
        if self.index.is_none() && self.order.len() > SCAN {
            let mut index = Index::default();
            for (i, (h, _)) in self.order.iter().enumerate() {
                index_add(&mut index, *h, self.popped + i);
            }
            self.index = Some(Box::new(index));
        }
        let mut evicted = 0;
        while self.order.len() > self.capacity {
            let Some((h, _)) = self.order.pop_front() else {
                break;
            };
            self.popped += 1;
            if let Some(index) = &mut self.index
                && let Some(slot) = index.get_mut(&h)
            {
                // The oldest entry goes: the latest with its hash (if any
                // is left) is another, newer one.
                slot.count -= 1;
                if slot.count == 0 {
                    index.remove(&h);
                }
            }
            evicted += 1;
            self.forget(h);
        }
        evicted
    }

    fn forget(&mut self, h: u64) {
        self.evicted.push_back(h);
        if let Some(set) = &mut self.evicted_set {
            *set.entry(h).or_default() += 1;
        } else if self.evicted.len() > SCAN {
            let mut set = HashSet64::default();
            for h in &self.evicted {
                *set.entry(*h).or_default() += 1;
            }
            self.evicted_set = Some(Box::new(set));
        }
        while self.evicted.len() > self.capacity {
            if let (Some(old), Some(set)) = (self.evicted.pop_front(), &mut self.evicted_set)
                && let Some(n) = set.get_mut(&old)
            {
                *n -= 1;
                if *n == 0 {
                    set.remove(&old);
                }
            }
        }
    }

    /// A buffer of the last commands of a history being loaded, which
    /// becomes the window ([`Tail::into_recent`]).
    pub(crate) fn tail(capacity: usize) -> Tail {
        Tail {
            capacity,
            // The window and as many evicted ids before it.
            keep: capacity.saturating_mul(2),
            runs: VecDeque::new(),
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

/// The last commands of a history as it is read (oldest first), bounded:
/// what a window of `capacity` would hold after recording all of them, and
/// the ids it would have pushed out and still remember.
pub(crate) struct Tail {
    capacity: usize,
    keep: usize,
    runs: VecDeque<RecentCommand>,
}

impl Tail {
    pub(crate) fn push(&mut self, c: RecentCommand) {
        if self.keep == 0 {
            return;
        }
        if self.runs.len() == self.keep {
            self.runs.pop_front();
        }
        self.runs.push_back(c);
    }

    /// The window, as if every command read had been recorded in order.
    pub(crate) fn into_recent(self) -> RecentCommands {
        RecentCommands::rebuilt(self.capacity, self.runs)
    }
}

/// Counts an entry of hash `h` and sequence number `seq` (the latest).
fn index_add(index: &mut Index, h: u64, seq: usize) {
    let slot = index.entry(h).or_insert(Slot { seq, count: 0 });
    slot.seq = seq;
    slot.count += 1;
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

    /// A load keeps only the tail of a long history, and ends with the
    /// window (and the evicted ids) that recording all of it would give.
    #[test]
    fn the_tail_of_a_history_makes_the_window_recording_it_all_would() {
        for (capacity, n) in [(0, 5), (1, 5), (4, 3), (4, 8), (16, 1000)] {
            let mut all = RecentCommands::new(capacity);
            let mut tail = RecentCommands::tail(capacity);
            for i in 0..n {
                all.record(id(&format!("c{i}")), i, i + 1);
                tail.push(RecentCommand::new(id(&format!("c{i}")), i, i + 1));
            }
            let tail = tail.into_recent();
            let ids = |r: &RecentCommands| {
                r.to_vec()
                    .into_iter()
                    .map(|c| (c.id, c.first, c.last))
                    .collect::<Vec<_>>()
            };
            assert_eq!(ids(&tail), ids(&all), "capacity {capacity}, {n} commands");
            for i in 0..n {
                let c = id(&format!("c{i}"));
                assert_eq!(tail.was_evicted(&c), all.was_evicted(&c), "c{i}");
            }
        }
    }

    #[test]
    fn a_large_window_is_indexed_and_agrees_with_a_small_one() {
        let mut r = RecentCommands::new(100);
        for i in 0..250u64 {
            r.record(id(&format!("c{i}")), i, i);
        }
        assert_eq!(r.len(), 100);
        assert!(r.index.is_some() && r.evicted_set.is_some());
        for i in 0..250u64 {
            let known = r.get(&id(&format!("c{i}")));
            if i >= 150 {
                assert_eq!(known, Some((i, i)), "c{i}");
            } else {
                assert_eq!(known, None, "c{i}");
                assert_eq!(r.was_evicted(&id(&format!("c{i}"))), i >= 50, "c{i}");
            }
        }
        r.record(id("c200"), 1, 300);
        assert_eq!(r.get(&id("c200")), Some((1, 300)), "extended in place");
        assert_eq!(r.to_vec().len(), 100);
    }

    thread_local! {
        /// Makes `hash` collide (see there).
        pub(super) static COLLIDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    proptest::proptest! {
        /// With hashes that collide all the time, the window (scanned or
        /// indexed) still agrees with a plain list of the last `capacity`
        /// ids.
        #[test]
        fn colliding_hashes_find_what_a_plain_list_finds(
            capacity in 0usize..40,
            ops in proptest::collection::vec(0u8..60, 0..200),
        ) {
            COLLIDING.with(|c| c.set(true));
            let mut r = RecentCommands::new(capacity);
            let mut plain: VecDeque<(String, u64, u64)> = VecDeque::new();
            for (v, op) in ops.iter().enumerate() {
                let v = v as u64;
                let name = format!("c{op}");
                r.record(id(&name), v, v);
                if capacity > 0 {
                    match plain.iter_mut().find(|(n, _, _)| *n == name) {
                        Some(e) => e.2 = e.2.max(v),
                        None => {
                            plain.push_back((name, v, v));
                            if plain.len() > capacity {
                                plain.pop_front();
                            }
                        }
                    }
                }
                for k in 0u8..60 {
                    let name = format!("c{k}");
                    let want = plain.iter().find(|(n, _, _)| *n == name).map(|(_, f, l)| (*f, *l));
                    proptest::prop_assert_eq!(r.get(&id(&name)), want, "{} after {} ops", name, v + 1);
                }
            }
            COLLIDING.with(|c| c.set(false));
        }
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
