//! Cluster layer of Aether: placement, membership, leader election and shard
//! maps over NATS.
//!
//! PLACEHOLDER_DOCS

pub mod assignment;
pub mod config;
pub mod error;
pub mod hash;
pub mod id;
pub mod planner;
pub mod ring;
pub mod shard;
pub mod strategy;

pub use assignment::ShardAssignment;
pub use config::{
    ClusterConfig, ElectionConfig, KvConfig, MembershipConfig, ShardConfig, StrategyConfig,
};
pub use error::{ClusterError, ClusterErrorKind, Result};
pub use id::{NodeId, ShardId, Term};
pub use planner::{RebalancePlan, ShardMove, ShardRole, plan_rebalance};
pub use ring::{ConsistentHashRing, DEFAULT_VIRTUAL_NODES, RingSnapshot};
pub use shard::{ShardManager, shard_for_actor};
pub use strategy::{
    BoundedLoadStrategy, ConsistentHashStrategy, PlacementInput, PlacementStrategy,
    shard_ring_position,
};

pub mod election;
pub mod membership;
mod nats;
mod node;
pub mod shard_map;

pub use election::{LEADER_KEY, LeaderInfo, Leadership};
pub use membership::{
    EventsError, LeaseStatus, LeaveReason, Member, MemberView, MembershipEvent, MembershipEvents,
    NodeInfo,
};
pub use node::{ClusterNode, ShardMapWatch};
pub use shard_map::{MapState, SHARD_MAP_KEY, ShardMap};
