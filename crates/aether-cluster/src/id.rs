//! Identifiers of the cluster layer: [`ShardId`] and [`Term`] (node ids are
//! [`aether_core::NodeId`]).

use std::fmt;

use serde::{Deserialize, Serialize};

pub(crate) use aether_core::NodeId;

/// A shard: `0..shard_count`. Actors map to shards by a stable hash
/// ([`crate::ShardManager::shard_for`]); shards map to nodes by the shard map.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShardId(pub u32);

impl ShardId {
    /// The shard number.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The shard number as an index.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Debug for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShardId({})", self.0)
    }
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard-{}", self.0)
    }
}

/// A leader term: the fencing token every leader decision carries.
///
/// The term is the JetStream KV revision of the write that acquired the leader
/// key. KV revisions (stream sequences) only grow, so a later leader always has
/// a higher term, and one term belongs to exactly one node. Compare terms;
/// reject decisions with an older term than one already seen.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Term(pub u64);

impl Term {
    /// The term number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Term({})", self.0)
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "term {}", self.0)
    }
}
