//! [`RemoteConfig`]: where a system that runs no actor sends its calls.

use crate::runtime::error::{RuntimeError, RuntimeErrorKind};

/// Where a system that runs no actor ([`crate::runtime::ActorSystem::remote`])
/// sends its calls: the cluster's name and shard count, as its members
/// have them in their [`crate::ClusterConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteConfig {
    /// The cluster's name (default `"aether"`).
    pub cluster_name: String,
    /// The cluster's shard count (default 1,024).
    pub shard_count: u32,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            cluster_name: "aether".into(),
            shard_count: crate::ShardConfig::default().shard_count,
        }
    }
}

impl RemoteConfig {
    /// Checks the name and the count.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        aether_core::validate_name("cluster_name", &self.cluster_name)
            .map_err(|e| RuntimeError::new(RuntimeErrorKind::InvalidConfig, e.message()))?;
        if self.shard_count == 0 {
            return Err(RuntimeError::new(
                RuntimeErrorKind::InvalidConfig,
                "shard_count must be at least 1",
            ));
        }
        Ok(())
    }
}
