//! Shared helpers for the cluster integration tests (real nats-server from the testkit).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aether_cluster::{ClusterConfig, ClusterNode, NodeInfo};
use aether_core::NodeId;
use aether_testkit::eventually;

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "aether_cluster=info".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Short leases and timeouts so the suite is quick: member and leader lease
/// 2 s, renewals every 400 ms, safety margin 400 ms, heartbeats every 200 ms
/// (suspicion after 3 misses = 600 ms).
pub fn fast_config(cluster: &str) -> ClusterConfig {
    let mut c = ClusterConfig {
        cluster_name: cluster.to_owned(),
        ..ClusterConfig::default()
    }
    .with_lease(Duration::from_secs(2));
    c.membership.heartbeat_interval = Duration::from_millis(200);
    c.membership.suspect_after_missed = 3;
    c.kv.request_timeout = Duration::from_secs(1);
    c.rebalance_debounce = Duration::from_millis(100);
    c
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A cluster name unique to this test run.
pub fn unique_cluster(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id())
}

pub fn node_id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

pub async fn start_node(url: &str, config: &ClusterConfig, id: &str) -> ClusterNode {
    let client = async_nats::connect(url).await.expect("connect");
    ClusterNode::start(
        client,
        aether_cluster::ClusterConfig {
            node: NodeInfo::new(node_id(id)),
            ..config.clone()
        },
    )
    .await
    .expect("start node")
}

pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?}: {what}"))
}

/// Waits until every node holds a map with the same epoch, naming exactly `members`.
pub async fn converged(nodes: &[&ClusterNode], members: &[&str], limit: Duration) -> u64 {
    let mut want: Vec<NodeId> = members.iter().map(|m| node_id(m)).collect();
    want.sort();
    eventually("shard map convergence", limit, async || {
        let maps: Vec<_> = nodes.iter().map(|n| n.shard_map()).collect();
        let converged = maps[0].as_ref().filter(|first| {
            first.members == want
                && maps.iter().all(|m| {
                    m.as_ref()
                        .is_some_and(|m| m.epoch == first.epoch && m.assignment == first.assignment)
                })
        });
        match converged {
            Some(first) => Ok(first.epoch),
            None => Err(format!(
                "epochs {:?}",
                maps.iter()
                    .map(|m| m.as_ref().map(|m| m.epoch))
                    .collect::<Vec<_>>()
            )),
        }
    })
    .await
}

/// Leaders among `nodes` right now.
pub fn leaders(nodes: &[&ClusterNode]) -> Vec<(NodeId, u64)> {
    nodes
        .iter()
        .filter_map(|n| n.leadership().map(|l| (n.id().clone(), l.term.get())))
        .collect()
}
