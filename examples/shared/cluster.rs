//! What the actor-cluster examples share: a node's configuration (short
//! leases so the examples are quick; production defaults are longer), a
//! member system running the counter over one JetStream stream, and a wait
//! until every shard is served. Included with
//! `#[path = "shared/cluster.rs"] mod cluster;` next to `counter` and `nats`.

use std::time::{Duration, Instant};

use aether::cluster::{ClusterConfig, ClusterNode, NodeInfo};
use aether::jetstream::{JetStreamConfig, JetStreamEventStore};
use aether::prelude::*;

use super::counter::Counter;
use super::nats::{self, BoxError};

/// Node `id` of cluster `name`, with a 2 s lease.
pub(crate) fn config(name: &str, id: &str) -> Result<ClusterConfig, BoxError> {
    let mut c = ClusterConfig {
        cluster_name: name.to_owned(),
        node: NodeInfo::new(NodeId::new(id)?),
        ..ClusterConfig::default()
    }
    .with_lease(Duration::from_secs(2));
    c.rebalance_debounce = Duration::from_millis(100);
    Ok(c)
}

/// One node: its cluster membership and its actor system running the
/// counter over the cluster's event stream.
pub(crate) async fn node(url: &str, cluster: &str, id: &str) -> Result<ActorSystem, BoxError> {
    let events = JetStreamEventStore::connect(
        url,
        JetStreamConfig {
            stream_name: format!("EX_{}", cluster.to_uppercase()),
            ..JetStreamConfig::default()
        },
    )
    .await
    .map_err(nats::explain(url))?;
    let node = ClusterNode::connect(url, config(cluster, id)?).await?;
    Ok(ActorSystem::cluster(node)
        .events(events)
        .register::<Counter>(ActorConfig::default())
        .start()
        .await?)
}

/// Waits (20 s at most) until every node's map names them all, every
/// shard is served by exactly one of them, and the leader has published no
/// new map for a while (a join that moves many shards arrives in rounds of
/// `rebalance_max_moves`, one every `rebalance_interval`).
pub(crate) async fn all_served(systems: &[ActorSystem]) -> Result<(), BoxError> {
    let started = Instant::now();
    let settle = ClusterConfig::default().rebalance_interval + Duration::from_millis(500);
    let mut epoch = (0, Instant::now());
    loop {
        let now_epoch = systems[0]
            .cluster_node()
            .and_then(|n| n.shard_map())
            .map_or(0, |m| m.epoch);
        if now_epoch != epoch.0 {
            epoch = (now_epoch, Instant::now());
        }
        let served: usize = systems.iter().map(|s| s.served_shards().len()).sum();
        let planned = systems.iter().all(|s| {
            s.cluster_node()
                .and_then(|n| n.shard_map())
                .is_some_and(|m| m.members.len() == systems.len())
        });
        let shards = systems[0]
            .cluster_node()
            .and_then(|n| n.shard_map())
            .map(|m| m.shard_count() as usize);
        if planned && Some(served) == shards && epoch.1.elapsed() >= settle {
            return Ok(());
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err("the nodes did not serve every shard within 20 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
