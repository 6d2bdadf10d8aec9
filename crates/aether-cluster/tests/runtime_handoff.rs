//! Warm handoff, in one process (cluster nodes with their own NATS
//! connections, one real nats-server, the JetStream store): a node that
//! joins a running cluster under load takes the active actors of the shards
//! the map gives it warm — their states, versions and recent command ids
//! shipped by the nodes releasing them — so it serves them without reading
//! the log; callers see no error and the history checks clean.

mod cluster_support;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aether_cluster::ClusterNode;
use aether_cluster::runtime::{ActorSystem, RoutingConfig};
use aether_cluster::shard_for_actor;
use aether_core::{ActorId, Event, EventStore, ExpectedVersion, Replay};
use aether_testkit::FaultyStore;
use aether_testkit::NatsServer;
use aether_testkit::fixtures::{Counter, Value};
use cluster_support::*;
use support::*;

fn node(s: &ActorSystem) -> &ClusterNode {
    s.cluster_node().unwrap()
}

/// A store that counts the loads of whole histories (reads from version 1:
/// an activation without snapshots), apart from other reads (a retried
/// command's outcome read back by version range).
#[derive(Clone)]
struct CountingLoads<S> {
    inner: S,
    loads: Arc<AtomicU64>,
}

impl<S: EventStore> EventStore for CountingLoads<S> {
    async fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> aether_core::Result<u64> {
        self.inner.append_batch(actor_id, expected, events).await
    }

    async fn read_with_errors(
        &self,
        actor_id: &ActorId,
        from_version: u64,
    ) -> aether_core::Result<Replay> {
        if from_version <= 1 {
            self.loads.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.read_with_errors(actor_id, from_version).await
    }

    async fn latest_version(&self, actor_id: &ActorId) -> aether_core::Result<u64> {
        self.inner.latest_version(actor_id).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joining_node_takes_its_shards_active_actors_warm() {
    init_tracing();
    let server = NatsServer::start().await;
    let url = server.url();
    let cluster = unique_cluster("rtw");
    let config = fast_config(&cluster);
    let a = member(&url, &config, "a", "RTW").await;
    let b = member(&url, &config, "b", "RTW").await;
    let c = member(&url, &config, "c", "RTW").await;
    converged(
        &[node(&a), node(&b), node(&c)],
        &["a", "b", "c"],
        Duration::from_secs(15),
    )
    .await;
    all_served(&[&a, &b, &c], 1024, Duration::from_secs(15)).await;

    // Every actor active (and written) before the join.
    let actors = counters(120, "w");
    for id in &actors {
        a.get::<Counter>(id.clone()).unwrap().ask(1).await.unwrap();
    }
    let load = Load::start(&[&a, &b, &c], &actors, 2, Duration::from_secs(10));
    load.flows(100).await;

    // The joining node's store counts its reads of the log.
    let loads = Arc::new(AtomicU64::new(0));
    let events = CountingLoads {
        inner: store(&url, "RTW").await,
        loads: loads.clone(),
    };
    let t = Instant::now();
    let d = member_with(&url, &config, "d", events).await;
    all_served(&[&a, &b, &c, &d], 1024, Duration::from_secs(20)).await;
    let moved_in = t.elapsed();
    load.flows(200).await;

    let shards = d.served_shards();
    let on_d: Vec<&ActorId> = actors
        .iter()
        .filter(|id| shards.contains(&shard_for_actor(id, 1024)))
        .collect();
    assert!(!on_d.is_empty(), "the join moved some of the actors");
    assert_eq!(
        loads.load(Ordering::SeqCst),
        0,
        "d loaded no history: the {} actors it took came warm",
        on_d.len()
    );
    // Their states came with them: a query on d answers from memory.
    for id in &on_d {
        let v = d
            .get::<Counter>((*id).clone())
            .unwrap()
            .query(Value)
            .await
            .unwrap();
        assert!(v >= 1, "{id}: {v}");
    }
    assert_eq!(loads.load(Ordering::SeqCst), 0);

    let errors = load.errors.clone();
    let report = load.finish(&store(&url, "RTW").await, &actors).await;
    eprintln!(
        "{} actors moved to d warm; d served all its shards {moved_in:?} after it started; {report}",
        on_d.len()
    );
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        errors.load(std::sync::atomic::Ordering::Relaxed),
        0,
        "callers saw no error"
    );
    for s in [&a, &b, &c, &d] {
        s.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_warm_handoff_the_joining_node_loads_from_the_log() {
    init_tracing();
    let server = NatsServer::start().await;
    let url = server.url();
    let cluster = unique_cluster("rtc");
    let config = fast_config(&cluster);
    let cold = RoutingConfig {
        warm_handoff: false,
        ..RoutingConfig::default()
    };
    let a = member_routing(&url, &config, "a", store(&url, "RTC").await, cold.clone()).await;
    let actors = counters(40, "c");
    all_served(&[&a], 1024, Duration::from_secs(15)).await;
    for id in &actors {
        a.get::<Counter>(id.clone()).unwrap().ask(1).await.unwrap();
    }
    let events = FaultyStore::new(store(&url, "RTC").await);
    let b = member_routing(&url, &config, "b", events.clone(), cold).await;
    converged(&[node(&a), node(&b)], &["a", "b"], Duration::from_secs(15)).await;
    aether_testkit::eventually("b serves shards", Duration::from_secs(20), async || {
        !b.served_shards().is_empty()
    })
    .await;
    all_served(&[&a, &b], 1024, Duration::from_secs(20)).await;
    let shards = b.served_shards();
    let on_b: Vec<&ActorId> = actors
        .iter()
        .filter(|id| shards.contains(&shard_for_actor(id, 1024)))
        .collect();
    assert!(!on_b.is_empty());
    for id in &on_b {
        assert_eq!(
            b.get::<Counter>((*id).clone())
                .unwrap()
                .query(Value)
                .await
                .unwrap(),
            1
        );
    }
    assert!(
        events.reads() >= on_b.len() as u64,
        "{} reads",
        events.reads()
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_hands_every_shard_on_warm() {
    init_tracing();
    let server = NatsServer::start().await;
    let url = server.url();
    let cluster = unique_cluster("rts");
    let config = fast_config(&cluster);
    let loads = Arc::new(AtomicU64::new(0));
    let counted = async |id: &str| {
        let events = CountingLoads {
            inner: store(&url, "RTS").await,
            loads: loads.clone(),
        };
        member_with(&url, &config, id, events).await
    };
    let a = member(&url, &config, "a", "RTS").await;
    let b = counted("b").await;
    let c = counted("c").await;
    converged(
        &[node(&a), node(&b), node(&c)],
        &["a", "b", "c"],
        Duration::from_secs(15),
    )
    .await;
    all_served(&[&a, &b, &c], 1024, Duration::from_secs(15)).await;
    let actors = counters(90, "s");
    for id in &actors {
        b.get::<Counter>(id.clone()).unwrap().ask(1).await.unwrap();
    }
    let before = loads.load(Ordering::SeqCst);
    let on_a = actors
        .iter()
        .filter(|id| a.served_shards().contains(&shard_for_actor(id, 1024)))
        .count();
    assert!(on_a > 0);
    let load = Load::start(&[&b, &c], &actors, 2, Duration::from_secs(10));
    load.flows(100).await;

    let t = Instant::now();
    a.shutdown().await.unwrap();
    let took = t.elapsed();
    all_served(&[&b, &c], 1024, Duration::from_secs(10)).await;
    load.flows(100).await;
    assert_eq!(
        loads.load(Ordering::SeqCst),
        before,
        "b and c loaded no history: a's {on_a} actors came warm"
    );
    let errors = load.errors.clone();
    let report = load.finish(&store(&url, "RTS").await, &actors).await;
    eprintln!("shutdown handed {on_a} actors on warm in {took:?}; {report}");
    assert!(report.is_clean(), "{report}");
    assert_eq!(errors.load(Ordering::Relaxed), 0, "callers saw no error");
    b.shutdown().await.unwrap();
    c.shutdown().await.unwrap();
}
