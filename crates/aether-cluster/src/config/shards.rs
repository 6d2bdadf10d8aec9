//! Shard settings: how many shards, how many copies, and the placement
//! strategy. Pure: no I/O, no NATS.

use std::sync::Arc;

use crate::error::Result;
use crate::ring::DEFAULT_VIRTUAL_NODES;
use crate::strategy::{BoundedLoadStrategy, ConsistentHashStrategy, PlacementStrategy};

/// Which placement strategy to use.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum StrategyConfig {
    /// Plain consistent hashing ([`ConsistentHashStrategy`]). The default.
    #[default]
    ConsistentHash,
    /// Consistent hashing with bounded loads ([`BoundedLoadStrategy`]): no node
    /// above `⌈(1 + epsilon) · average⌉` shards.
    BoundedLoad {
        /// ε (default [`BoundedLoadStrategy::DEFAULT_EPSILON`] = 0.25).
        epsilon: f64,
    },
}

impl StrategyConfig {
    /// Builds the strategy with `virtual_nodes` points per node.
    pub fn build(&self, virtual_nodes: usize) -> Result<Arc<dyn PlacementStrategy>> {
        Ok(match *self {
            Self::ConsistentHash => Arc::new(ConsistentHashStrategy::new(virtual_nodes)?),
            Self::BoundedLoad { epsilon } => {
                Arc::new(BoundedLoadStrategy::new(virtual_nodes, epsilon)?)
            }
        })
    }
}

/// Shards and placement.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardConfig {
    /// Number of shards (default 1024; 1 to 65,536). Changing it re-shards
    /// every actor: choose it once per cluster.
    pub shard_count: u32,
    /// Copies of each shard, primary included (default 1).
    pub replication_factor: usize,
    /// Virtual nodes per node on the hash ring (default 150).
    pub virtual_nodes: usize,
    /// Placement strategy (default consistent hashing).
    pub strategy: StrategyConfig,
}

impl Default for ShardConfig {
    fn default() -> Self {
        Self {
            shard_count: 1024,
            replication_factor: 1,
            virtual_nodes: DEFAULT_VIRTUAL_NODES,
            strategy: StrategyConfig::ConsistentHash,
        }
    }
}

impl ShardConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if self.shard_count == 0 || self.shard_count > 65_536 {
            return Err(crate::error::config_error(format!(
                "shard_count must be 1 to 65536, got {}",
                self.shard_count
            )));
        }
        if self.replication_factor == 0 || self.replication_factor > 16 {
            return Err(crate::error::config_error(format!(
                "replication_factor must be 1 to 16, got {}",
                self.replication_factor
            )));
        }
        if self.virtual_nodes == 0 || self.virtual_nodes > 65_536 {
            return Err(crate::error::config_error(format!(
                "virtual_nodes must be 1 to 65536, got {}",
                self.virtual_nodes
            )));
        }
        Ok(())
    }
}
