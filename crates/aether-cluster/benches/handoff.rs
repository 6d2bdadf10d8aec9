//! Warm handoff against stop-and-replay, side by side in one run.
//!
//! `cargo bench -p aether-cluster --bench handoff`
//! (env `HANDOFF_ACTORS` = active actors before the join, default 10,000;
//! `HANDOFF_SHARD_ACTORS` = actors of the one shard moved at shutdown,
//! default 1,000; `HANDOFF_CALLERS`, default 32)
//!
//! For each mode (warm handoff on, then off: the stop-and-replay baseline),
//! on one nats-server with the JetStream store, three nodes in this process:
//!
//! 1. **node join**: `HANDOFF_ACTORS` actors are active and called without
//!    pause; a fourth node joins; the figures are the store reads the nodes
//!    make while the shards move (history loads of moved actors), the time
//!    until every shard is served again, and the latency of the calls to
//!    moved actors made meanwhile (the pause they saw: p50, p99, max), with
//!    every call under a 1 s deadline (errors counted);
//! 2. **graceful shutdown** of the fourth node while it serves one shard
//!    with `HANDOFF_SHARD_ACTORS` active actors (and its share of the
//!    others): the time `shutdown()` takes to hand every shard on, the store
//!    reads the remaining nodes make for the moved actors, and the pause of
//!    calls to that shard's actors.
//!
//! The nodes share two cores with nats-server and the callers: latencies
//! are ceilings.

mod common;

use common::pct;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aether_cluster::runtime::{ActorConfig, ActorSystem, RoutingConfig};
use aether_cluster::{ClusterConfig, ClusterNode, NodeInfo, ShardId, shard_for_actor};
use aether_core::{ActorId, NodeId};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::fixtures::Counter;
use aether_testkit::{FaultyStore, NatsServer};
use tokio::sync::Mutex;

const SHARDS: u32 = 1024;
const DEADLINE: Duration = Duration::from_secs(1);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(cluster: &str, id: &str) -> ClusterConfig {
    let mut c = ClusterConfig {
        cluster_name: cluster.to_owned(),
        node: NodeInfo::new(NodeId::new(id).unwrap()),
        ..ClusterConfig::default()
    }
    .with_lease(Duration::from_secs(2));
    c.rebalance_debounce = Duration::from_millis(100);
    c
}

/// A member running `Counter` over a store that counts its reads.
async fn member(
    url: &str,
    cluster: &str,
    id: &str,
    stream: &str,
    warm: bool,
) -> (ActorSystem, FaultyStore<JetStreamEventStore>) {
    let store = JetStreamEventStore::connect(
        url,
        JetStreamConfig {
            stream_name: stream.to_owned(),
            ..JetStreamConfig::default()
        },
    )
    .await
    .unwrap();
    let events = FaultyStore::new(store);
    let client = aether_nats::connect(url, &Default::default(), "bench-node")
        .await
        .unwrap();
    let node = ClusterNode::start(client, config(cluster, id))
        .await
        .unwrap();
    let system = ActorSystem::cluster(node)
        .events(events.clone())
        .routing(RoutingConfig {
            warm_handoff: warm,
            ..RoutingConfig::default()
        })
        .register::<Counter>(ActorConfig::default())
        .start()
        .await
        .unwrap();
    (system, events)
}

/// Waits until every member's map names them all and every shard is served
/// by exactly one of them.
async fn all_served(systems: &[&ActorSystem]) {
    let start = Instant::now();
    loop {
        let planned = systems.iter().all(|s| {
            s.cluster_node()
                .and_then(|n| n.shard_map())
                .is_some_and(|m| m.members.len() == systems.len())
        });
        let mut count = vec![0u32; SHARDS as usize];
        for s in systems {
            for shard in s.served_shards() {
                count[shard.0 as usize] += 1;
            }
        }
        if planned && count.iter().all(|&c| c == 1) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "shards not served"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One call's start and latency.
type Sample = (Instant, Duration);

/// Callers asking `+1` of random actors without pause, each call under the
/// deadline; every call recorded.
struct Load {
    stop: Arc<AtomicBool>,
    errors: Arc<AtomicU64>,
    samples: Arc<Mutex<Vec<(ActorId, Instant, Duration)>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(systems: &[&ActorSystem], actors: Arc<Vec<ActorId>>, callers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..callers)
            .map(|i| {
                let system = systems[i % systems.len()].clone();
                let (stop, errors, samples, actors) = (
                    stop.clone(),
                    errors.clone(),
                    samples.clone(),
                    actors.clone(),
                );
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    let mut k = i.wrapping_mul(7919);
                    while !stop.load(Ordering::Relaxed) {
                        k = k
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        let id = &actors[(k >> 33) % actors.len()];
                        let t = Instant::now();
                        let ok = match system.get::<Counter>(id.clone()) {
                            Ok(r) => {
                                matches!(tokio::time::timeout(DEADLINE, r.ask(1)).await, Ok(Ok(_)))
                            }
                            Err(_) => false,
                        };
                        if !ok {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                        mine.push((id.clone(), t, t.elapsed()));
                    }
                    samples.lock().await.extend(mine);
                })
            })
            .collect();
        Self {
            stop,
            errors,
            samples,
            tasks,
        }
    }

    /// Stops the callers; every call made and the errors.
    async fn finish(self) -> (Vec<(ActorId, Instant, Duration)>, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let samples = std::mem::take(&mut *self.samples.lock().await);
        (samples, self.errors.load(Ordering::Relaxed))
    }
}

/// The pause the calls to `moved` actors saw between `from` and `until`.
fn pause(
    samples: &[(ActorId, Instant, Duration)],
    moved: impl Fn(&ActorId) -> bool,
    from: Instant,
    until: Instant,
) -> Vec<Sample> {
    samples
        .iter()
        .filter(|(id, t, _)| *t >= from && *t <= until && moved(id))
        .map(|(_, t, d)| (*t, *d))
        .collect()
}

fn summary(v: &[Sample]) -> String {
    if v.is_empty() {
        return "no calls".to_owned();
    }
    let s: Vec<f64> = v.iter().map(|(_, d)| d.as_secs_f64()).collect();
    format!(
        "{} calls, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        s.len(),
        pct(s.clone(), 0.5) * 1e3,
        pct(s.clone(), 0.99) * 1e3,
        pct(s, 1.0) * 1e3
    )
}

/// Actors of `shard`, `n` of them.
fn actors_of(shard: ShardId, n: usize, prefix: &str) -> Vec<ActorId> {
    (0..)
        .map(|i| ActorId::new(format!("counter-{prefix}{i}")).unwrap())
        .filter(|id| shard_for_actor(id, SHARDS) == shard)
        .take(n)
        .collect()
}

/// Activates `actors` (one `+1` each, 64 at a time).
async fn activate(system: &ActorSystem, actors: &[ActorId]) {
    use futures::StreamExt;
    futures::stream::iter(actors)
        .for_each_concurrent(64, |id| async move {
            system
                .get::<Counter>(id.clone())
                .unwrap()
                .ask(1)
                .await
                .unwrap();
        })
        .await;
}

struct Figures {
    /// History loads, all reads.
    join_reads: (u64, u64),
    join_moved: usize,
    join_time: Duration,
    join_pause: Vec<Sample>,
    shutdown_reads: (u64, u64),
    shutdown_moved: usize,
    shutdown_time: Duration,
    shutdown_pause: Vec<Sample>,
    errors: u64,
}

async fn run(url: &str, warm: bool, round: usize) -> Figures {
    let n = env("HANDOFF_ACTORS", 10_000);
    let hot = env("HANDOFF_SHARD_ACTORS", 1_000);
    let callers = env("HANDOFF_CALLERS", 32);
    let cluster = format!("hob{}{round}{}", std::process::id(), u8::from(warm));
    let stream = cluster.to_uppercase();
    let (a, ea) = member(url, &cluster, "a", &stream, warm).await;
    let (b, eb) = member(url, &cluster, "b", &stream, warm).await;
    let (c, ec) = member(url, &cluster, "c", &stream, warm).await;
    all_served(&[&a, &b, &c]).await;
    let actors: Vec<ActorId> = (0..n)
        .map(|i| ActorId::new(format!("counter-j{i}")).unwrap())
        .collect();
    activate(&a, &actors).await;
    let actors = Arc::new(actors);
    let load = Load::start(&[&a, &b, &c], actors.clone(), callers);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 1. A fourth node joins.
    // (history loads, all reads)
    let reads = |s: &[&FaultyStore<JetStreamEventStore>]| {
        (
            s.iter().map(|e| e.history_loads()).sum::<u64>(),
            s.iter().map(|e| e.reads()).sum::<u64>(),
        )
    };
    let minus = |(a, b): (u64, u64), (c, d): (u64, u64)| (a - c, b - d);
    let before = reads(&[&ea, &eb, &ec]);
    let t0 = Instant::now();
    let (d, ed) = member(url, &cluster, "d", &stream, warm).await;
    all_served(&[&a, &b, &c, &d]).await;
    let join_time = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t1 = Instant::now();
    let on_d: std::collections::HashSet<ShardId> = d.served_shards().into_iter().collect();
    let join_reads = minus(reads(&[&ea, &eb, &ec, &ed]), before);
    let join_moved = actors
        .iter()
        .filter(|id| on_d.contains(&shard_for_actor(id, SHARDS)))
        .count();

    // 2. One of d's shards gets many active actors; then d shuts down.
    let shard = *on_d.iter().min_by_key(|s| s.0).unwrap();
    let hot_actors = actors_of(shard, hot, "h");
    activate(&a, &hot_actors).await;
    let hot_load = Load::start(&[&a, &b, &c], Arc::new(hot_actors.clone()), callers / 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = reads(&[&ea, &eb, &ec]);
    let t2 = Instant::now();
    d.shutdown().await.unwrap();
    let shutdown_time = t2.elapsed();
    all_served(&[&a, &b, &c]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t3 = Instant::now();
    let shutdown_reads = minus(reads(&[&ea, &eb, &ec]), before);

    let (samples, errors) = load.finish().await;
    let (hot_samples, hot_errors) = hot_load.finish().await;
    let join_pause = pause(
        &samples,
        |id| on_d.contains(&shard_for_actor(id, SHARDS)),
        t0,
        t1,
    );
    let shutdown_pause = pause(&hot_samples, |_| true, t2, t3);
    for s in [&a, &b, &c] {
        s.shutdown().await.unwrap();
    }
    Figures {
        join_reads,
        join_moved,
        join_time,
        join_pause,
        shutdown_reads,
        shutdown_moved: join_moved + hot,
        shutdown_time,
        shutdown_pause,
        errors: errors + hot_errors,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server = NatsServer::start().await;
    let url = server.url();
    let rounds = env("HANDOFF_ROUNDS", 2);
    println!(
        "warm handoff against stop-and-replay: 3 nodes + 1 joining, {} actors, {} in the shard moved at shutdown, {} callers, deadline 1 s, {rounds} rounds",
        env("HANDOFF_ACTORS", 10_000),
        env("HANDOFF_SHARD_ACTORS", 1_000),
        env("HANDOFF_CALLERS", 32)
    );
    for round in 0..rounds {
        let warm = run(&url, true, round).await;
        let cold = run(&url, false, round).await;
        println!("\nround {}", round + 1);
        for (name, f) in [("warm", &warm), ("stop-and-replay", &cold)] {
            println!(
                "  {name:>16}: join: {} actors moved, {} history loads ({} reads), all served in {:.0} ms, pause of moved actors {}",
                f.join_moved,
                f.join_reads.0,
                f.join_reads.1,
                f.join_time.as_secs_f64() * 1e3,
                summary(&f.join_pause)
            );
            println!(
                "  {name:>16}: shutdown: ~{} actors moved, {} history loads ({} reads), shutdown took {:.0} ms, pause of the {}-actor shard {}; caller errors {}",
                f.shutdown_moved,
                f.shutdown_reads.0,
                f.shutdown_reads.1,
                f.shutdown_time.as_secs_f64() * 1e3,
                env("HANDOFF_SHARD_ACTORS", 1_000),
                summary(&f.shutdown_pause),
                f.errors
            );
        }
        let ratio = |w: u64, c: u64| {
            if c == 0 {
                "n/a".to_owned()
            } else {
                format!("{:.3}", w as f64 / c as f64)
            }
        };
        println!(
            "  history loads warm / stop-and-replay: join {}, shutdown {}; all reads: join {}, shutdown {}",
            ratio(warm.join_reads.0, cold.join_reads.0),
            ratio(warm.shutdown_reads.0, cold.shutdown_reads.0),
            ratio(warm.join_reads.1, cold.join_reads.1),
            ratio(warm.shutdown_reads.1, cold.shutdown_reads.1)
        );
    }
}
