//! Three cluster nodes on one NATS server: leader election, one shard map,
//! actor placement, and a graceful leave that changes the map.
//!
//! Needs a server: `nats-server -js`, then `cargo run --example cluster`
//! (`NATS_URL` names another server; the default is `nats://127.0.0.1:4222`).
//!
//! Each [`ClusterNode`] registers in the cluster's KV buckets; one wins the
//! leader key (its KV revision is the term, a fencing token) and publishes a
//! [`ShardMap`] that every node accepts. All nodes then place every actor on
//! the same node, and only that node [`owns`](ClusterNode::owns) its shard.
//! When node-3 shuts down gracefully it deletes its member entry; the others
//! see it leave at once and the leader publishes a map without it.

#[path = "shared/nats.rs"]
mod nats;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aether::cluster::{ClusterConfig, ClusterNode, MembershipEvent, NodeInfo, ShardMap};
use aether::prelude::*;
use nats::BoxError;

/// Short leases so the example is quick (production defaults are longer).
fn config(name: String) -> ClusterConfig {
    let mut c = ClusterConfig {
        cluster_name: name,
        ..ClusterConfig::default()
    }
    .with_lease(Duration::from_secs(2));
    c.shards.shard_count = 256;
    c.membership.heartbeat_interval = Duration::from_millis(200);
    c.rebalance_debounce = Duration::from_millis(100);
    c
}

/// Waits (10 s at most) until one node leads and every node holds the same
/// map, planned for exactly their ids; returns the leader and the map.
async fn agreed(nodes: &[&ClusterNode]) -> Result<(NodeId, Arc<ShardMap>), BoxError> {
    let mut want: Vec<NodeId> = nodes.iter().map(|n| n.id().clone()).collect();
    want.sort();
    let started = Instant::now();
    loop {
        let leaders: Vec<_> = nodes.iter().filter(|n| n.is_leader()).collect();
        let maps: Vec<_> = nodes.iter().filter_map(|n| n.shard_map()).collect();
        if let ([leader], Some(first)) = (leaders.as_slice(), maps.first())
            && maps.len() == nodes.len()
            && first.members == want
            && maps.iter().all(|m| m.epoch == first.epoch)
        {
            return Ok((leader.id().clone(), first.clone()));
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err("the nodes did not agree on a leader and a shard map in 10 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn print_map(leader: &NodeId, map: &ShardMap) {
    let load: Vec<String> = map
        .assignment
        .primary_load()
        .iter()
        .map(|(node, shards)| format!("{node}: {shards}"))
        .collect();
    println!(
        "leader {leader} ({}); shard map epoch {}: {} shards, {}",
        map.term,
        map.epoch,
        map.shard_count(),
        load.join(", ")
    );
}

/// Places `actors` on every node; checks they agree and only the owner owns.
fn place(nodes: &[&ClusterNode], actors: &[ActorId]) -> Result<Vec<NodeId>, BoxError> {
    let mut placed = Vec::new();
    for actor in actors {
        let shard = nodes[0].shard_for(actor);
        let owner = nodes[0].place(actor).ok_or("no shard map")?;
        for n in nodes {
            if n.place(actor).as_ref() != Some(&owner) || n.owns(shard) != (n.id() == &owner) {
                return Err(format!("{} disagrees about {actor}", n.id()).into());
            }
        }
        placed.push(owner);
    }
    Ok(placed)
}

/// Runs the example against the server at `url`.
pub async fn run(url: &str) -> Result<(), BoxError> {
    let config = config(format!("example-{}", nats::run_suffix()));
    let mut nodes = Vec::new();
    for i in 1..=3 {
        let info = NodeInfo::new(NodeId::new(format!("node-{i}"))?).with_metadata("zone", "eu-1");
        nodes.push(
            ClusterNode::connect(
                url,
                aether::cluster::ClusterConfig {
                    node: info,
                    ..config.clone()
                },
            )
            .await
            .map_err(nats::explain(url))?,
        );
    }
    println!("3 nodes joined cluster {} on {url}", config.cluster_name);
    let all: Vec<&ClusterNode> = nodes.iter().collect();
    let (leader, map) = agreed(&all).await?;
    print_map(&leader, &map);

    let actors = ["account-1", "account-2", "order-17", "order-42", "cart-7"]
        .map(|a| ActorId::new(a).unwrap());
    let before = place(&all, &actors)?;
    for (actor, owner) in actors.iter().zip(&before) {
        let shard = all[0].shard_for(actor).to_string();
        println!("  {actor:<10} {shard:<9} on {owner}");
    }

    // node-3 leaves gracefully; node-1 sees it go.
    let mut events = nodes[0].subscribe();
    let leaving = nodes.pop().ok_or("no node")?;
    leaving.shutdown().await?;
    let left = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(MembershipEvent::Left { node, reason }) = events.recv().await {
                return (node, reason);
            }
        }
    })
    .await
    .map_err(|_| "node-1 did not see node-3 leave")?;
    println!("node-1 saw {} leave ({:?})", left.0, left.1);

    let rest: Vec<&ClusterNode> = nodes.iter().collect();
    let (leader, new_map) = agreed(&rest).await?;
    print_map(&leader, &new_map);
    let after = place(&rest, &actors)?;
    for ((actor, old), new) in actors.iter().zip(&before).zip(&after) {
        let moved = if old == new { "" } else { " (moved)" };
        println!("  {actor:<10} on {new}{moved}");
    }
    if new_map.epoch <= map.epoch || after.iter().any(|n| n == leaving.id()) {
        return Err("the new map does not supersede the old one".into());
    }
    for n in &nodes {
        n.shutdown().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    nats::main(|url| async move { run(&url).await }).await
}
