//! Handoff rate limits, in one process (cluster nodes with their own NATS
//! connections, one real nats-server, the JetStream store): a node allowed
//! one handoff at a time (`RoutingConfig::max_concurrent_handoffs = 1`)
//! hands its shards on one after another — the process's gauge
//! `aether_runtime_handoffs_in_flight` never passes 1 while the others wait
//! (`aether_runtime_handoffs_queued`) — on a join and on a graceful
//! shutdown; every shard ends served by exactly one member, the actors move
//! warm, and the callers' history checks clean (no acknowledged command
//! lost, none applied twice).

mod cluster_support;
mod support;

use std::time::Duration;

use aether_cluster::runtime::{ActorConfig, ActorSystem, RemoteConfig, RoutingConfig};
use aether_testkit::fixtures::Counter;
use aether_testkit::metrics::TestRecorder;
use aether_testkit::{FaultyStore, NatsServer};
use cluster_support::*;
use support::*;

/// The recorder of this test binary (the only test in it sets it).
fn recorder() -> &'static TestRecorder {
    static RECORDER: std::sync::OnceLock<&'static TestRecorder> = std::sync::OnceLock::new();
    RECORDER.get_or_init(|| {
        let r: &'static TestRecorder = Box::leak(Box::default());
        metrics::set_global_recorder(r).expect("the only recorder of this test binary");
        r
    })
}

const IN_FLIGHT: &str = "aether_runtime_handoffs_in_flight{}";
const QUEUED: &str = "aether_runtime_handoffs_queued{}";
const PLANNED: &str = "aether_runtime_shard_releases_total{how=planned}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_handoff_at_a_time_on_a_join_and_a_shutdown_and_nothing_is_lost() {
    init_tracing();
    let metrics = recorder();
    let server = NatsServer::start().await;
    let url = server.url();
    let cluster = unique_cluster("rtl");
    let shards = 16;
    let mut config = fast_config(&cluster);
    config.shards.shard_count = shards;
    // One map moves every shard the join moves: they queue at the node.
    config.rebalance_max_moves = shards as usize;
    let one = RoutingConfig {
        max_concurrent_handoffs: 1,
        ..RoutingConfig::default()
    };
    let a = member_routing(&url, &config, "a", store(&url, "RTL").await, one.clone()).await;
    all_served(&[&a], shards, Duration::from_secs(15)).await;

    // Callers outside the cluster; every actor active on a before the join.
    let caller = ActorSystem::remote(
        async_nats::connect(url.as_str()).await.unwrap(),
        RemoteConfig {
            cluster_name: cluster.clone(),
            shard_count: shards,
        },
    )
    .register::<Counter>(ActorConfig::default())
    .start()
    .await
    .unwrap();
    let actors = counters(64, "l");
    for id in &actors {
        caller
            .get::<Counter>(id.clone())
            .unwrap()
            .ask(1)
            .await
            .unwrap();
    }
    let load = Load::start(&[&caller], &actors, 4, Duration::from_secs(20));
    load.flows(50).await;

    // b joins: the map moves about half the shards from a at once.
    let events = FaultyStore::new(store(&url, "RTL").await);
    let b = member_routing(&url, &config, "b", events.clone(), one).await;
    aether_testkit::eventually("b serves shards", Duration::from_secs(20), async || {
        !b.served_shards().is_empty()
    })
    .await;
    all_served(&[&a, &b], shards, Duration::from_secs(20)).await;
    let joined = metrics.counter(PLANNED);
    assert!(joined >= 2, "the join moved {joined} shards");
    load.flows(50).await;

    // a leaves: the map moves the rest at once; a hands them on one by one.
    a.shutdown().await.unwrap();
    all_served(&[&b], shards, Duration::from_secs(20)).await;
    load.flows(50).await;

    let (in_flight_now, in_flight_peak) = metrics.gauge(IN_FLIGHT);
    let (queued_now, queued_peak) = metrics.gauge(QUEUED);
    let planned = metrics.counter(PLANNED);
    eprintln!(
        "{planned} planned releases (join {joined}); in flight at most {in_flight_peak}, \
         queued at most {queued_peak}; b loaded {} histories",
        events.history_loads()
    );
    assert_eq!(in_flight_peak, 1.0, "one handoff at a time, and some");
    assert!(queued_peak >= 1.0, "shards waited for their turn");
    assert_eq!((in_flight_now, queued_now), (0.0, 0.0), "nothing left over");
    assert_eq!(
        planned,
        u64::from(shards),
        "a handed on every shard, planned"
    );
    assert_eq!(
        events.history_loads(),
        0,
        "b loaded no history: every actor came warm, queued or not"
    );

    let report = load.finish(&store(&url, "RTL").await, &actors).await;
    eprintln!("{report}");
    assert!(report.is_clean(), "{report}");
    b.shutdown().await.unwrap();
    caller.shutdown().await.unwrap();
}
