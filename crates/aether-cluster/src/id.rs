//! Identifiers of the cluster layer: [`NodeId`], [`ShardId`] and [`Term`].

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ClusterError, Result};

/// The id of a cluster node: 1 to [`NodeId::MAX_LEN`] characters from
/// `[A-Za-z0-9_-]`.
///
/// The restricted alphabet makes a node id usable as-is as a NATS subject token
/// and a KV key, so distinct nodes never share a subject or key. Cheap to clone.
///
/// ```
/// use aether_cluster::NodeId;
/// let id = NodeId::new("node-1").unwrap();
/// assert_eq!(id.as_str(), "node-1");
/// assert!(NodeId::new("a.b").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(Arc<str>);

impl NodeId {
    /// The longest node id accepted, in bytes.
    pub const MAX_LEN: usize = 64;

    /// Validates `id` and builds a node id.
    pub fn new(id: impl AsRef<str>) -> Result<Self> {
        let id = id.as_ref();
        if id.is_empty() || id.len() > Self::MAX_LEN {
            return Err(ClusterError::input(format!(
                "node id must be 1 to {} bytes long, got {}",
                Self::MAX_LEN,
                id.len()
            )));
        }
        if let Some(c) = id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(ClusterError::input(format!(
                "node id {id:?} contains {c:?}; only [A-Za-z0-9_-] are allowed"
            )));
        }
        Ok(Self(Arc::from(id)))
    }

    /// A random node id (`node-` and 16 hex digits), for nodes without a stable name.
    pub fn random() -> Self {
        Self(Arc::from(format!("node-{:016x}", rand_u64())))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // std's RandomState is randomly seeded per process: good enough for a unique name.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NodeId {
    type Err = ClusterError;
    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        NodeId::new(s).map_err(serde::de::Error::custom)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_validation() {
        assert!(NodeId::new("").is_err());
        assert!(NodeId::new("a b").is_err());
        assert!(NodeId::new("a*").is_err());
        assert!(NodeId::new("x".repeat(65)).is_err());
        assert!(NodeId::new("Node_1-a").is_ok());
        let r = NodeId::random();
        assert!(NodeId::new(r.as_str()).is_ok());
        assert_ne!(NodeId::random(), NodeId::random());
    }

    #[test]
    fn node_id_serde_validates() {
        let id = NodeId::new("n1").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"n1\"");
        assert!(serde_json::from_str::<NodeId>("\"a.b\"").is_err());
    }
}
