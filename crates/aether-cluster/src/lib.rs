//! Cluster layer of Aether: placement, membership, leader election and shard
//! maps over NATS.
//!
//! # Overview
//!
//! **Placement (pure, no I/O).**
//! - [`hash`]: the stable hash every placement rests on (64-bit FNV-1a +
//!   MurmurHash3 `fmix64`, pinned by tests; never std's random hasher).
//! - [`ConsistentHashRing`]: nodes at 150 virtual points each (configurable);
//!   owner and the `n` distinct replicas of a key; copy-on-write, so readers
//!   are never blocked by membership changes.
//! - [`ShardManager`]: actor → shard (stable, default 1,024 shards) → nodes
//!   (default replication factor 1), through a [`PlacementStrategy`]:
//!   [`ConsistentHashStrategy`] (ring-share quotas) or [`BoundedLoadStrategy`]
//!   (no node above `⌈(1+ε)·average⌉`).
//! - [`plan_rebalance`]: from the assignment in force and the new membership to
//!   the new assignment and the [`ShardMove`]s (shard, from, to);
//!   [`limit_moves`]: one round of it, at most so many shards moved between
//!   members that stay.
//!
//! **Coordination over NATS** ([`ClusterNode`]).
//! - **membership**: each node announces its [`NodeInfo`] in the JetStream KV
//!   bucket `<cluster>_members` under a lease it renews (`max_age` + limit
//!   markers); heartbeats on core NATS make a silent node *suspected* within
//!   `heartbeat_interval × suspect_after_missed` (default 3 s); it *leaves*
//!   when it deletes its entry (at once) or the lease expires. Subscribers get
//!   [`MembershipEvent`]s (joined, suspected, recovered, left).
//! - **election**: compare-and-swap on the key `leader` of `<cluster>_leader`;
//!   the KV revision of the winning write is the [`Term`], a fencing token.
//!   A leader steps down at `sent_at(last renewal) + lease − safety_margin`
//!   on its monotonic clock, before the server can expire its key.
//! - **shard maps**: the leader plans on every membership change and publishes
//!   a [`ShardMap`] with an epoch that grows by one per change (CAS on the map
//!   key); nodes never go back to an older epoch or term.
//!
//! # Contracts for the runtime built on this crate
//!
//! - Act as owner of a shard only while [`ClusterNode::owns`] is true: it
//!   requires the map in force to name this node primary *and* the node's own
//!   member lease to be valid; the lease lapses locally before anyone else can
//!   be given the shard. Fence writes with the event store's per-actor
//!   expected version as well.
//! - Carry [`Leadership::term`] in every leader decision; reject decisions
//!   with a term older than one already seen.
//! - A [`ShardMove`] with a `from` that is no longer a member has nothing to
//!   hand off: the new owner recovers from the event store.
//! - Shards are reassigned when a member *leaves* (graceful leave or lease
//!   expiry), not on suspicion: suspicion is a hint for routing.
//!
//! # Example
//!
//! ```no_run
//! use aether_cluster::{ClusterConfig, ClusterNode, NodeInfo};
//! use aether_core::{ActorId, NodeId};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ClusterConfig {
//!     node: NodeInfo::new(NodeId::new("node-1")?).with_metadata("zone", "eu-1"),
//!     ..ClusterConfig::default()
//! };
//! let node = ClusterNode::connect("nats://127.0.0.1:4222", config).await?;
//! let mut events = node.subscribe();
//! let actor = ActorId::new("order-42")?;
//! if node.owns(node.shard_for(&actor)) {
//!     // run the actor here
//! }
//! let _next = events.recv().await;
//! node.shutdown().await?; // graceful leave
//! # Ok(())
//! # }
//! ```
//!
//! Pure placement needs no server:
//!
//! ```
//! use aether_cluster::{ShardConfig, ShardManager};
//! use aether_core::NodeId;
//! let shards = ShardManager::new(ShardConfig::default()).unwrap();
//! let nodes: Vec<NodeId> = (0..3).map(|i| NodeId::new(format!("n{i}")).unwrap()).collect();
//! shards.rebalance(&nodes);
//! let mut more = nodes.clone();
//! more.push(NodeId::new("n3").unwrap());
//! let plan = shards.plan(&more);
//! assert!(plan.moves.iter().all(|m| m.to.as_ref() == Some(&more[3])));
//! ```
//!
//! # Feature flags
//!
//! - `nats` (default): coordination over NATS: [`ClusterNode`] (membership,
//!   election, shard maps), the runtime's cluster placements (shard claims,
//!   routing) and the [`ClusterInspector`]. Without it the crate is pure
//!   placement (ring, shards, strategies, planner) and the runtime on one
//!   node, and compiles no NATS client.

mod assignment;
mod config;
#[cfg(feature = "nats")]
mod election;
mod error;
pub mod hash;
mod id;
#[cfg(feature = "nats")]
mod inspect;
#[cfg(feature = "nats")]
mod membership;
#[cfg(feature = "nats")]
mod nats;
#[cfg(feature = "nats")]
mod node;
#[cfg(feature = "nats")]
mod pins;
mod planner;
mod ring;
pub mod runtime;
mod shard;
#[cfg(feature = "nats")]
mod shard_map;
mod strategy;

#[cfg(feature = "nats")]
pub use aether_nats::StorageType;
pub use assignment::ShardAssignment;
#[cfg(feature = "nats")]
pub use config::{ClusterConfig, ElectionConfig, KvConfig, MembershipConfig};
pub use config::{ShardConfig, StrategyConfig};
#[cfg(feature = "nats")]
pub use election::{LEADER_KEY, LeaderInfo, Leadership};
pub use error::{ClusterError, ClusterErrorKind, Result};
pub use id::{ShardId, Term};
#[cfg(feature = "nats")]
pub use inspect::{ClaimEntry, ClusterInspector, MemberEntry};
#[cfg(feature = "nats")]
pub use membership::{
    DRAINING, EventsError, LeaseStatus, LeaveReason, Member, MemberView, MembershipEvent,
    MembershipEvents, NodeInfo,
};
#[cfg(feature = "nats")]
pub use node::{ClusterNode, ShardMapWatch};
#[cfg(feature = "nats")]
pub use pins::{PINS_KEY, Pins};
pub use planner::{RebalancePlan, ShardMove, ShardRole, limit_moves, plan_rebalance};
pub use ring::{ConsistentHashRing, DEFAULT_VIRTUAL_NODES, RingSnapshot, Walk};
pub use shard::{ShardManager, shard_for_actor};
#[cfg(feature = "nats")]
pub use shard_map::{MapState, SHARD_MAP_KEY, ShardMap};
pub use strategy::{
    BoundedLoadStrategy, ConsistentHashStrategy, PlacementInput, PlacementStrategy,
    shard_ring_position,
};
