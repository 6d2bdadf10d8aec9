//! The cluster layer on a 3-node NATS cluster with R3 buckets, surviving the
//! loss of one NATS server.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aether_cluster::{ClusterNode, NodeInfo};
use aether_testkit::{NatsCluster, eventually};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_buckets_survive_a_nats_server_kill() {
    init_tracing();
    let nats = NatsCluster::start().await;
    let mut cfg = fast_config(&unique_cluster("r3"));
    cfg.kv.replicas = 3;
    let mut nodes = Vec::new();
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        // Each node prefers a different server but knows them all.
        let mut urls = nats.urls();
        urls.rotate_left(i);
        let client = async_nats::ConnectOptions::new()
            .retain_servers_order()
            .connect(urls)
            .await
            .unwrap();
        nodes.push(
            ClusterNode::start(
                client,
                aether_cluster::ClusterConfig {
                    node: NodeInfo::new(node_id(id)),
                    ..cfg.clone()
                },
            )
            .await
            .unwrap(),
        );
    }
    let refs: Vec<&ClusterNode> = nodes.iter().collect();
    let epoch = converged(&refs, &["a", "b", "c"], Duration::from_secs(20)).await;
    assert_eq!(leaders(&refs).len(), 1);

    // Sample leadership every 10 ms from here on: one node per term, never
    // two valid leaders at once.
    let mut claims: BTreeMap<u64, String> = BTreeMap::new();
    let mut check = |refs: &[&ClusterNode]| {
        let now = leaders(refs);
        assert!(now.len() <= 1, "two leaders at once: {now:?}");
        for (node, term) in now {
            let holder = claims.entry(term).or_insert_with(|| node.to_string());
            assert_eq!(*holder, node.to_string(), "two nodes led term {term}");
        }
    };

    // Kill the server node `a` prefers (SIGKILL).
    nats.kill(0);
    let killed_at = Instant::now();
    // The cluster settles again: all three members in one map, one leader.
    let settled = "the cluster to settle after a NATS server kill";
    let settled_epoch = eventually(settled, Duration::from_secs(30), async || {
        check(&refs);
        let maps: Vec<_> = refs.iter().map(|n| n.shard_map()).collect();
        let ok = leaders(&refs).len() == 1
            && maps.iter().all(|m| {
                m.as_ref().is_some_and(|m| {
                    m.members.len() == 3
                        && Some(m.epoch) == maps[0].as_ref().map(|x| x.epoch)
                })
            })
            // Every node renewed its lease and the leader its term after the kill.
            && refs.iter().all(|n| n.lease().valid_until.is_some_and(|t| t > killed_at + cfg.membership.lease - cfg.membership.safety_margin))
            && refs.iter().filter_map(|n| n.leadership()).all(|l| l.valid_until > killed_at + cfg.election.lease - cfg.election.safety_margin);
        if ok { maps[0].as_ref().map(|m| m.epoch) } else { None }
    })
    .await;
    eprintln!(
        "settled after {:?} at epoch {settled_epoch} (was {epoch})",
        killed_at.elapsed()
    );
    assert!(settled_epoch >= epoch);

    // A member crash is still handled on the degraded NATS cluster.
    let victim = nodes.pop().unwrap();
    victim.abort();
    let refs: Vec<&ClusterNode> = nodes.iter().collect();
    let reassigned = "the crashed member's shards to be reassigned";
    eventually(reassigned, Duration::from_secs(20), async || {
        check(&refs);
        refs.iter().all(|n| {
            n.shard_map()
                .is_some_and(|m| m.members.len() == 2 && m.epoch > settled_epoch)
        }) && refs[0].shard_map().map(|m| m.epoch) == refs[1].shard_map().map(|m| m.epoch)
    })
    .await;
    let owned: usize = refs.iter().map(|n| n.owned_shards().len()).sum();
    assert_eq!(owned, 1024);
    for n in &nodes {
        let _ = n.shutdown().await;
    }
}
