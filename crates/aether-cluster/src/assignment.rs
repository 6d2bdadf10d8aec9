//! [`ShardAssignment`]: which nodes hold each shard.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::id::{NodeId, ShardId};

/// The replica set of every shard, primary first.
///
/// Slot 0 of a shard is its **primary** (the owner that runs its actors); the
/// other slots are replicas. A shard with no node (an empty cluster) has an
/// empty list. Replica sets never hold a node twice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShardAssignment {
    shards: Vec<Vec<NodeId>>,
}

/// Whether a replica set names a node twice. Sets are short (at most 16
/// replicas by configuration), checked without allocating; a long one (only
/// from a malformed map on the wire) by sorting, to stay O(n log n).
fn has_duplicates(replicas: &[NodeId]) -> bool {
    if replicas.len() <= 16 {
        return replicas
            .iter()
            .enumerate()
            .any(|(i, n)| replicas[..i].contains(n));
    }
    let mut sorted: Vec<&NodeId> = replicas.iter().collect();
    sorted.sort_unstable();
    sorted.windows(2).any(|w| w[0] == w[1])
}

impl ShardAssignment {
    /// An assignment of `shard_count` shards, all unplaced.
    pub fn unassigned(shard_count: u32) -> Self {
        Self {
            shards: vec![Vec::new(); shard_count as usize],
        }
    }

    /// Builds an assignment from per-shard replica lists, checking that no list
    /// holds a node twice.
    pub fn from_replicas(shards: Vec<Vec<NodeId>>) -> Result<Self> {
        for (i, replicas) in shards.iter().enumerate() {
            if has_duplicates(replicas) {
                return Err(crate::error::input_error(format!(
                    "shard {i} lists a node twice: {replicas:?}"
                )));
            }
        }
        Ok(Self { shards })
    }

    pub(crate) fn from_replicas_unchecked(shards: Vec<Vec<NodeId>>) -> Self {
        Self { shards }
    }

    /// The number of shards.
    pub fn shard_count(&self) -> u32 {
        // Saturates rather than truncates; no real assignment comes near (the
        // config allows 65,536 shards, a decoded map is bounded by its payload).
        u32::try_from(self.shards.len()).unwrap_or(u32::MAX)
    }

    /// The replica set of `shard`, primary first (empty if unplaced or out of range).
    pub fn replicas(&self, shard: ShardId) -> &[NodeId] {
        self.shards.get(shard.index()).map_or(&[], Vec::as_slice)
    }

    /// The primary of `shard`.
    pub fn primary(&self, shard: ShardId) -> Option<&NodeId> {
        self.replicas(shard).first()
    }

    /// Replaces the replica set of `shard`.
    pub fn set(&mut self, shard: ShardId, replicas: Vec<NodeId>) -> Result<()> {
        let count = self.shard_count();
        let slot = self.shards.get_mut(shard.index()).ok_or_else(|| {
            crate::error::input_error(format!("{shard} is out of range (shard count {count})"))
        })?;
        if has_duplicates(&replicas) {
            return Err(crate::error::input_error(format!(
                "{shard}: replica set lists a node twice: {replicas:?}"
            )));
        }
        *slot = replicas;
        Ok(())
    }

    /// Iterates over `(shard, replicas)`.
    pub fn iter(&self) -> impl Iterator<Item = (ShardId, &[NodeId])> + '_ {
        self.shards
            .iter()
            .enumerate()
            .map(|(i, r)| (ShardId(i as u32), r.as_slice()))
    }

    /// The shards whose primary is `node`.
    pub fn primary_shards_of(&self, node: &NodeId) -> Vec<ShardId> {
        self.iter()
            .filter(|(_, r)| r.first() == Some(node))
            .map(|(s, _)| s)
            .collect()
    }

    /// The shards that `node` holds in any slot.
    pub fn shards_of(&self, node: &NodeId) -> Vec<ShardId> {
        self.iter()
            .filter(|(_, r)| r.contains(node))
            .map(|(s, _)| s)
            .collect()
    }

    /// Primary shards per node (nodes without shards are absent).
    pub fn primary_load(&self) -> BTreeMap<NodeId, usize> {
        let mut load = BTreeMap::new();
        for r in &self.shards {
            if let Some(p) = r.first() {
                *load.entry(p.clone()).or_insert(0) += 1;
            }
        }
        load
    }

    /// Replicas (all slots) per node.
    pub fn total_load(&self) -> BTreeMap<NodeId, usize> {
        let mut load = BTreeMap::new();
        for r in &self.shards {
            for n in r {
                *load.entry(n.clone()).or_insert(0) += 1;
            }
        }
        load
    }

    /// Every node that holds at least one shard, sorted.
    pub fn nodes(&self) -> Vec<NodeId> {
        self.total_load().into_keys().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_in_short_and_long_sets() {
        let ids: Vec<NodeId> = (0..40)
            .map(|i| NodeId::new(format!("n{i}")).unwrap())
            .collect();
        for len in [0, 1, 2, 16, 17, 40] {
            let set = &ids[..len];
            assert!(!has_duplicates(set), "{len}");
            if len > 0 {
                let mut twice = set.to_vec();
                twice.push(set[len / 2].clone());
                assert!(has_duplicates(&twice), "{len}");
            }
        }
    }
}
