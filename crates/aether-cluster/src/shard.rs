//! [`ShardManager`]: actors to shards to nodes.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use aether_core::ActorId;

use crate::assignment::ShardAssignment;
use crate::config::ShardConfig;
use crate::error::Result;
use crate::id::{NodeId, ShardId};
use crate::planner::{RebalancePlan, plan_rebalance};
use crate::strategy::PlacementStrategy;

/// The shard of an actor for `shard_count` shards.
///
/// `fmix64(fnv1a64(actor_type ‖ 0x00 ‖ id))` mapped onto `0..shard_count` by
/// multiply-shift: stable across processes, platforms and releases (see
/// [`crate::hash`]). Actor types and ids never contain NUL, so the input is
/// injective. Returns shard 0 when `shard_count` is 0. It is
/// [`aether_core::hash::shard_of`], the hash that also picks the actor's
/// event-log partition: with `K` partitions dividing `shard_count`, shard
/// `s` holds actors of partition `s · K / shard_count` only.
pub fn shard_for_actor(actor: &ActorId, shard_count: u32) -> ShardId {
    ShardId(aether_core::hash::shard_of(actor, shard_count))
}

/// Maps actors to shards and shards to nodes, with a pluggable strategy.
///
/// The shard of an actor never changes for a given shard count; which nodes
/// hold a shard is the current [`ShardAssignment`], replaced by
/// [`ShardManager::rebalance`] or [`ShardManager::apply`] (readers are never
/// blocked for long: the assignment is swapped copy-on-write).
///
/// ```
/// use aether_cluster::{ShardConfig, ShardManager};
/// use aether_core::NodeId;
/// use aether_core::ActorId;
/// let shards = ShardManager::new(ShardConfig::default()).unwrap();
/// let plan = shards.rebalance(&[NodeId::new("a").unwrap(), NodeId::new("b").unwrap()]);
/// assert_eq!(plan.primary_moves(), 1024);
/// let actor = ActorId::new("order-42").unwrap();
/// assert!(shards.place(&actor).is_some());
/// ```
pub struct ShardManager {
    config: ShardConfig,
    strategy: Arc<dyn PlacementStrategy>,
    assignment: RwLock<Arc<ShardAssignment>>,
}

impl ShardManager {
    /// A manager with the strategy named in `config`; every shard unplaced.
    pub fn new(config: ShardConfig) -> Result<Self> {
        let strategy = config.strategy.build(config.virtual_nodes)?;
        Self::with_strategy(config, strategy)
    }

    /// A manager with a custom strategy.
    pub fn with_strategy(
        config: ShardConfig,
        strategy: Arc<dyn PlacementStrategy>,
    ) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            assignment: RwLock::new(Arc::new(ShardAssignment::unassigned(config.shard_count))),
            config,
            strategy,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    /// The strategy.
    pub fn strategy(&self) -> &Arc<dyn PlacementStrategy> {
        &self.strategy
    }

    /// The number of shards.
    pub fn shard_count(&self) -> u32 {
        self.config.shard_count
    }

    /// The shard of `actor` (stable; see [`shard_for_actor`]).
    pub fn shard_for(&self, actor: &ActorId) -> ShardId {
        shard_for_actor(actor, self.config.shard_count)
    }

    /// The assignment in force.
    pub fn assignment(&self) -> Arc<ShardAssignment> {
        self.assignment
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The nodes of `shard`, primary first.
    pub fn nodes_for_shard(&self, shard: ShardId) -> Vec<NodeId> {
        let guard = self
            .assignment
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        guard.replicas(shard).to_vec()
    }

    /// The primary of `shard`.
    pub fn primary_for_shard(&self, shard: ShardId) -> Option<NodeId> {
        let guard = self
            .assignment
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        guard.primary(shard).cloned()
    }

    /// The node that runs `actor` (the primary of its shard); `None` while unplaced.
    pub fn place(&self, actor: &ActorId) -> Option<NodeId> {
        self.primary_for_shard(self.shard_for(actor))
    }

    /// Every node holding `actor`'s shard, primary first.
    pub fn place_replicas(&self, actor: &ActorId) -> Vec<NodeId> {
        self.nodes_for_shard(self.shard_for(actor))
    }

    /// Assigns `shard` to `replicas` by hand (primary first). Fails if the shard
    /// is out of range or the list repeats a node.
    pub fn assign_shard(&self, shard: ShardId, replicas: Vec<NodeId>) -> Result<()> {
        let mut guard = self
            .assignment
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut next = (**guard).clone();
        next.set(shard, replicas)?;
        *guard = Arc::new(next);
        Ok(())
    }

    /// Plans the rebalance onto `members` without applying it.
    pub fn plan(&self, members: &[NodeId]) -> RebalancePlan {
        plan_rebalance(
            self.strategy.as_ref(),
            &self.assignment(),
            members,
            self.config.shard_count,
            self.config.replication_factor,
        )
    }

    /// Plans the rebalance onto `members`, applies it and returns the plan.
    pub fn rebalance(&self, members: &[NodeId]) -> RebalancePlan {
        let mut guard = self
            .assignment
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let plan = plan_rebalance(
            self.strategy.as_ref(),
            &guard,
            members,
            self.config.shard_count,
            self.config.replication_factor,
        );
        *guard = Arc::new(plan.assignment.clone());
        plan
    }

    /// Replaces the assignment (for example with one from a shard map).
    pub fn apply(&self, assignment: ShardAssignment) -> Result<()> {
        if assignment.shard_count() != self.config.shard_count {
            return Err(crate::error::input_error(format!(
                "assignment has {} shards; this manager has {}",
                assignment.shard_count(),
                self.config.shard_count
            )));
        }
        *self
            .assignment
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(assignment);
        Ok(())
    }
}

impl fmt::Debug for ShardManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardManager")
            .field("config", &self.config)
            .field("strategy", &self.strategy.name())
            .finish()
    }
}

#[cfg(test)]
mod tests;
