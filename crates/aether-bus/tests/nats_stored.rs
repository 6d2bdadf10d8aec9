//! `EventStored` notifications across nodes, and JetStream version caches
//! kept in sync by them.

mod support;

use std::sync::Arc;
use std::time::Duration;

use aether_core::{ActorId, Event, EventStored, json};
use aether_testkit::{NatsServer, eventually};
use support::*;

#[tokio::test]
async fn event_stored_notifications_travel_between_nodes() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let mut on_b = b.subscribe_event_stored("order-*").await.unwrap();
    let mut on_a = a.subscribe_event_stored(">").await.unwrap();
    let hook: Arc<dyn aether_core::EventStoredHook> = Arc::new(a.clone());
    let stored = EventStored::from(&event("order-1", "Placed", 41));
    hook.event_stored(stored.clone());
    hook.event_stored(EventStored::from(&event("invoice-1", "Sent", 0)));
    let got = tokio::time::timeout(Duration::from_secs(5), on_b.recv())
        .await
        .unwrap()
        .unwrap()
        .into_event()
        .unwrap();
    assert_eq!(*got, stored);
    assert_eq!(got.version, 42);
    // The origin node gets its own notifications once.
    assert!(on_a.recv().await.unwrap().into_event().is_some());
    assert!(on_a.recv().await.unwrap().into_event().is_some());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(on_a.try_recv().is_none(), "no echo");
    assert!(on_b.try_recv().is_none(), "filtered by actor pattern");
    a.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_stored_keeps_jetstream_version_caches_in_sync() {
    use aether_core::EventStore;
    use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};

    let server = NatsServer::start().await;
    let bus_a = bus(&server.url()).await;
    let bus_b = bus(&server.url()).await;
    let config = JetStreamConfig {
        stream_name: "BUSSYNC".into(),
        namespace: "t1".into(),
        ..JetStreamConfig::default()
    };
    let store_a = JetStreamEventStore::connect(&server.url(), config.clone())
        .await
        .unwrap()
        .with_hook(bus_a.clone());
    let store_b = JetStreamEventStore::connect(&server.url(), config)
        .await
        .unwrap();
    let sync = {
        let store_b = store_b.clone();
        bus_b
            .sync_version_cache(">", move |actor, version| {
                store_b.update_version_cache(actor, version)
            })
            .await
            .unwrap()
    };
    let actor = ActorId::new("account-1").unwrap();
    for v in 1..=5u64 {
        let e = Event::new(actor.clone(), v, "Deposited", json!({"n": v}));
        store_a.append(e).await.unwrap();
    }
    eventually("B to cache version 5", WAIT, async || {
        store_b.cached_version(&actor) == Some(5)
    })
    .await;
    // A stale notification never lowers the cache.
    bus_a.notify_event_stored(EventStored::from(&Event::new(
        actor.clone(),
        2,
        "Deposited",
        json!({}),
    )));
    let other = ActorId::new("account-2").unwrap();
    store_a
        .append(Event::new(other.clone(), 1, "Opened", json!({})))
        .await
        .unwrap();
    eventually("B to cache the other actor", WAIT, async || {
        store_b.cached_version(&other) == Some(1)
    })
    .await;
    assert_eq!(store_b.cached_version(&actor), Some(5), "only ever raised");
    // B can append at once with the synced version: its cache is right.
    store_b
        .append(Event::new(actor.clone(), 6, "Deposited", json!({})))
        .await
        .unwrap();
    assert!(sync.is_running());
}
