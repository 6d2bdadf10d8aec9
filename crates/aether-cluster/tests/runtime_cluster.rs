//! The runtime across nodes, in one process (three cluster nodes, each with
//! its own NATS connection, one real nats-server, the JetStream store):
//! calls from any node reach the shard's owner; events name their writer
//! and claim; a system that serves nothing calls in; queries route too.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use aether_cluster::ClusterNode;
use aether_cluster::runtime::{ActorConfig, ActorSystem, RemoteConfig};
use aether_core::{ActorId, EventStore};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use aether_testkit::fixtures::{Counter, Value};
use support::*;

async fn store(url: &str, stream: &str) -> JetStreamEventStore {
    let config = JetStreamConfig {
        stream_name: stream.to_owned(),
        ..JetStreamConfig::default()
    };
    JetStreamEventStore::connect(url, config).await.unwrap()
}

async fn member(url: &str, cluster: &str, id: &str, stream: &str) -> ActorSystem {
    let node = start_node(url, &fast_config(cluster), id).await;
    ActorSystem::builder()
        .events(store(url, stream).await)
        .cluster(node)
        .register_routed::<Counter>(ActorConfig::default())
        .start()
        .await
        .unwrap()
}

/// Waits until every shard is served by exactly one of `systems`.
async fn all_served(systems: &[&ActorSystem], shards: u32, limit: Duration) {
    wait_for("every shard served once", limit, || {
        let mut count = vec![0u32; shards as usize];
        for s in systems {
            for shard in s.served_shards() {
                count[shard.0 as usize] += 1;
            }
        }
        count.iter().all(|&c| c == 1).then_some(())
    })
    .await;
}

fn node(s: &ActorSystem) -> &ClusterNode {
    s.cluster_node().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_every_node_reach_the_owner_and_events_name_their_writer() {
    init_tracing();
    let server = NatsServer::start().await;
    let url = server.url();
    let cluster = unique_cluster("rtc");
    let a = member(&url, &cluster, "a", "RTC1").await;
    let b = member(&url, &cluster, "b", "RTC1").await;
    let c = member(&url, &cluster, "c", "RTC1").await;
    let systems = [&a, &b, &c];
    converged(
        &[node(&a), node(&b), node(&c)],
        &["a", "b", "c"],
        Duration::from_secs(15),
    )
    .await;
    all_served(&systems, 1024, Duration::from_secs(15)).await;

    let ids: Vec<ActorId> = (0..30)
        .map(|i| ActorId::new(format!("counter-{i}")).unwrap())
        .collect();
    let mut writers: HashMap<String, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        for (k, caller) in systems.iter().enumerate() {
            let r = caller.get::<Counter>(id.clone()).unwrap();
            let done = r.ask(1 + k as u64).await.unwrap();
            let meta = &done.events[0].metadata;
            let writer = meta.writer_node().unwrap().to_owned();
            let owner = node(caller).place(id).unwrap();
            assert_eq!(
                writer,
                owner.as_str(),
                "actor {i}: written by its shard's owner"
            );
            let claim = meta.writer_claim().unwrap();
            let shard = node(caller).shard_for(id);
            assert!(claim.starts_with(&format!("{}/", shard.0)), "{claim}");
            *writers.entry(writer).or_default() += 1;
        }
        // A query from another node sees all three.
        let value = systems[i % 3]
            .get::<Counter>(id.clone())
            .unwrap()
            .query(Value)
            .await
            .unwrap();
        assert_eq!(value, 1 + 2 + 3);
    }
    assert_eq!(
        writers.len(),
        3,
        "30 actors spread over the nodes: {writers:?}"
    );

    // A system that runs nothing calls in.
    let caller = ActorSystem::builder()
        .remote(
            async_nats::connect(&url).await.unwrap(),
            RemoteConfig {
                cluster_name: cluster.clone(),
                ..RemoteConfig::default()
            },
        )
        .register_routed::<Counter>(ActorConfig::default())
        .start()
        .await
        .unwrap();
    let r = caller.get::<Counter>(ids[0].clone()).unwrap();
    assert_eq!(r.ask(10).await.unwrap().version, 4);
    assert_eq!(r.query(Value).await.unwrap(), 16);
    // A rejection crosses the wire typed.
    assert!(r.ask(0).await.unwrap_err().is_rejected());

    // The log agrees: 4 events, each with a writer stamp.
    let log = store(&url, "RTC1").await.read(&ids[0], 1).await.unwrap();
    assert_eq!(log.len(), 4);
    assert!(log.iter().all(|e| e.metadata.writer_claim().is_some()));

    for s in systems {
        s.shutdown().await.unwrap();
    }
}
