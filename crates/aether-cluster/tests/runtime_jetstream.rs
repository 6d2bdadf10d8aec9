//! The runtime on the JetStream store (a real nats-server): turns with group
//! commit (one message per turn), a conflict from a writer on another
//! connection, deduplication across a restart, snapshots in the JetStream
//! snapshot store.

mod runtime_support;

use std::time::Duration;

use aether_cluster::runtime::{ActorConfig, ActorSystem, Passivation, RuntimeConfig};
use aether_core::{CommandId, Event, EventStore, ExpectedVersion, SnapshotStore, json};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore, JetStreamSnapshotStore};
use aether_testkit::NatsServer;
use aether_testkit::fixtures::{Counter, Value};
use runtime_support::*;

async fn stores(url: &str, stream: &str) -> (JetStreamEventStore, JetStreamSnapshotStore) {
    let config = JetStreamConfig {
        stream_name: stream.to_owned(),
        namespace: "rt".into(),
        ..JetStreamConfig::default()
    };
    let events = JetStreamEventStore::connect(url, config).await.unwrap();
    let snaps = events.open_snapshot_store().await.unwrap();
    (events, snaps)
}

async fn start(events: &JetStreamEventStore, snaps: &JetStreamSnapshotStore) -> ActorSystem {
    ActorSystem::builder()
        .events(events.clone())
        .snapshots(snaps.clone())
        .register::<Counter>(ActorConfig {
            passivation: Passivation {
                idle: Duration::from_secs(60),
                snapshot_after: 10,
            },
            ..ActorConfig::default()
        })
        .config(RuntimeConfig::default())
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_asks_commit_in_shared_turns_exactly_once() {
    let server = NatsServer::start().await;
    let (events, snaps) = stores(&server.url(), "RTA").await;
    let sys = start(&events, &snaps).await;
    let id = fresh::<Counter>();
    let c = actor::<Counter>(&sys, &id);
    let asks: Vec<_> = (1..=300u64)
        .map(|by| {
            let c = c.clone();
            tokio::spawn(async move { c.ask(by).await.unwrap() })
        })
        .collect();
    let mut versions = Vec::new();
    for a in asks {
        versions.push(a.await.unwrap().version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=300).collect::<Vec<_>>());
    let stored = events.read(&id, 1).await.unwrap();
    assert_eq!(stored.len(), 300);
    assert_eq!(c.query(Value).await.unwrap(), 45_150);
    sys.shutdown().await.unwrap();
    assert_eq!(
        snaps.latest_snapshot(&id).await.unwrap().map(|s| s.version),
        Some(300),
        "snapshot on shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_on_another_connection_makes_the_actor_catch_up() {
    let server = NatsServer::start().await;
    let (events, snaps) = stores(&server.url(), "RTB").await;
    let (outside, _) = stores(&server.url(), "RTB").await;
    let sys = start(&events, &snaps).await;
    let id = fresh::<Counter>();
    let c = actor::<Counter>(&sys, &id);
    c.ask(1).await.unwrap();
    outside
        .append_batch(
            &id,
            ExpectedVersion::Exact(1),
            vec![Event::new(id.clone(), 2, "Added", json!({"by": 100}))],
        )
        .await
        .unwrap();
    let done = c.ask(5).await.unwrap();
    assert_eq!(done.version, 3);
    assert_eq!(c.query(Value).await.unwrap(), 106);
    assert_eq!(events.read(&id, 1).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_a_restart_returns_the_recorded_outcome() {
    let server = NatsServer::start().await;
    let (events, snaps) = stores(&server.url(), "RTC").await;
    let id = fresh::<Counter>();
    let command = CommandId::new("once-only").unwrap();
    let first = {
        let sys = start(&events, &snaps).await;
        let c = actor::<Counter>(&sys, &id);
        for _ in 0..12 {
            c.ask(1).await.unwrap();
        }
        let first = c.ask(7).command_id(command.clone()).await.unwrap();
        sys.shutdown().await.unwrap();
        first
    };
    // A new process: new connection, new system.
    let (events2, snaps2) = stores(&server.url(), "RTC").await;
    let sys = start(&events2, &snaps2).await;
    let c = actor::<Counter>(&sys, &id);
    let again = c.ask(7).command_id(command).await.unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.events, first.events);
    assert_eq!(c.query(Value).await.unwrap(), 19);
    assert_eq!(events2.read(&id, 1).await.unwrap().len(), 13);
}
