//! Cluster benchmarks: our code and a raw baseline in the same run, with the ratio.
//!
//! `cargo bench -p aether-cluster --bench cluster`
//!
//! 1. node lookup on a 100-node × 150-vnode ring vs a raw `BTreeMap::range`
//!    lookup and the bare hash of the key;
//! 2. shard lookup (actor → shard → node) vs a bare `hash % shards`;
//! 3. planning 1,024 shards over 100 nodes vs a naive `shard % nodes` table;
//! 4. time from a member's death (and from a graceful leave) to a new shard
//!    map on a real nats-server, vs the configured lease.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::hint::black_box;
use std::time::{Duration, Instant};

use aether_cluster::hash::stable_hash;
use aether_cluster::{
    BoundedLoadStrategy, ClusterConfig, ClusterNode, ConsistentHashRing, ConsistentHashStrategy,
    NodeInfo, PlacementStrategy, ShardAssignment, ShardConfig, ShardManager, plan_rebalance,
    shard_for_actor,
};
use aether_core::{ActorId, NodeId};

fn nodes(n: usize) -> Vec<NodeId> {
    (0..n)
        .map(|i| NodeId::new(format!("node-{i}")).unwrap())
        .collect()
}

/// Runs `f` over `keys` repeatedly for ~`target`, returns ns per call.
fn time_per_op<K>(keys: &[K], target: Duration, mut f: impl FnMut(&K)) -> f64 {
    // warm up
    for k in keys.iter().take(10_000) {
        f(k);
    }
    let start = Instant::now();
    let mut ops = 0u64;
    while start.elapsed() < target {
        for k in keys {
            f(k);
        }
        ops += keys.len() as u64;
    }
    start.elapsed().as_nanos() as f64 / ops as f64
}

fn lookups() {
    println!("## node lookup: 100 nodes x 150 virtual nodes, 10,000 distinct keys");
    let ring = ConsistentHashRing::from_nodes(150, nodes(100)).unwrap();
    let snap = ring.snapshot();
    let keys: Vec<String> = (0..10_000).map(|i| format!("order-{i}")).collect();
    // Raw baseline: the same points in a BTreeMap, the same hash.
    let mut raw: BTreeMap<u64, u32> = BTreeMap::new();
    for (i, n) in nodes(100).iter().enumerate() {
        for v in 0..150u32 {
            raw.insert(aether_cluster::hash::vnode_hash(n.as_str(), v), i as u32);
        }
    }
    let t = Duration::from_millis(700);
    let ours = time_per_op(&keys, t, |k| {
        black_box(ring.node_for_key(black_box(k.as_bytes())));
    });
    let ours_snap = time_per_op(&keys, t, |k| {
        black_box(snap.node_for_key(black_box(k.as_bytes())));
    });
    let btree = time_per_op(&keys, t, |k| {
        let h = stable_hash(black_box(k.as_bytes()));
        let owner = raw.range(h..).next().or_else(|| raw.iter().next());
        black_box(owner);
    });
    let hash_only = time_per_op(&keys, t, |k| {
        black_box(stable_hash(black_box(k.as_bytes())));
    });
    let rs = std::collections::hash_map::RandomState::new();
    let std_hash = time_per_op(&keys, t, |k| {
        let mut h = rs.build_hasher();
        h.write(black_box(k.as_bytes()));
        black_box(h.finish());
    });
    println!("ring.node_for_key (read lock + clone)   {ours:8.1} ns/op");
    println!("snapshot.node_for_key (no lock, borrow) {ours_snap:8.1} ns/op");
    println!(
        "raw BTreeMap::range + stable_hash       {btree:8.1} ns/op   ratio ring/raw = {:.2}",
        ours / btree
    );
    println!(
        "stable_hash only (FNV-1a + fmix64)      {hash_only:8.1} ns/op   ratio ring/hash = {:.1}",
        ours / hash_only
    );
    println!(
        "std SipHash (RandomState) only          {std_hash:8.1} ns/op   ratio stable/std = {:.2}",
        hash_only / std_hash
    );
    println!();

    println!("## shard lookup: actor -> shard (1,024) -> node");
    let actors: Vec<ActorId> = keys.iter().map(|k| ActorId::new(k).unwrap()).collect();
    let manager = ShardManager::new(ShardConfig::default()).unwrap();
    manager.rebalance(&nodes(100));
    let shard = time_per_op(&actors, t, |a| {
        black_box(shard_for_actor(black_box(a), 1024));
    });
    let place = time_per_op(&actors, t, |a| {
        black_box(manager.place(black_box(a)));
    });
    let modulo = time_per_op(&actors, t, |a| {
        black_box(stable_hash(black_box(a.as_str().as_bytes())) % 1024);
    });
    println!(
        "shard_for_actor                          {shard:8.1} ns/op   ratio vs raw = {:.2}",
        shard / modulo
    );
    println!(
        "ShardManager::place (shard + node)       {place:8.1} ns/op   ratio vs raw = {:.2}",
        place / modulo
    );
    println!("raw stable_hash(id) % 1024               {modulo:8.1} ns/op");
    println!();
}

fn planning() {
    println!("## planning 1,024 shards over 100 nodes (target <= 10 ms)");
    let members = nodes(100);
    let mut joined = members.clone();
    joined.push(NodeId::new("node-new").unwrap());
    let strategies: [(&str, Box<dyn PlacementStrategy>); 2] = [
        (
            "consistent-hash",
            Box::new(ConsistentHashStrategy::default()),
        ),
        ("bounded-load", Box::new(BoundedLoadStrategy::default())),
    ];
    // Raw baseline: a naive shard % nodes table (no ring, no movement control).
    let runs = 30;
    let start = Instant::now();
    for _ in 0..runs {
        let table: Vec<Vec<NodeId>> = (0..1024usize)
            .map(|s| vec![members[s % members.len()].clone()])
            .collect();
        black_box(table);
    }
    let naive = start.elapsed().as_secs_f64() * 1e3 / runs as f64;
    for (name, s) in &strategies {
        let empty = ShardAssignment::unassigned(1024);
        let start = Instant::now();
        let mut plan = None;
        for _ in 0..runs {
            plan = Some(plan_rebalance(
                s.as_ref(),
                black_box(&empty),
                &members,
                1024,
                1,
            ));
        }
        let fresh = start.elapsed().as_secs_f64() * 1e3 / runs as f64;
        let current = plan.unwrap().assignment;
        let start = Instant::now();
        let mut moved = 0;
        for _ in 0..runs {
            moved =
                plan_rebalance(s.as_ref(), black_box(&current), &joined, 1024, 1).primary_moves();
        }
        let join = start.elapsed().as_secs_f64() * 1e3 / runs as f64;
        println!(
            "{name:16} first placement {fresh:6.2} ms, join of a 101st node {join:6.2} ms ({moved} moves); naive table {naive:.3} ms; ratio plan/naive = {:.0}",
            join / naive
        );
    }
    println!();
}

fn fast_config(name: &str) -> ClusterConfig {
    let mut c = ClusterConfig {
        cluster_name: name.to_owned(),
        ..ClusterConfig::default()
    }
    .with_lease(Duration::from_secs(2));
    c.membership.heartbeat_interval = Duration::from_millis(200);
    c.kv.request_timeout = Duration::from_secs(1);
    c.rebalance_debounce = Duration::from_millis(100);
    c
}

async fn start(url: &str, cfg: &ClusterConfig, id: &str) -> ClusterNode {
    let client = async_nats::connect(url).await.unwrap();
    ClusterNode::start(
        client,
        aether_cluster::ClusterConfig {
            node: NodeInfo::new(NodeId::new(id).unwrap()),
            ..cfg.clone()
        },
    )
    .await
    .unwrap()
}

async fn wait_epoch_above(nodes: &[&ClusterNode], epoch: u64) {
    loop {
        if nodes
            .iter()
            .all(|n| n.shard_map().is_some_and(|m| m.epoch > epoch))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn failover() {
    println!(
        "## member death -> new shard map (real nats-server, lease 2 s, heartbeat 200 ms x 3)"
    );
    let server = aether_testkit::NatsServer::start().await;
    let rounds = 3;
    let (mut crash, mut leave) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let cfg = fast_config(&format!("bench{round}"));
        let a = start(&server.url(), &cfg, "a").await;
        while a.leadership().is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let b = start(&server.url(), &cfg, "b").await;
        let c = start(&server.url(), &cfg, "c").await;
        let d = start(&server.url(), &cfg, "d").await;
        loop {
            let ok = [&a, &b, &c, &d]
                .iter()
                .all(|n| n.shard_map().is_some_and(|m| m.members.len() == 4));
            if ok {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let epoch = a.shard_map().unwrap().epoch;
        let t = Instant::now();
        d.abort();
        wait_epoch_above(&[&a, &b, &c], epoch).await;
        crash.push(t.elapsed());
        let epoch = a.shard_map().unwrap().epoch;
        let t = Instant::now();
        c.shutdown().await.unwrap();
        wait_epoch_above(&[&a, &b], epoch).await;
        leave.push(t.elapsed());
        a.shutdown().await.unwrap();
        b.shutdown().await.unwrap();
    }
    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len() as u32;
    let lease = Duration::from_secs(2);
    println!(
        "crash -> new map on all survivors: mean {:?} over {rounds} ({:?}); ratio to lease = {:.2}",
        mean(&crash),
        crash,
        mean(&crash).as_secs_f64() / lease.as_secs_f64()
    );
    println!(
        "graceful leave -> new map:         mean {:?} over {rounds} ({:?}); ratio to lease = {:.3}",
        mean(&leave),
        leave,
        mean(&leave).as_secs_f64() / lease.as_secs_f64()
    );
}

fn main() {
    // `cargo test --benches` runs benches with `--bench` absent: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    lookups();
    planning();
    if quick {
        println!("(skipping the NATS failover benchmark outside `cargo bench`)");
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(failover());
}
