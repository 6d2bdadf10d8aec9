//! Configuration: public fields, documented production defaults, validated
//! where used. Shard settings are pure; the rest configures a node's
//! coordination over NATS (feature `nats`).

#[cfg(feature = "nats")]
mod cluster;
mod shards;

#[cfg(feature = "nats")]
pub use cluster::{ClusterConfig, ElectionConfig, KvConfig, MembershipConfig};
pub use shards::{ShardConfig, StrategyConfig};
