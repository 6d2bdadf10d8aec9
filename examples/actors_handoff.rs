//! A fourth node joins a running three-node cluster under load: the shards
//! the new map gives it move warm (their active actors' states travel from
//! the old owner to node-4, which serves them without reading the log), and
//! the example prints every move and the pause the callers of the moved
//! actors saw.
//!
//! Needs a server: `nats-server -js`, then `cargo run --example
//! actors_handoff` (`NATS_URL` names another server; the default is
//! `nats://127.0.0.1:4222`).
//!
//! A planned move goes through the shard's claim in KV: the old owner stops
//! taking requests for the shard (callers are told `not-owner` and retry),
//! finishes the turns under way, ships the states, writes `released`; the
//! new owner claims the shard, installs the states, then serves. Callers
//! see a short pause, never an error; at the end every counter holds
//! exactly the additions its callers saw succeed.

#[path = "shared/cluster.rs"]
mod cluster;
#[path = "shared/counter.rs"]
mod counter;
#[path = "shared/nats.rs"]
mod nats;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aether::cluster::ShardId;
use aether::prelude::*;
use cluster::{all_served, node};
use counter::{Add, Counter, Value};
use nats::BoxError;

/// Where each actor runs now: its shard and node.
fn placement(system: &ActorSystem, actors: &[ActorId]) -> Vec<(ShardId, String)> {
    let Some(node) = system.cluster_node() else {
        return Vec::new();
    };
    actors
        .iter()
        .map(|a| {
            let owner = node.place(a).map_or_else(|| "?".into(), |n| n.to_string());
            (node.shard_for(a), owner)
        })
        .collect()
}

/// Each caller's record: per actor, the additions that succeeded and the
/// longest call while node-4 joined.
#[derive(Default)]
struct Seen {
    added: BTreeMap<usize, u64>,
    longest: BTreeMap<usize, Duration>,
    errors: Vec<String>,
}

/// Callers adding 1 to random counters until `stop`.
fn callers(
    systems: &[ActorSystem],
    actors: &Arc<Vec<ActorId>>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Seen>> {
    (0..8)
        .map(|i| {
            let (system, actors, stop) = (systems[i % 3].clone(), actors.clone(), stop.clone());
            tokio::spawn(async move {
                let mut seen = Seen::default();
                let mut k = i as u64 + 1;
                while !stop.load(Ordering::Relaxed) {
                    k = k.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let which = (k >> 33) as usize % actors.len();
                    let started = Instant::now();
                    let done = match system.get::<Counter>(actors[which].clone()) {
                        Ok(actor) => actor.ask(Add(1)).await.map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    let took = started.elapsed();
                    match done {
                        Ok(_) => *seen.added.entry(which).or_default() += 1,
                        Err(e) => seen.errors.push(e),
                    }
                    let longest = seen.longest.entry(which).or_default();
                    *longest = (*longest).max(took);
                }
                seen
            })
        })
        .collect()
}

/// Runs the example against the server at `url`.
pub async fn run(url: &str) -> Result<(), BoxError> {
    let cluster = format!("hof{}", nats::run_suffix());
    let mut systems = Vec::new();
    for id in ["node-1", "node-2", "node-3"] {
        systems.push(node(url, &cluster, id).await?);
    }
    all_served(&systems).await?;
    let actors: Arc<Vec<ActorId>> = Arc::new(
        (0..200)
            .map(|i| ActorId::new(format!("counter-{i}")))
            .collect::<Result<_, _>>()?,
    );
    for a in actors.iter() {
        systems[0].get::<Counter>(a.clone())?.ask(Add(1)).await?;
    }
    println!("3 nodes serve cluster {cluster}; 200 counters active, 8 callers adding");

    let stop = Arc::new(AtomicBool::new(false));
    let load = callers(&systems, &actors, &stop);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = placement(&systems[0], &actors);
    let joined = Instant::now();
    systems.push(node(url, &cluster, "node-4").await?);
    all_served(&systems).await?;
    let took = joined.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut seen = Seen::default();
    for task in load {
        let s = task.await?;
        for (a, n) in s.added {
            *seen.added.entry(a).or_default() += n;
        }
        for (a, d) in s.longest {
            let l = seen.longest.entry(a).or_default();
            *l = (*l).max(d);
        }
        seen.errors.extend(s.errors);
    }

    // The moves, by shard: from whom, how many actors, the longest call.
    let after = placement(&systems[0], &actors);
    let mut moves: BTreeMap<u32, (String, String, usize, Duration)> = BTreeMap::new();
    for (i, ((shard, from), (_, to))) in before.iter().zip(&after).enumerate() {
        if from != to {
            let m = moves
                .entry(shard.0)
                .or_insert((from.clone(), to.clone(), 0, Duration::ZERO));
            m.2 += 1;
            m.3 = m.3.max(seen.longest.get(&i).copied().unwrap_or_default());
        }
    }
    println!("node-4 joined; every shard served again after {took:.0?}");
    for (shard, (from, to, n, pause)) in &moves {
        println!(
            "  shard {shard:>4}: {from} -> {to}, {n} active actor(s), longest call {pause:.1?}"
        );
    }
    let moved: usize = moves.values().map(|m| m.2).sum();
    println!(
        "{moved} actors moved in {} shards; {} calls failed",
        moves.len(),
        seen.errors.len()
    );
    if let Some(e) = seen.errors.first() {
        return Err(format!("a caller saw an error during the join: {e}").into());
    }

    // Nothing lost, nothing doubled: each counter holds 1 + its additions.
    for (i, a) in actors.iter().enumerate() {
        let value = systems[3].get::<Counter>(a.clone())?.query(Value).await?;
        let expected = 1 + seen.added.get(&i).copied().unwrap_or(0);
        if value != expected {
            return Err(format!("{a}: {value}, expected {expected}").into());
        }
    }
    println!("every counter holds exactly the additions its callers saw succeed");
    for s in &systems {
        s.shutdown().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    nats::main(|url| async move { run(&url).await }).await
}
