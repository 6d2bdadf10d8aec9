//! Three nodes on one nats-server: one leader, one shard map; leader failover
//! with a recorded leadership history; a join published in rounds of at most
//! `rebalance_max_moves` shards.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aether_cluster::{ClusterErrorKind, ClusterNode, NodeInfo};
use aether_core::NodeId;
use aether_testkit::NatsServer;
use aether_testkit::eventually;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_elect_one_leader_and_agree_on_one_map() {
    init_tracing();
    let server = NatsServer::start().await;
    let cfg = fast_config(&unique_cluster("elect"));
    let a = start_node(&server.url(), &cfg, "a").await;
    let b = start_node(&server.url(), &cfg, "b").await;
    let c = start_node(&server.url(), &cfg, "c").await;
    let nodes = [&a, &b, &c];
    let epoch = converged(&nodes, &["a", "b", "c"], Duration::from_secs(10)).await;
    let leaders = leaders(&nodes);
    assert_eq!(leaders.len(), 1, "exactly one leader: {leaders:?}");
    let (leader, term) = leaders[0].clone();
    for n in nodes {
        let seen = n.leader().expect("every node sees the leader");
        assert_eq!((seen.node, seen.term.get()), (leader.clone(), term));
        let map = n.shard_map().unwrap();
        assert_eq!(map.epoch, epoch);
        assert_eq!(map.term.get(), term);
        assert_eq!(map.shard_count(), 1024);
    }
    // Every shard is owned by exactly one node, and each node owns some.
    let owned: usize = nodes.iter().map(|n| n.owned_shards().len()).sum();
    assert_eq!(owned, 1024);
    assert!(nodes.iter().all(|n| !n.owned_shards().is_empty()));
    // Placement agrees everywhere.
    let actor = aether_core::ActorId::new("order-42").unwrap();
    let owner = a.place(&actor).unwrap();
    assert_eq!(b.place(&actor).unwrap(), owner);
    assert_eq!(c.place(&actor).unwrap(), owner);
    for n in nodes {
        n.shutdown().await.unwrap();
    }
}

#[test]
fn public_handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<ClusterNode>();
    check::<aether_cluster::ConsistentHashRing>();
    check::<aether_cluster::ShardManager>();
    check::<aether_cluster::ShardMapWatch>();
    check::<aether_cluster::MembershipEvents>();
    check::<aether_cluster::ClusterError>();
}

/// A node that crashed (its entry left to expire) and restarts with the same
/// id is refused (`NodeIdTaken`) until its old lease ends: the old process
/// may only be paused, and its shards may not be served twice. Then the id
/// is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_nodes_id_is_refused_until_its_lease_ends_then_free() {
    init_tracing();
    let server = NatsServer::start().await;
    let cfg = fast_config(&unique_cluster("crashed"));
    let a = start_node(&server.url(), &cfg, "a").await;
    a.abort();
    let crashed = Instant::now();
    let again = || async {
        ClusterNode::start(
            server.connect().await,
            aether_cluster::ClusterConfig {
                node: NodeInfo::new(node_id("a")),
                ..cfg.clone()
            },
        )
        .await
    };
    let err = again().await.unwrap_err();
    assert_eq!(err.kind(), ClusterErrorKind::NodeIdTaken, "{err}");
    let restarted = loop {
        match again().await {
            Ok(node) => break node,
            Err(e) if e.kind() == ClusterErrorKind::NodeIdTaken => {
                assert!(
                    crashed.elapsed() < cfg.membership.lease * 4,
                    "still taken after {:?}",
                    crashed.elapsed()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    assert!(
        crashed.elapsed() >= cfg.membership.lease / 2,
        "refused for about a lease, not freed at once"
    );
    restarted.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_id_held_by_a_live_node_is_refused() {
    init_tracing();
    let server = NatsServer::start().await;
    let cfg = fast_config(&unique_cluster("taken"));
    let a = start_node(&server.url(), &cfg, "a").await;
    let client = server.connect().await;
    let err = ClusterNode::start(
        client,
        aether_cluster::ClusterConfig {
            node: NodeInfo::new(node_id("a")),
            ..cfg.clone()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ClusterErrorKind::NodeIdTaken);
    // Invalid configuration is refused before touching NATS.
    let mut bad = cfg.clone();
    bad.election.safety_margin = Duration::from_secs(5);
    let err = ClusterNode::start(
        server.connect().await,
        aether_cluster::ClusterConfig {
            node: NodeInfo::new(node_id("z")),
            ..bad
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ClusterErrorKind::InvalidConfig);
    a.shutdown().await.unwrap();
}

/// One observed leadership of one node: (node, term, first seen, valid until).
#[derive(Debug, Clone)]
struct Claim {
    node: NodeId,
    term: u64,
    since: Instant,
    until: Instant,
}

/// Records every leadership change of `node` into `history`.
fn record(node: &ClusterNode, history: Arc<Mutex<Vec<Claim>>>) -> tokio::task::JoinHandle<()> {
    let mut rx = node.watch_leadership();
    let id = node.id().clone();
    tokio::spawn(async move {
        loop {
            if let Some(l) = *rx.borrow_and_update() {
                let mut h = history.lock().unwrap();
                match h
                    .iter_mut()
                    .find(|c| c.node == id && c.term == l.term.get())
                {
                    Some(c) => c.until = c.until.max(l.valid_until),
                    None => h.push(Claim {
                        node: id.clone(),
                        term: l.term.get(),
                        since: Instant::now(),
                        until: l.valid_until,
                    }),
                }
            } else {
                // Stepped down: the claim ends now at the latest.
                let now = Instant::now();
                let mut h = history.lock().unwrap();
                for c in h.iter_mut().filter(|c| c.node == id) {
                    c.until = c.until.min(now.max(c.since));
                }
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
}

/// At most one node per term, and leadership intervals of different terms
/// never overlap (all nodes share this process's monotonic clock).
fn check_history(history: &[Claim]) {
    let mut claims = history.to_vec();
    claims.sort_by_key(|c| c.term);
    for w in claims.windows(2) {
        assert!(
            w[0].term != w[1].term || w[0].node == w[1].node,
            "two nodes claimed term {}: {claims:?}",
            w[0].term
        );
        if w[0].term != w[1].term {
            assert!(
                w[0].until <= w[1].since,
                "term {} (node {}) still valid when term {} (node {}) began: {claims:?}",
                w[0].term,
                w[0].node,
                w[1].term,
                w[1].node
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_leader_is_replaced_with_a_higher_term_within_about_a_lease() {
    init_tracing();
    let server = NatsServer::start().await;
    let cfg = fast_config(&unique_cluster("failover"));
    let history = Arc::new(Mutex::new(Vec::new()));
    let a = start_node(&server.url(), &cfg, "a").await;
    let _ra = record(&a, history.clone());
    eventually("a leads", Duration::from_secs(5), async || a.leadership()).await;
    let b = start_node(&server.url(), &cfg, "b").await;
    let c = start_node(&server.url(), &cfg, "c").await;
    let _rb = record(&b, history.clone());
    let _rc = record(&c, history.clone());
    let epoch = converged(&[&a, &b, &c], &["a", "b", "c"], Duration::from_secs(10)).await;
    let old_term = a.leadership().unwrap().term;

    // Crash the leader: no resignation, its key expires with the lease.
    let killed_at = Instant::now();
    a.abort();
    let (new_leader, new_term) = eventually("a new leader", cfg.election.lease * 3, async || {
        leaders(&[&b, &c]).into_iter().next()
    })
    .await;
    let elapsed = killed_at.elapsed();
    assert!(
        new_term > old_term.get(),
        "term {new_term} after {old_term}"
    );
    // About one lease period (2 s) plus renewal/watch latency; generous bound.
    assert!(
        elapsed < cfg.election.lease + Duration::from_millis(1500),
        "took {elapsed:?}"
    );
    eprintln!("new leader {new_leader} (term {new_term}) {elapsed:?} after the kill");

    // The dead member's shards move with one new map.
    let next = converged(&[&b, &c], &["b", "c"], Duration::from_secs(10)).await;
    assert_eq!(next, epoch + 1, "one map per change");
    assert_eq!(b.shard_map().unwrap().term.get(), new_term);
    check_history(&history.lock().unwrap());
    assert!(history.lock().unwrap().len() >= 2);
    b.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_leader_resignation_hands_over_at_once() {
    init_tracing();
    let server = NatsServer::start().await;
    let cfg = fast_config(&unique_cluster("resign"));
    let history = Arc::new(Mutex::new(Vec::new()));
    let a = start_node(&server.url(), &cfg, "a").await;
    let _ra = record(&a, history.clone());
    eventually("a leads", Duration::from_secs(5), async || a.leadership()).await;
    let b = start_node(&server.url(), &cfg, "b").await;
    let _rb = record(&b, history.clone());
    converged(&[&a, &b], &["a", "b"], Duration::from_secs(10)).await;
    let start = Instant::now();
    a.shutdown().await.unwrap();
    eventually("b leads", Duration::from_secs(5), async || b.leadership()).await;
    // Well under the 2 s lease: the deleted key frees the seat at once.
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        start.elapsed()
    );
    converged(&[&b], &["b"], Duration::from_secs(5)).await;
    check_history(&history.lock().unwrap());
    b.shutdown().await.unwrap();
}

/// Regression: a node whose lease setting is longer than the `max_age` of
/// the existing lease buckets (created by a node configured differently)
/// used them as they were. The server then expired its keys before its
/// local lease ended, so another node could lead (or own its shards) while
/// it still did. Such a node now refuses to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_longer_lease_than_the_buckets_refuses_to_start() {
    init_tracing();
    let server = NatsServer::start().await;
    let cfg = fast_config(&unique_cluster("lease"));
    let a = start_node(&server.url(), &cfg, "a").await;
    for longer in ["election", "membership"] {
        let mut other = cfg.clone();
        if longer == "election" {
            other.election.lease = cfg.election.lease * 2;
        } else {
            other.membership.lease = cfg.membership.lease * 2;
        }
        let client = async_nats::connect(server.url()).await.unwrap();
        let err = ClusterNode::start(
            client,
            aether_cluster::ClusterConfig {
                node: NodeInfo::new(node_id("b")),
                ..other
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.kind(),
            ClusterErrorKind::InvalidConfig,
            "{longer}: {err}"
        );
    }
    // A shorter lease than the bucket's is safe (the server expires later).
    let mut shorter = cfg.clone();
    shorter.election.lease = cfg.election.lease - Duration::from_millis(500);
    let client = async_nats::connect(server.url()).await.unwrap();
    let c = ClusterNode::start(
        client,
        aether_cluster::ClusterConfig {
            node: NodeInfo::new(node_id("c")),
            ..shorter
        },
    )
    .await
    .unwrap();
    c.shutdown().await.unwrap();
    a.shutdown().await.unwrap();
}

/// The leader publishes a join in rounds: each map moves at most
/// `rebalance_max_moves` shards (all to the newcomer, each once), the rounds
/// end at the strategy's placement within `⌈moves / limit⌉` maps; a leave is
/// one map however many shards it moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_moves_in_rounds_and_a_leave_at_once() {
    init_tracing();
    let server = NatsServer::start().await;
    let mut cfg = fast_config(&unique_cluster("rounds"));
    cfg.shards.shard_count = 64;
    cfg.rebalance_max_moves = 4;
    cfg.rebalance_interval = Duration::from_millis(200);
    let limit = cfg.rebalance_max_moves;
    let a = start_node(&server.url(), &cfg, "a").await;
    let before = converged(&[&a], &["a"], Duration::from_secs(10)).await;
    let base = a.shard_map().unwrap();
    assert_eq!(base.epoch, before);
    assert_eq!(
        base.assignment.primary_shards_of(&node_id("a")).len(),
        64,
        "a first placement is not held back"
    );

    // Every map a sees from now on.
    let seen = Arc::new(Mutex::new(vec![base.clone()]));
    let mut watch = a.watch_shard_map();
    let recorder = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Ok(m) = watch.changed().await {
                if let Some(m) = m {
                    seen.lock().unwrap().push(m);
                }
            }
        })
    };
    let b = start_node(&server.url(), &cfg, "b").await;
    let members = [node_id("a"), node_id("b")];
    let target = aether_cluster::plan_rebalance(
        &aether_cluster::ConsistentHashStrategy::new(cfg.shards.virtual_nodes).unwrap(),
        &base.assignment,
        &members,
        64,
        1,
    );
    let required = target.primary_moves();
    assert!(required > limit, "the join moves {required} shards");
    let last = eventually(
        "the join's last round",
        Duration::from_secs(30),
        async || a.shard_map().filter(|m| m.assignment == target.assignment),
    )
    .await;
    assert!(
        last.epoch - before <= required.div_ceil(limit) as u64,
        "{required} moves in {} maps",
        last.epoch - before
    );
    {
        let maps = seen.lock().unwrap();
        let mut moved = std::collections::BTreeSet::new();
        for pair in maps.windows(2) {
            let (old, new) = (&pair[0], &pair[1]);
            let moves: Vec<_> = (0..64)
                .map(aether_cluster::ShardId)
                .filter(|s| old.primary(*s) != new.primary(*s))
                .collect();
            // A map the watch skipped moved its shards too.
            let maps_between = (new.epoch - old.epoch) as usize;
            assert!(
                moves.len() <= limit * maps_between,
                "{} moves in {maps_between} maps",
                moves.len()
            );
            for s in moves {
                assert_eq!(
                    new.primary(s),
                    Some(&node_id("b")),
                    "every move goes to the newcomer"
                );
                assert!(moved.insert(s), "shard {} moved twice", s.0);
            }
        }
        assert_eq!(moved.len(), required, "only the shards the strategy moves");
    }

    // A leave is never held back: the first map that takes b's shards takes
    // them all.
    let on_b = last.assignment.primary_shards_of(&node_id("b")).len();
    assert!(on_b > limit);
    b.shutdown().await.unwrap();
    let after = a
        .watch_shard_map()
        .wait_for(|m| m.assignment.primary_shards_of(&node_id("b")).len() < on_b)
        .await
        .unwrap();
    assert!(after.assignment.primary_shards_of(&node_id("b")).is_empty());
    recorder.abort();
    a.shutdown().await.unwrap();
}
