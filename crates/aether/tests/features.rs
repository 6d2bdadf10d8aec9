//! The facade's re-exports resolve and work: the default feature (`memory`)
//! always; `jetstream`, `bus` and `cluster` under `--features full` (in a
//! workspace run they are on, because `aether-examples` enables `aether/full`).

use aether::prelude::*;

/// The README's example, through the facade only.
#[cfg(feature = "memory")]
#[tokio::test]
async fn readme_example_runs_on_the_memory_store() -> Result<(), Error> {
    use aether::memory::InMemoryEventStore;

    let store = InMemoryEventStore::new();
    let actor = ActorId::new("account-1")?;
    store
        .append(Event::new(
            actor.clone(),
            1,
            "Opened",
            json!({"owner": "ada"}),
        ))
        .await?;
    store
        .append(Event::new(
            actor.clone(),
            2,
            "Deposited",
            json!({"amount": 100}),
        ))
        .await?;
    assert_eq!(store.latest_version(&actor).await?, 2);
    Ok(())
}

/// The root re-exports are the core crate's items, not copies.
#[test]
fn root_reexports_are_the_core_items() {
    fn same<T>(_: fn(T) -> T, _: fn(T) -> T) {}
    same::<aether::ActorId>(|x| x, |x: aether::core::ActorId| x);
    same::<aether::Event>(|x| x, |x: aether::core::Event| x);
    same::<aether::Error>(|x| x, |x: aether::core::Error| x);
    same::<aether::ExpectedVersion>(|x| x, |x: aether::core::ExpectedVersion| x);
    same::<aether::aggregate::RetryPolicy>(|x| x, |x: aether::core::aggregate::RetryPolicy| x);
    let e: aether::Error = aether::core::Error::invalid_input("x");
    assert!(e.to_string().contains('x'));
}

#[cfg(feature = "full")]
mod full {
    use std::time::Duration;

    use aether::bus::{BusItem, EventBus, LocalEventBus, NatsBusConfig, NatsEventBus};
    use aether::cluster::{ClusterConfig, ClusterNode, NodeInfo, ShardConfig, ShardManager};
    use aether::jetstream::{JetStreamConfig, JetStreamEventStore};
    use aether::memory::{InMemoryEventStore, InMemorySnapshotStore};
    use aether::prelude::*;
    use aether_testkit::NatsServer;

    /// Every backend implements the facade's traits.
    #[test]
    fn backends_implement_the_facade_traits() {
        fn event_store<S: aether::EventStore>() {}
        fn snapshot_store<S: aether::SnapshotStore>() {}
        fn bus<B: EventBus>() {}
        fn hook<H: aether::EventStoredHook>() {}
        event_store::<InMemoryEventStore>();
        event_store::<JetStreamEventStore>();
        snapshot_store::<InMemorySnapshotStore>();
        snapshot_store::<aether::jetstream::JetStreamSnapshotStore>();
        bus::<LocalEventBus>();
        bus::<NatsEventBus>();
        hook::<LocalEventBus>();
        hook::<NatsEventBus>();
    }

    /// Pure placement through the facade, no server.
    #[test]
    fn cluster_placement_resolves() {
        let shards = ShardManager::new(ShardConfig::default()).unwrap();
        let nodes: Vec<NodeId> = ["a", "b"].iter().map(|n| NodeId::new(n).unwrap()).collect();
        shards.rebalance(&nodes);
        let actor = ActorId::new("order-1").unwrap();
        let shard = aether::cluster::shard_for_actor(&actor, 1024);
        assert_eq!(shard, shards.shard_for(&actor));
        assert!(nodes.contains(&shards.place(&actor).unwrap()));
    }

    /// One server, every networked backend, through the facade only: a
    /// JetStream store whose hook is a NATS bus, a second bus that sees the
    /// notification, and a cluster node that elects itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn networked_backends_work_through_the_facade() {
        let server = NatsServer::start().await;
        let url = server.url();
        let config = NatsBusConfig {
            subject_prefix: "facade".into(),
            ..Default::default()
        };
        let bus_a = NatsEventBus::connect(url.as_str(), config.clone())
            .await
            .unwrap();
        let bus_b = NatsEventBus::connect(url.as_str(), config).await.unwrap();
        let mut stored = bus_b.subscribe_event_stored("account-*").await.unwrap();

        let store = JetStreamEventStore::connect(&url, JetStreamConfig::default())
            .await
            .unwrap()
            .with_hook(bus_a.clone());
        let actor = ActorId::new("account-1").unwrap();
        store
            .append(Event::new(actor.clone(), 1, "Opened", json!({})))
            .await
            .unwrap();
        let item = tokio::time::timeout(Duration::from_secs(5), stored.recv())
            .await
            .expect("notification")
            .unwrap();
        match item {
            BusItem::Event(n) => assert_eq!((n.actor_id.clone(), n.version), (actor, 1)),
            BusItem::Lagged(n) => panic!("lagged {n}"),
        }

        let client = aether::async_nats::connect(url.as_str()).await.unwrap();
        let node = ClusterNode::start(
            client,
            aether::cluster::ClusterConfig {
                node: NodeInfo::new(NodeId::new("solo").unwrap()),
                ..ClusterConfig::default()
            },
        )
        .await
        .unwrap();
        let map = tokio::time::timeout(
            Duration::from_secs(10),
            node.watch_shard_map().wait_for(|m| m.members.len() == 1),
        )
        .await
        .expect("a shard map")
        .unwrap();
        assert_eq!(
            map.primary(node.shard_for(&ActorId::new("x-1").unwrap())),
            Some(node.id())
        );
        node.shutdown().await.unwrap();
        bus_a.shutdown().await.unwrap();
        bus_b.shutdown().await.unwrap();
    }
}
