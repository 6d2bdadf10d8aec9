//! [`Fence`]: the seam through which a placement tells the local runtime
//! whether this node may run an actor's turns now, and what the events it
//! writes carry about their writer.
//!
//! On one node there is no fence: every actor runs here. In a cluster the
//! fence is the shard claims (`cluster/claim_fence.rs`): a node runs an
//! actor's turns only while the map names it the owner of the actor's shard,
//! it holds the shard's claim and its member lease is valid.

use std::fmt;

use aether_core::{ActorId, BoxFuture, Metadata};

/// What a turn writes under: the placement's unit (a shard) and the fencing
/// token of this node's hold on it (the claim's revision).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lease {
    pub(crate) shard: u32,
    pub(crate) token: u64,
}

/// Whether this node may run an actor's turns now.
pub(crate) trait Fence: Send + Sync + fmt::Debug {
    /// The lease to write `actor`'s events under, if this node serves the
    /// actor now.
    fn check(&self, actor: &ActorId) -> Option<Lease>;

    /// The placement's unit (shard) of `actor`, whoever serves it.
    fn unit_of(&self, actor: &ActorId) -> u32;

    /// Whether the node's own lease still holds (asked again after a
    /// commit: an answer given after it lapsed is not given as `Ok`).
    fn holds(&self) -> bool;

    /// After a conflict: whether `lease` is still this node's, as the
    /// authority that grants it has it (`false` on any doubt). A stale owner
    /// thereby learns it lost the actor before it reloads and decides again.
    fn confirm(&self, lease: Lease) -> BoxFuture<'_, bool>;

    /// What every event written under `lease` carries about its writer.
    fn stamp(&self, lease: Lease) -> Stamp;
}

/// The writer of a turn's events: the node and its claim (built once a
/// turn, merged into each command's event metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp(Metadata);

impl Stamp {
    pub(crate) fn new(node: impl Into<String>, claim: impl Into<String>) -> Self {
        Self(
            Metadata::new()
                .with_writer_node(node)
                .with_writer_claim(claim),
        )
    }

    /// The writer's keys.
    pub(crate) fn metadata(&self) -> &Metadata {
        &self.0
    }
}
