//! Membership and failure detection over NATS.
//!
//! - **Announce** (module `kv`): each node writes its [`NodeInfo`] under its id in
//!   the `<cluster>_members` KV bucket (`max_age` = member lease, limit markers
//!   on) and renews it every `renew_interval`. A graceful leave deletes the
//!   entry (watchers see it at once); a crashed node's entry expires after the
//!   lease and the server writes a `MaxAge` marker that watchers see.
//! - **Detect** (module `heartbeat`): each node publishes an empty core-NATS message
//!   on `aether.cluster.<cluster>.hb.<node>` every `heartbeat_interval`; a
//!   member silent for `heartbeat_interval × suspect_after_missed` is
//!   suspected (it stays a member until its lease expires).
//! - **Learn** ([`events`]): a watcher turns both into the [`MemberView`] and a
//!   stream of [`MembershipEvent`]s.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::id::NodeId;

mod events;
pub(crate) mod heartbeat;
pub(crate) mod kv;
pub(crate) mod watcher;

pub use events::{EventsError, LeaveReason, MembershipEvent, MembershipEvents};

/// What a node announces about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// The node's id (also its KV key and heartbeat subject token).
    pub id: NodeId,
    /// Where to reach the node: typically a NATS subject for requests, or a
    /// host:port. Opaque to the cluster layer (empty: the default subject
    /// `aether.cluster.<cluster>.node.<id>` is filled in at start).
    #[serde(default)]
    pub address: String,
    /// Free-form labels (zone, version, capacity, ...).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// The metadata key of a draining member (value `"true"`).
pub const DRAINING: &str = "aether.draining";

impl NodeInfo {
    /// Whether the node announced it is draining ([`DRAINING`]).
    pub fn is_draining(&self) -> bool {
        self.metadata.get(DRAINING).is_some_and(|v| v == "true")
    }

    /// Info with `id`, an empty address and no metadata.
    pub fn new(id: NodeId) -> Self {
        Self {
            id,
            address: String::new(),
            metadata: BTreeMap::new(),
        }
    }

    /// Sets the address.
    pub fn with_address(mut self, address: impl Into<String>) -> Self {
        self.address = address.into();
        self
    }

    /// Adds a metadata label.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// A member as the local node sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Member {
    /// What it announced.
    pub info: NodeInfo,
    /// KV revision of the member's entry when this node learned of it. A member
    /// that leaves and joins again gets a new, higher one.
    pub incarnation: u64,
    /// Whether heartbeats have stopped arriving (it is still a member until
    /// its lease expires).
    pub suspected: bool,
}

/// Every member the local node knows, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberView {
    /// The members.
    pub members: BTreeMap<NodeId, Member>,
}

impl MemberView {
    /// Member ids, sorted (suspected members included: they still hold a lease).
    pub fn ids(&self) -> Vec<NodeId> {
        self.members.keys().cloned().collect()
    }

    /// Whether `node` is a member.
    pub fn contains(&self, node: &NodeId) -> bool {
        self.members.contains_key(node)
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether `node` is a member that is draining: leaving gracefully, it
    /// keeps its lease and its shards until the map moves them away.
    pub fn is_draining(&self, node: &NodeId) -> bool {
        self.members.get(node).is_some_and(|m| m.info.is_draining())
    }

    /// The members a shard map may place shards on: every member that is
    /// not draining, sorted.
    pub fn placeable(&self) -> Vec<NodeId> {
        self.members
            .iter()
            .filter(|(_, m)| !m.info.is_draining())
            .map(|(id, _)| id.clone())
            .collect()
    }
}

/// The local node's own membership lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LeaseStatus {
    /// Until when the node may claim membership and shard ownership, on the
    /// local monotonic clock: `sent_at(last acknowledged renewal) + lease −
    /// safety_margin`. `None` before the first registration.
    pub valid_until: Option<Instant>,
    /// KV revision of the entry.
    pub revision: u64,
    /// KV revision of the entry's creation: the registration this lease
    /// belongs to (0 before it). A node whose entry expired (a pause, a
    /// partition) and that registered again has a new one, so what it held
    /// under the old one (a shard claim others may have taken meanwhile) is
    /// known stale even before anything else notices.
    pub incarnation: u64,
}

impl LeaseStatus {
    /// Whether the lease is valid now.
    pub fn is_valid(&self) -> bool {
        self.valid_until.is_some_and(|t| Instant::now() < t)
    }
}
