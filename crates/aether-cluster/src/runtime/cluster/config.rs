//! Settings of routed calls and of the serving side of a cluster system.

use std::time::Duration;

use crate::runtime::config::check_duration;
use crate::runtime::error::{RuntimeError, RuntimeErrorKind};

/// How routed calls behave, and how a node hands its shards on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingConfig {
    /// The longest one attempt of a routed call waits for its reply before
    /// it is sent again with the same command id (within the call's
    /// deadline). Default 1 second.
    pub attempt_timeout: Duration,
    /// The longest pause between attempts while nobody serves the actor's
    /// shard (pauses start at 1 ms and double, with jitter). Default 100 ms.
    pub max_backoff: Duration,
    /// How long a node releasing a shard waits for the shard's actors to
    /// finish their turns before it releases the claim anyway (their turns
    /// can no longer commit). Default 5 seconds.
    pub drain_timeout: Duration,
    /// How long a node that released a shard keeps answering `not-owner`
    /// on it, so callers retry at once instead of waiting out an attempt,
    /// while the new owner subscribes. Default 2 seconds.
    pub handoff_grace: Duration,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(1),
            max_backoff: Duration::from_millis(100),
            drain_timeout: Duration::from_secs(5),
            handoff_grace: Duration::from_secs(2),
        }
    }
}

impl RoutingConfig {
    /// Checks every field; the error names the bad one.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        for (name, d) in [
            ("attempt_timeout", self.attempt_timeout),
            ("max_backoff", self.max_backoff),
            ("drain_timeout", self.drain_timeout),
            ("handoff_grace", self.handoff_grace),
        ] {
            check_duration(name, d)?;
        }
        Ok(())
    }
}

/// Where a system that serves nothing ([`super::super::ActorSystemBuilder::remote`])
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
