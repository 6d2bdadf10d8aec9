//! The store conformance suite from `aether_testkit::conformance`, on an R1
//! stream (one test per case, each with its own server) and on a 3-node R3
//! stream (the whole suite on one cluster); and the same on a namespace of 4
//! partitions (layout v2: four streams).

mod support;

use aether_store_jetstream::{JetStreamEventStore, JetStreamSnapshotStore};
use aether_testkit::{NatsCluster, NatsServer};

mod r1_events {
    use super::*;
    aether_testkit::event_store_conformance!(guarded: async {
        let server = NatsServer::start().await;
        let store = support::store(&server.url(), 1).await;
        (store, server)
    });
}

mod r1_snapshots {
    use super::*;
    aether_testkit::snapshot_store_conformance!(guarded: async {
        let server = NatsServer::start().await;
        let store = JetStreamSnapshotStore::connect(&server.url(), support::config(1))
            .await
            .expect("open snapshot store");
        (store, server)
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_whole_suite_on_a_three_node_cluster() {
    let cluster = NatsCluster::start().await;
    let url = cluster.client_url().joined();
    let config = support::config(3);
    let events = JetStreamEventStore::connect(&url, config.clone())
        .await
        .expect("open R3 store");
    aether_testkit::conformance::run_event_store_suite(&events).await;
    let snapshots = events
        .open_snapshot_store()
        .await
        .expect("open R3 snapshots");
    aether_testkit::conformance::run_snapshot_store_suite(&snapshots).await;
    // And the same store from another node's connection agrees.
    let other = JetStreamEventStore::connect(&cluster.url(2), config)
        .await
        .unwrap();
    aether_testkit::conformance::run_event_store_suite(&other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r1_whole_log_suite() {
    let server = NatsServer::start().await;
    let store = support::store(&server.url(), 1).await;
    aether_testkit::conformance::run_log_suite(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_whole_log_suite() {
    let cluster = NatsCluster::start().await;
    let store = JetStreamEventStore::connect(&cluster.client_url().joined(), support::config(3))
        .await
        .expect("open R3 store");
    aether_testkit::conformance::run_log_suite(&store).await;
}

mod r1_k4_events {
    use super::*;
    aether_testkit::event_store_conformance!(guarded: async {
        let server = NatsServer::start().await;
        let store = support::store_k(&server.url(), 1, 4).await;
        assert_eq!(store.partitions(), 4);
        (store, server)
    });
}

mod r1_k4_snapshots {
    use super::*;
    aether_testkit::snapshot_store_conformance!(guarded: async {
        let server = NatsServer::start().await;
        let events = support::store_k(&server.url(), 1, 4).await;
        let store = events.open_snapshot_store().await.expect("open snapshot store");
        (store, (events, server))
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_k4_whole_suite_on_a_three_node_cluster() {
    let cluster = NatsCluster::start().await;
    let config = support::config_k(3, 4);
    let events = JetStreamEventStore::connect(&cluster.client_url().joined(), config.clone())
        .await
        .expect("open R3 store");
    assert_eq!(events.partitions(), 4);
    aether_testkit::conformance::run_event_store_suite(&events).await;
    let snapshots = events
        .open_snapshot_store()
        .await
        .expect("open R3 snapshots");
    aether_testkit::conformance::run_snapshot_store_suite(&snapshots).await;
    // The same namespace from another node's connection agrees.
    let other = JetStreamEventStore::connect(&cluster.url(2), config)
        .await
        .unwrap();
    assert_eq!(other.partitions(), 4);
    aether_testkit::conformance::run_event_store_suite(&other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r1_k4_whole_log_suite() {
    let server = NatsServer::start().await;
    let store = support::store_k(&server.url(), 1, 4).await;
    aether_testkit::conformance::run_log_suite(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_k4_whole_log_suite() {
    let cluster = NatsCluster::start().await;
    let store = support::store_k(&cluster.client_url().joined(), 3, 4).await;
    aether_testkit::conformance::run_log_suite(&store).await;
}
