//! [`Chunked`]: a log in blocks of a fixed size once it is long (an actor's
//! events, the order of every append), so that it grows without copying
//! itself.

/// Entries per block past the first. A flat `Vec` copied the whole history
/// at every doubling: the append that crossed one near a million events
/// stalled for 13–16 ms (the ratio bench's long-history part, 2026-12-06;
/// the slowest append with blocks: under 1 ms). A block of 4,096 events
/// (~0.5 MiB) is never copied once full.
const CHUNK: usize = if cfg!(test) { 4 } else { 4096 };

/// Entries in order: full blocks of [`CHUNK`], then the block filling,
/// which is the only one an append touches (as a flat `Vec`'s end). A short
/// log is that one block, grown as a `Vec` grows; past `CHUNK` entries each
/// new block is allocated whole.
#[derive(Debug)]
pub(crate) struct Chunked<T> {
    /// Full blocks, oldest first.
    full: Vec<Vec<T>>,
    /// The block filling (empty only while the log is).
    head: Vec<T>,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Self {
            full: Vec::new(),
            head: Vec::new(),
        }
    }
}

impl<T: Clone> Chunked<T> {
    /// The last entry.
    #[inline]
    pub(crate) fn last(&self) -> Option<&T> {
        self.head.last()
    }

    /// How many entries.
    pub(crate) fn len(&self) -> usize {
        self.full.len() * CHUNK + self.head.len()
    }

    /// Adds `entry` at the end.
    #[inline]
    pub(crate) fn push(&mut self, entry: T) {
        if self.head.len() == CHUNK {
            let full = std::mem::replace(&mut self.head, Vec::with_capacity(CHUNK));
            self.full.push(full);
        }
        self.head.push(entry);
    }

    /// Adds `entries` at the end, in order.
    pub(crate) fn extend(&mut self, entries: Vec<T>) {
        if self.head.len() + entries.len() <= CHUNK {
            return self.head.extend(entries);
        }
        for entry in entries {
            self.push(entry);
        }
    }

    /// The position of the first entry for which `before` is false (the
    /// entries for which it is true come first), as `slice::partition_point`.
    pub(crate) fn partition_point(&self, before: impl Fn(&T) -> bool) -> usize {
        let k = self
            .full
            .partition_point(|block| block.last().is_some_and(&before));
        match self.full.get(k) {
            Some(block) => k * CHUNK + block.partition_point(&before),
            None => k * CHUNK + self.head.partition_point(&before),
        }
    }

    /// The entries at positions `start..end` (clipped to the log), cloned.
    pub(crate) fn cloned(&self, start: usize, end: usize) -> Vec<T> {
        let end = end.min(self.len());
        let mut out = Vec::with_capacity(end.saturating_sub(start));
        let mut at = 0;
        for block in self.full.iter().chain(std::iter::once(&self.head)) {
            let (lo, hi) = (start.max(at), end.min(at + block.len()));
            if lo < hi {
                out.extend_from_slice(&block[lo - at..hi - at]);
            }
            at += block.len();
            if at >= end {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use aether_core::{ActorId, Event, json};
    use proptest::prelude::*;

    use super::*;

    fn ev(v: u64) -> Event {
        Event::new(ActorId::new("a").unwrap(), v, "T", json!(v))
    }

    fn versions(events: &[Event]) -> Vec<u64> {
        events.iter().map(|e| e.version).collect()
    }

    proptest! {
        /// Whatever the appends (one or many at a time, versions with
        /// gaps), the blocks read as one flat `Vec` would.
        #[test]
        fn reads_as_a_flat_vec_would(
            appends in proptest::collection::vec((1usize..10, 1u64..4), 0..20),
            from in 0u64..200,
            count in 0usize..30,
        ) {
            let (mut chunked, mut flat) = (Chunked::<Event>::default(), Vec::new());
            let mut version = 0;
            for (n, gap) in appends {
                let batch: Vec<Event> = (0..n).map(|_| { version += gap; ev(version) }).collect();
                flat.extend(batch.iter().cloned());
                if n == 1 {
                    chunked.push(batch.into_iter().next().unwrap());
                } else {
                    chunked.extend(batch);
                }
                prop_assert_eq!(chunked.len(), flat.len());
                prop_assert_eq!(chunked.last().map(|e| e.version), flat.last().map(|e| e.version));
            }
            let start = flat.partition_point(|e| e.version < from);
            prop_assert_eq!(chunked.partition_point(|e| e.version < from), start);
            prop_assert_eq!(versions(&chunked.cloned(start, usize::MAX)), versions(&flat[start..]));
            let end = start.saturating_add(count).min(flat.len());
            prop_assert_eq!(
                versions(&chunked.cloned(start, start.saturating_add(count))),
                versions(&flat[start..end])
            );
        }
    }

    #[test]
    fn a_long_history_grows_by_whole_blocks() {
        let mut c = Chunked::<Event>::default();
        for v in 1..=(3 * CHUNK as u64 + 1) {
            c.push(ev(v));
        }
        assert_eq!(c.full.len(), 3);
        assert_eq!(c.head.len(), 1);
        assert!(c.full.iter().skip(1).all(|b| b.capacity() == CHUNK));
        assert_eq!(c.head.capacity(), CHUNK);
        let at = c.partition_point(|e| e.version < 2 * CHUNK as u64);
        assert_eq!(versions(&c.cloned(at, usize::MAX)).len(), CHUNK + 2);
    }
}
