//! Cluster members over one real nats-server for the deployment tests:
//! member systems with no compiled actor type (every type comes from the
//! model registry), a remote caller, waiting for every shard to be served.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aether_cluster::runtime::{ActorConfig, ActorSystem, RemoteConfig};
use aether_cluster::{ClusterConfig, ClusterNode, NodeInfo};
use aether_core::NodeId;
use aether_model::deploy::{ModelRegistry, ModelWatcher, RegistryConfig};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::eventually;

pub const SHARDS: u32 = 1024;

/// Short leases so the tests are quick (member lease 2 s).
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

pub async fn store(url: &str, stream: &str) -> JetStreamEventStore {
    JetStreamEventStore::connect(
        url,
        JetStreamConfig {
            stream_name: stream.to_owned(),
            ..JetStreamConfig::default()
        },
    )
    .await
    .unwrap()
}

/// A member system on node `id` (no compiled type) and its model watcher.
pub async fn member(
    url: &str,
    config: &ClusterConfig,
    id: &str,
    stream: &str,
) -> (ActorSystem, ModelWatcher) {
    let client = aether_nats::connect(url, &Default::default(), "test-node")
        .await
        .unwrap();
    let node = ClusterNode::start(
        client.clone(),
        ClusterConfig {
            node: NodeInfo::new(NodeId::new(id).unwrap()),
            ..config.clone()
        },
    )
    .await
    .unwrap();
    let system = ActorSystem::cluster(node)
        .events(store(url, stream).await)
        .start()
        .await
        .unwrap();
    let watcher = watch(client, &system).await;
    (system, watcher)
}

/// A system that runs no actor and calls the cluster, with its watcher.
pub async fn remote(url: &str, cluster: &str) -> (ActorSystem, ModelWatcher) {
    let client = async_nats::connect(url).await.unwrap();
    let system = ActorSystem::remote(
        client.clone(),
        RemoteConfig {
            cluster_name: cluster.to_owned(),
            ..RemoteConfig::default()
        },
    )
    .start()
    .await
    .unwrap();
    let watcher = watch(client, &system).await;
    (system, watcher)
}

async fn watch(client: async_nats::Client, system: &ActorSystem) -> ModelWatcher {
    let registry = ModelRegistry::open(client, RegistryConfig::default())
        .await
        .unwrap();
    ModelWatcher::start(registry, system.clone(), ActorConfig::default())
        .await
        .unwrap()
}

/// Waits until every shard is served by exactly one of `systems`.
pub async fn all_served(systems: &[&ActorSystem]) {
    eventually(
        "every shard served by exactly one system",
        Duration::from_secs(20),
        async || {
            let mut count = vec![0u32; SHARDS as usize];
            for s in systems {
                for shard in s.served_shards() {
                    count[shard.0 as usize] += 1;
                }
            }
            if count.iter().all(|&c| c == 1) {
                Ok(())
            } else {
                Err(format!(
                    "{} unserved, {} twice",
                    count.iter().filter(|&&c| c == 0).count(),
                    count.iter().filter(|&&c| c > 1).count()
                ))
            }
        },
    )
    .await
}

/// Waits until every watcher runs `name` at `version`.
pub async fn all_run(watchers: &[&ModelWatcher], name: &str, version: u32) {
    eventually(
        format!("every node runs {name}@{version}"),
        Duration::from_secs(20),
        async || {
            let running: Vec<Option<u32>> = watchers.iter().map(|w| w.version_of(name)).collect();
            if running.iter().all(|v| *v == Some(version)) {
                Ok(())
            } else {
                Err(format!("running {running:?}"))
            }
        },
    )
    .await
}
