//! Three nodes running the actor runtime over one JetStream event log: a
//! command sent from any node reaches the one node that serves the actor's
//! shard, and every event names the node that wrote it.
//!
//! Needs a server: `nats-server -js`, then `cargo run --example
//! actors_cluster` (`NATS_URL` names another server; the default is
//! `nats://127.0.0.1:4222`).
//!
//! Each node is a [`ClusterNode`](aether::cluster::ClusterNode) (membership, leader, shard map) with an
//! [`ActorSystem`] on top. A node serves a shard only while the map names it
//! and it holds the shard's claim; calls to other shards travel as NATS
//! requests to the subject of the actor's shard (see `docs/wire.md`). Then
//! node-3 leaves gracefully: it releases its claims, the others claim its
//! shards, and the same actors answer from their new nodes with their whole
//! history.

#[path = "shared/cluster.rs"]
mod cluster;
#[path = "shared/counter.rs"]
mod counter;
#[path = "shared/nats.rs"]
mod nats;

use aether::prelude::*;
use cluster::{all_served, node};
use counter::{Add, Counter, Value};
use nats::BoxError;

/// The node `system` runs on.
fn name(system: &ActorSystem) -> String {
    system
        .cluster_node()
        .map_or_else(|| "?".into(), |n| n.id().to_string())
}

/// Sends `+1` from every node to every actor; prints who served each.
async fn round(systems: &[ActorSystem], actors: &[ActorId]) -> Result<(), BoxError> {
    for actor in actors {
        let mut line = format!("  {actor:<10}");
        for (k, from) in systems.iter().enumerate() {
            let done = from.get::<Counter>(actor.clone())?.ask(Add(1)).await?;
            let writer = done.events[0].metadata.writer_node().unwrap_or("?");
            if k == 0 {
                line.push_str(&format!(" served by {writer:<7}:"));
            }
            line.push_str(&format!(" from {} -> v{}", name(from), done.version));
        }
        println!("{line}");
    }
    Ok(())
}

/// Runs the example against the server at `url`.
pub async fn run(url: &str) -> Result<(), BoxError> {
    let cluster = format!("act{}", nats::run_suffix());
    let mut systems = Vec::new();
    for id in ["node-1", "node-2", "node-3"] {
        systems.push(node(url, &cluster, id).await?);
    }
    all_served(&systems).await?;
    println!("3 nodes serve every shard of cluster {cluster}");
    let actors: Vec<ActorId> = ["counter-a", "counter-b", "counter-c", "counter-d"]
        .into_iter()
        .map(ActorId::new)
        .collect::<Result<_, _>>()?;
    round(&systems, &actors).await?;

    // node-3 leaves gracefully: it releases its shards before it goes.
    let leaving = systems.pop().ok_or("no node")?;
    leaving.shutdown().await?;
    println!("node-3 left");
    all_served(&systems).await?;
    round(&systems, &actors).await?;
    for actor in &actors {
        let value = systems[0]
            .get::<Counter>(actor.clone())?
            .query(Value)
            .await?;
        if value != 5 {
            return Err(format!("{actor}: {value}, expected 5 (3 + 2 additions)").into());
        }
    }
    println!("every actor counted all 5 commands, wherever it ran");
    for s in &systems {
        s.shutdown().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    nats::main(|url| async move { run(&url).await }).await
}
