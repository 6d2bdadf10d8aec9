//! The coordination settings of a cluster node over NATS: membership,
//! election, the KV buckets, and [`ClusterConfig`] over them all.

use std::time::Duration;

use aether_core::{MAX_DURATION, NodeId, validate_name};
use aether_nats::{ConnectConfig, StorageType};

use super::shards::ShardConfig;
use crate::error::{ClusterErrorKind, Result};
use crate::membership::NodeInfo;

/// Membership leases and failure detection.
#[derive(Debug, Clone, PartialEq)]
pub struct MembershipConfig {
    /// How long a member entry lives without renewal: the KV bucket's `max_age`
    /// (default 10 s). A crashed node is removed (`Left`) about this long after
    /// its last renewal, and its shards are reassigned then.
    pub lease: Duration,
    /// How often a node renews its entry (default 2 s; must be below
    /// `lease − safety_margin`).
    pub renew_interval: Duration,
    /// A node stops claiming shard ownership at
    /// `sent_at(last acknowledged renewal) + lease − safety_margin` on its own
    /// monotonic clock (default 1 s). Covers clock-rate differences and the
    /// time to react; the server can only expire the entry `lease` after it
    /// wrote it, which is after `sent_at`.
    pub safety_margin: Duration,
    /// Core-NATS heartbeat period (default 1 s).
    pub heartbeat_interval: Duration,
    /// Missed heartbeats before a member is suspected (default 3, at least 1).
    /// Suspicion time = `heartbeat_interval × suspect_after_missed` (default 3 s).
    pub suspect_after_missed: u32,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(10),
            renew_interval: Duration::from_secs(2),
            safety_margin: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(1),
            suspect_after_missed: 3,
        }
    }
}

impl MembershipConfig {
    /// The time after which a silent member is suspected.
    pub fn suspect_after(&self) -> Duration {
        self.heartbeat_interval
            .saturating_mul(self.suspect_after_missed.max(1))
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        check_lease(
            "membership",
            self.lease,
            self.renew_interval,
            self.safety_margin,
        )?;
        if self.heartbeat_interval.is_zero() || self.suspect_after_missed == 0 {
            return Err(crate::error::config_error(
                "heartbeat_interval and suspect_after_missed must be positive",
            ));
        }
        check_max("membership heartbeat_interval", self.heartbeat_interval)?;
        check_max("membership suspect_after", self.suspect_after())?;
        Ok(())
    }
}

fn check_max(what: &str, d: Duration) -> Result<()> {
    if d > MAX_DURATION {
        return Err(crate::error::config_error(format!(
            "{what} must be at most {MAX_DURATION:?}, got {d:?}"
        )));
    }
    Ok(())
}

fn check_lease(what: &str, lease: Duration, renew: Duration, margin: Duration) -> Result<()> {
    check_max(&format!("{what} lease"), lease)?;
    check_max(&format!("{what} renew_interval"), renew)?;
    check_max(&format!("{what} safety_margin"), margin)?;
    if lease < Duration::from_secs(1) {
        return Err(crate::error::config_error(format!(
            "{what} lease must be at least 1 s (JetStream limit-marker TTLs are whole seconds), got {lease:?}"
        )));
    }
    // cannot overflow: both are at most a day.
    if renew.is_zero() || margin.is_zero() || renew + margin >= lease {
        return Err(crate::error::config_error(format!(
            "{what}: need 0 < renew_interval ({renew:?}) and 0 < safety_margin ({margin:?}) with renew_interval + safety_margin < lease ({lease:?})"
        )));
    }
    Ok(())
}

/// Leader election.
#[derive(Debug, Clone, PartialEq)]
pub struct ElectionConfig {
    /// The leader key's lifetime without renewal: that bucket's `max_age`
    /// (default 5 s). A dead leader is replaced about this long after its last
    /// renewal.
    pub lease: Duration,
    /// How often the leader renews (default 1 s). Followers also try to
    /// acquire the key at this period, whether or not a leader is visible
    /// (one refused KV create each), besides trying at once when they see the
    /// key deleted or expired.
    pub renew_interval: Duration,
    /// The leader steps down at `sent_at(last acknowledged renewal) + lease −
    /// safety_margin` on its monotonic clock (default 1 s).
    pub safety_margin: Duration,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(5),
            renew_interval: Duration::from_secs(1),
            safety_margin: Duration::from_secs(1),
        }
    }
}

impl ElectionConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        check_lease(
            "election",
            self.lease,
            self.renew_interval,
            self.safety_margin,
        )
    }
}

/// Where and how the cluster's KV buckets live.
#[derive(Debug, Clone, PartialEq)]
pub struct KvConfig {
    /// Replicas of each bucket (default 1; use 3 on a 3-node NATS cluster).
    pub replicas: usize,
    /// File (default) or memory storage for the buckets.
    pub storage: StorageType,
    /// Timeout of one KV or JetStream request (default 2 s).
    pub request_timeout: Duration,
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            replicas: 1,
            storage: StorageType::File,
            request_timeout: Duration::from_secs(2),
        }
    }
}

/// Everything a [`crate::ClusterNode`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    /// The cluster's name, a name by [`aether_core::validate_name`] (default
    /// `"aether"`). Buckets are `<name>_members`, `<name>_leader`,
    /// `<name>_shards`; heartbeats go to `aether.cluster.<name>.hb.<node>`.
    pub cluster_name: String,
    /// Who this node is: its id and what it announces. Default: a random id
    /// ([`NodeId::random`]), no metadata.
    pub node: NodeInfo,
    /// How [`crate::ClusterNode::connect`] dials (timeout, client name);
    /// unused by `start`.
    pub connect: ConnectConfig,
    /// Shards and placement.
    pub shards: ShardConfig,
    /// Membership and failure detection.
    pub membership: MembershipConfig,
    /// Leader election.
    pub election: ElectionConfig,
    /// KV buckets.
    pub kv: KvConfig,
    /// How long the leader waits for membership to settle before planning
    /// (default 250 ms): several joins at once give one new map.
    pub rebalance_debounce: Duration,
    /// The most shards one shard map moves from one member to another that
    /// both stay (a join, a rebalance): the leader publishes the rest in
    /// later maps, one every [`rebalance_interval`](Self::rebalance_interval),
    /// each shard moving once, straight to where the strategy puts it (see
    /// [`crate::limit_moves`]). Shards on a node that left, died or drains
    /// are never held back, nor are first placements and pinned shards. At
    /// least 1; default 128 (an eighth of the default 1,024 shards: a join
    /// to a cluster of three moves in two or three maps).
    ///
    /// ```
    /// use std::time::Duration;
    /// use aether_cluster::ClusterConfig;
    /// let c = ClusterConfig {
    ///     rebalance_max_moves: 32,
    ///     rebalance_interval: Duration::from_secs(2),
    ///     ..ClusterConfig::default()
    /// };
    /// c.validate().unwrap();
    /// assert!(ClusterConfig { rebalance_max_moves: 0, ..c }.validate().is_err());
    /// ```
    pub rebalance_max_moves: usize,
    /// How long after publishing a map that held moves back the leader plans
    /// the next one (default 1 s; above zero). Together with
    /// [`rebalance_max_moves`](Self::rebalance_max_moves) this is the rate of
    /// a large rebalance.
    pub rebalance_interval: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            cluster_name: "aether".to_owned(),
            node: NodeInfo::new(NodeId::random()),
            connect: ConnectConfig::default(),
            shards: ShardConfig::default(),
            membership: MembershipConfig::default(),
            election: ElectionConfig::default(),
            kv: KvConfig::default(),
            rebalance_debounce: Duration::from_millis(250),
            rebalance_max_moves: 128,
            rebalance_interval: Duration::from_secs(1),
        }
    }
}

impl ClusterConfig {
    /// Sets the member and leader leases to `lease`, and their renewal
    /// intervals and safety margins to a fifth of it: the one knob that
    /// trades failover time against tolerance of pauses (tests, examples
    /// and small deployments that want failover in seconds).
    ///
    /// ```
    /// use std::time::Duration;
    /// use aether_cluster::ClusterConfig;
    /// let c = ClusterConfig::default().with_lease(Duration::from_secs(2));
    /// assert_eq!(c.membership.lease, Duration::from_secs(2));
    /// assert_eq!(c.election.renew_interval, Duration::from_millis(400));
    /// assert_eq!(c.election.safety_margin, Duration::from_millis(400));
    /// c.validate().unwrap();
    /// ```
    pub fn with_lease(mut self, lease: Duration) -> Self {
        let fifth = lease / 5;
        self.membership.lease = lease;
        self.membership.renew_interval = fifth;
        self.membership.safety_margin = fifth;
        self.election.lease = lease;
        self.election.renew_interval = fifth;
        self.election.safety_margin = fifth;
        self
    }

    /// Checks every part.
    pub fn validate(&self) -> Result<()> {
        validate_name("cluster_name", &self.cluster_name)
            .map_err(|e| crate::error::config_error(e.message()))?;
        self.shards.validate()?;
        self.membership.validate()?;
        self.election.validate()?;
        if self.kv.replicas == 0 || self.kv.replicas > 5 || self.kv.request_timeout.is_zero() {
            return Err(crate::error::config_error(
                "kv.replicas must be 1 to 5 and kv.request_timeout positive",
            ));
        }
        check_max("kv.request_timeout", self.kv.request_timeout)?;
        check_max("rebalance_debounce", self.rebalance_debounce)?;
        if self.rebalance_max_moves == 0 {
            return Err(crate::error::config_error(
                "rebalance_max_moves must be at least 1 (a rebalance would never finish), got 0",
            ));
        }
        if self.rebalance_interval.is_zero() {
            return Err(crate::error::config_error(
                "rebalance_interval must be above zero",
            ));
        }
        check_max("rebalance_interval", self.rebalance_interval)?;
        self.connect
            .validate()
            .map_err(|e| e.map_kind(ClusterErrorKind::from))?;
        Ok(())
    }

    pub(crate) fn members_bucket(&self) -> String {
        format!("{}_members", self.cluster_name)
    }

    pub(crate) fn leader_bucket(&self) -> String {
        format!("{}_leader", self.cluster_name)
    }

    pub(crate) fn shards_bucket(&self) -> String {
        format!("{}_shards", self.cluster_name)
    }

    /// The bucket of the runtime's shard claims.
    pub(crate) fn claims_bucket(&self) -> String {
        format!("{}_claims", self.cluster_name)
    }

    pub(crate) fn heartbeat_prefix(&self) -> String {
        format!("aether.cluster.{}.hb", self.cluster_name)
    }
}

#[cfg(test)]
mod tests {
    use super::super::StrategyConfig;
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented() {
        let c = ClusterConfig::default();
        c.validate().unwrap();
        assert_eq!(c.shards.shard_count, 1024);
        assert_eq!(c.shards.replication_factor, 1);
        assert_eq!(c.shards.virtual_nodes, 150);
        assert!(c.membership.suspect_after() <= Duration::from_secs(5));
    }

    #[test]
    fn rejects_bad_values() {
        let mut c = ClusterConfig {
            cluster_name: "a.b".into(),
            ..Default::default()
        };
        assert!(c.validate().is_err());
        c.cluster_name = "ok".into();
        c.election.safety_margin = Duration::from_secs(10);
        assert!(c.validate().is_err());
        c.election = ElectionConfig::default();
        c.shards.shard_count = 0;
        assert!(c.validate().is_err());
        assert!(
            StrategyConfig::BoundedLoad { epsilon: f64::NAN }
                .build(10)
                .is_err()
        );
    }

    /// Regression: `Duration::MAX` settings used to overflow (`renew +
    /// margin` in validation, `now + 4 × request_timeout` at start, `sent + lease`).
    #[test]
    fn huge_durations_are_config_errors_not_overflows() {
        let huge = Duration::MAX;
        let cases: Vec<fn(&mut ClusterConfig)> = vec![
            |c| c.election.renew_interval = Duration::MAX,
            |c| c.election.lease = Duration::MAX,
            |c| c.membership.safety_margin = Duration::MAX,
            |c| c.membership.heartbeat_interval = Duration::MAX,
            |c| c.membership.suspect_after_missed = u32::MAX,
            |c| c.kv.request_timeout = Duration::MAX,
            |c| c.rebalance_debounce = Duration::MAX,
            |c| c.rebalance_interval = Duration::MAX,
            |c| c.rebalance_interval = Duration::ZERO,
            |c| c.rebalance_max_moves = 0,
        ];
        for (i, set) in cases.into_iter().enumerate() {
            let mut c = ClusterConfig::default();
            set(&mut c);
            let err = c.validate().unwrap_err();
            assert_eq!(
                err.kind(),
                crate::ClusterErrorKind::InvalidConfig,
                "case {i}: {err}"
            );
        }
        assert_eq!(
            MembershipConfig {
                heartbeat_interval: huge,
                ..Default::default()
            }
            .suspect_after(),
            huge
        );
    }
}
