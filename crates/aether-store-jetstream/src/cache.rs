//! A bounded per-actor cache of the latest version and its stream sequence.
//!
//! The cache is only a hint: every append still carries the expected stream
//! sequence, which the server checks. A stale entry costs one conflict and a
//! refresh from the server, never a wrong accept.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

/// foldhash, randomly seeded: several times faster than the standard
/// SipHash on short actor ids (the cache is hashed twice per append), and
/// still unpredictable to whoever picks the ids.
type RandomState = foldhash::fast::RandomState;

use aether_core::ActorId;

/// What is known about an actor's tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tip {
    /// The latest version (0 = no events).
    pub(crate) version: u64,
    /// The stream sequence of the subject's last message; `None` when only the
    /// version is known (raised from the bus), so an append must look it up.
    pub(crate) sequence: Option<u64>,
}

const SHARDS: usize = 16;

/// Sharded, bounded map actor → [`Tip`]. When a shard is full an arbitrary
/// entry of that shard is evicted, so memory stays bounded whatever the
/// number of actors.
#[derive(Debug)]
pub(crate) struct VersionCache {
    shards: Vec<Mutex<HashMap<ActorId, Tip, RandomState>>>,
    per_shard: usize,
    hasher: RandomState,
}

impl VersionCache {
    /// A cache of at most about `capacity` actors (0 disables it).
    pub(crate) fn new(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS);
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(HashMap::with_hasher(RandomState::default())))
                .collect(),
            per_shard,
            hasher: RandomState::default(),
        }
    }

    fn shard(
        &self,
        actor: &ActorId,
    ) -> std::sync::MutexGuard<'_, HashMap<ActorId, Tip, RandomState>> {
        let i = (self.hasher.hash_one(actor) as usize) % SHARDS;
        // A poisoned shard only means a panic elsewhere while holding it; the
        // map itself is always consistent, so keep using it.
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached tip of `actor`.
    pub(crate) fn get(&self, actor: &ActorId) -> Option<Tip> {
        if self.per_shard == 0 {
            return None;
        }
        self.shard(actor).get(actor).copied()
    }

    /// Records a tip read from (or acknowledged by) the server. It replaces
    /// the entry unless the entry knows a higher version.
    pub(crate) fn record(&self, actor: &ActorId, version: u64, sequence: u64) {
        self.upsert(actor, |old| match old {
            Some(t) if t.version > version => t,
            _ => Tip {
                version,
                sequence: Some(sequence),
            },
        });
    }

    /// Raises the cached version to `version` (sequence unknown); never lowers it.
    pub(crate) fn raise(&self, actor: &ActorId, version: u64) {
        self.upsert(actor, |old| match old {
            Some(t) if t.version >= version => t,
            _ => Tip {
                version,
                sequence: None,
            },
        });
    }

    /// Forgets `actor`.
    pub(crate) fn remove(&self, actor: &ActorId) {
        if self.per_shard > 0 {
            self.shard(actor).remove(actor);
        }
    }

    /// Forgets every actor (the sequences it holds are of streams that no
    /// longer take writes).
    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            shard.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    /// How many actors are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }

    fn upsert(&self, actor: &ActorId, f: impl FnOnce(Option<Tip>) -> Tip) {
        if self.per_shard == 0 {
            return;
        }
        let mut shard = self.shard(actor);
        // The common case (an append to a cached actor): update in place.
        if let Some(tip) = shard.get_mut(actor) {
            *tip = f(Some(*tip));
            return;
        }
        if shard.len() >= self.per_shard
            && let Some(victim) = shard.keys().next().cloned()
        {
            shard.remove(&victim);
        }
        shard.insert(actor.clone(), f(None));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(i: usize) -> ActorId {
        ActorId::new(format!("a-{i}")).unwrap()
    }

    #[test]
    fn raise_never_lowers_and_record_keeps_higher() {
        let c = VersionCache::new(100);
        c.record(&a(1), 3, 30);
        c.raise(&a(1), 2);
        assert_eq!(c.get(&a(1)).unwrap().version, 3);
        c.raise(&a(1), 5);
        assert_eq!(
            c.get(&a(1)).unwrap(),
            Tip {
                version: 5,
                sequence: None
            }
        );
        c.record(&a(1), 4, 40);
        assert_eq!(c.get(&a(1)).unwrap().version, 5);
        c.record(&a(1), 5, 50);
        assert_eq!(c.get(&a(1)).unwrap().sequence, Some(50));
    }

    #[test]
    fn bounded() {
        let c = VersionCache::new(64);
        for i in 0..10_000 {
            c.record(&a(i), 1, 1);
        }
        assert!(c.len() <= 64, "{}", c.len());
        let off = VersionCache::new(0);
        off.record(&a(1), 1, 1);
        assert_eq!(off.get(&a(1)), None);
    }
}
