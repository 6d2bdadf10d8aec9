//! The cross-node bus against real nats-server processes (single server,
//! 3-node cluster, restart).

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aether_bus::{
    BusErrorKind, BusItem, EventBus, EventSubscription, Filter, NatsBusConfig, NatsEventBus,
    OverflowPolicy, SubscribeOptions,
};
use aether_core::{ActorId, Event, EventStored, Metadata, json};
use aether_testkit::{NatsCluster, NatsServer};
use support::{event, next_event, next_item, seq_of};

async fn bus(url: &str) -> NatsEventBus {
    NatsEventBus::connect(url, NatsBusConfig::default())
        .await
        .expect("connect bus")
}

/// Drains everything that arrives within `quiet` of silence; returns the seqs.
async fn drain(sub: &mut EventSubscription, quiet: Duration) -> Vec<u64> {
    let mut got = Vec::new();
    while let Some(item) = next_item(sub, quiet).await {
        match item {
            BusItem::Event(env) => got.push(seq_of(&env.event)),
            BusItem::Lagged(n) => panic!("unexpected lag {n}"),
        }
    }
    got
}

#[tokio::test]
async fn two_buses_on_separate_connections_exchange_events_once() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let mut on_b = b.subscribe("tenant-a.orders").await.unwrap();
    let mut on_a = a.subscribe("tenant-a.orders").await.unwrap();
    for i in 0..1000 {
        assert_eq!(
            a.publish("tenant-a.orders", event("order-1", "Placed", i))
                .await
                .unwrap(),
            1
        );
    }
    a.flush().await.unwrap();
    for i in 0..1000 {
        assert_eq!(next_event(&mut on_b).await, i);
    }
    // A's own subscriber gets each of A's events exactly once.
    let own = drain(&mut on_a, Duration::from_millis(300)).await;
    assert_eq!(own, (0..1000).collect::<Vec<_>>());
    // And B -> A works too.
    b.publish("tenant-a.orders", event("order-2", "Placed", 5000))
        .await
        .unwrap();
    assert_eq!(next_event(&mut on_a).await, 5000);
    assert_eq!(b.stats().remote_lost, 0);
    assert_eq!(a.nats_subscription_count(), 1);
}

#[tokio::test]
async fn events_round_trip_with_every_field_typed_as_sent() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let mut sub = b.subscribe("t").await.unwrap();
    let big = (1u64 << 53) + 1; // not representable as f64
    let original = Event::new(
        ActorId::with_type("invoice", "2024/0001 ünï").unwrap(),
        big,
        "Issued",
        json!({"u": u64::MAX, "i": i64::MIN, "f": 0.1, "nested": [1, "x", null, {"k": true}]}),
    )
    .with_metadata(
        Metadata::new()
            .with_correlation_id("c-1")
            .with_causation_id("e-0")
            .with_user_id("ada")
            .with_trace_id("t")
            .with_span_id("s"),
    );
    a.publish("t", original.clone()).await.unwrap();
    let got = sub.recv().await.unwrap().into_event().unwrap();
    assert_eq!(*got.event, original);
    assert_eq!(got.event.version, big);
    assert_eq!(got.event.data["u"].as_u64(), Some(u64::MAX));
    assert_eq!(got.event.data["i"].as_i64(), Some(i64::MIN));
    assert_eq!(got.event.actor_id.actor_type(), "invoice");
    assert_eq!(&*got.namespace, "t");
}

#[tokio::test]
async fn namespace_isolation_across_nodes() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let mut tenant_b = b.subscribe("tenant-b").await.unwrap();
    let mut tenant_b_all = b.subscribe("tenant-b.>").await.unwrap();
    let mut cross = b
        .subscribe_cross_namespace("*.orders", Filter::new(), SubscribeOptions::default())
        .await
        .unwrap();
    // Publishers cannot use wildcards.
    for bad in ["*", ">", "tenant-b.*", "tenant-b.>", "tenant b"] {
        let err = a.publish(bad, event("x-1", "T", 0)).await.unwrap_err();
        assert_eq!(err.kind(), BusErrorKind::InvalidNamespace, "{bad}");
    }
    // Subscribing across namespaces must be explicit.
    assert!(b.subscribe(">").await.is_err());
    // tenant-a traffic never reaches tenant-b subscribers.
    a.publish("tenant-a", event("x-1", "T", 1)).await.unwrap();
    a.publish("tenant-a.orders", event("x-1", "T", 2))
        .await
        .unwrap();
    a.publish("tenant-ab.orders", event("x-1", "T", 3))
        .await
        .unwrap();
    // A raw client bypassing the bus: wildcard and malformed subjects, bad payloads.
    let raw = server.connect().await;
    for subject in [
        "aether.bus.ev.*",
        "aether.bus.ev.>",
        "aether.bus.ev.tenant-b.*",
        "aether.bus.ev.tenant-b.>",
    ] {
        let payload = event("x-1", "T", 99).to_json_bytes().unwrap();
        raw.publish(subject, payload.into()).await.unwrap();
    }
    raw.publish("aether.bus.ev.tenant-b.x", "not json".into())
        .await
        .unwrap();
    raw.flush().await.unwrap();
    // Then a legitimate tenant-b event.
    a.publish("tenant-b.orders", event("x-1", "T", 4))
        .await
        .unwrap();
    a.flush().await.unwrap();
    assert_eq!(next_event(&mut tenant_b_all).await, 4, "nothing before it");
    assert_eq!(next_event(&mut cross).await, 2);
    assert_eq!(next_event(&mut cross).await, 3);
    assert_eq!(next_event(&mut cross).await, 4);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(tenant_b.try_recv().is_none());
    assert!(tenant_b_all.try_recv().is_none());
    assert!(cross.try_recv().is_none());
    assert!(
        b.stats().decode_errors >= 1,
        "rejected messages are counted"
    );
}

#[tokio::test]
async fn wildcards_and_filters_across_nodes_with_shared_nats_subscriptions() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let mut placed = b
        .subscribe_with(
            "shop.*",
            Filter::new().event_types(["Placed"]),
            SubscribeOptions::default(),
        )
        .await
        .unwrap();
    let mut orders = b
        .subscribe_with(
            "shop.*",
            Filter::new().actor_pattern("order-*").unwrap(),
            SubscribeOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        b.nats_subscription_count(),
        1,
        "one NATS subscription per pattern"
    );
    a.publish("shop.eu", event("order-1", "Placed", 0))
        .await
        .unwrap();
    a.publish("shop.eu", event("order-1", "Paid", 1))
        .await
        .unwrap();
    a.publish("shop.us", event("cart-1", "Placed", 2))
        .await
        .unwrap();
    a.publish("shop.eu.x", event("order-1", "Placed", 3))
        .await
        .unwrap();
    a.publish("shop.us", event("order-9", "Placed", 4))
        .await
        .unwrap();
    a.flush().await.unwrap();
    assert_eq!(next_event(&mut placed).await, 0);
    assert_eq!(next_event(&mut placed).await, 2);
    assert_eq!(next_event(&mut placed).await, 4);
    assert_eq!(next_event(&mut orders).await, 0);
    assert_eq!(next_event(&mut orders).await, 1);
    assert_eq!(next_event(&mut orders).await, 4);
    drop(placed);
    assert_eq!(b.nats_subscription_count(), 1);
    drop(orders);
    assert_eq!(
        b.nats_subscription_count(),
        0,
        "last one unsubscribes from NATS"
    );
    assert_eq!(b.subscription_count(), 0);
}

#[tokio::test]
async fn three_node_cluster_with_buses_on_different_servers() {
    let cluster = NatsCluster::start().await;
    let buses = [
        bus(&cluster.url(0)).await,
        bus(&cluster.url(1)).await,
        bus(&cluster.url(2)).await,
    ];
    let mut subs = Vec::new();
    for b in &buses[1..] {
        subs.push(b.subscribe("tenant-c.events").await.unwrap());
    }
    // Interest propagates between routed servers asynchronously: probe until
    // both remote buses hear from node 0.
    let mut heard = [false, false];
    for probe in 0..200u64 {
        buses[0]
            .publish("tenant-c.events", event("p-1", "Probe", 1_000_000 + probe))
            .await
            .unwrap();
        for (i, sub) in subs.iter_mut().enumerate() {
            while let Some(Ok(BusItem::Event(_))) = sub.try_recv() {
                heard[i] = true;
            }
        }
        if heard == [true, true] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(heard, [true, true], "interest never propagated");
    for i in 0..500 {
        buses[0]
            .publish("tenant-c.events", event("o-1", "T", i))
            .await
            .unwrap();
    }
    buses[0].flush().await.unwrap();
    for sub in &mut subs {
        let mut expected = 0;
        while expected < 500 {
            match tokio::time::timeout(Duration::from_secs(10), sub.recv())
                .await
                .unwrap()
                .unwrap()
            {
                BusItem::Event(env) if env.event.event_type == "Probe" => {}
                BusItem::Event(env) => {
                    assert_eq!(seq_of(&env.event), expected);
                    expected += 1;
                }
                BusItem::Lagged(n) => panic!("lost {n} in a healthy cluster"),
            }
        }
    }
    // Node 2 publishes, node 1 receives.
    buses[2]
        .publish("tenant-c.events", event("o-2", "T", 9999))
        .await
        .unwrap();
    let mut got = None;
    for _ in 0..50 {
        match next_item(&mut subs[0], Duration::from_millis(200)).await {
            Some(BusItem::Event(env)) if env.event.event_type != "Probe" => {
                got = Some(seq_of(&env.event));
                break;
            }
            Some(_) => {}
            None => {
                // Interest for node 2 may still be propagating: publish again.
                buses[2]
                    .publish("tenant-c.events", event("o-2", "T", 9999))
                    .await
                    .unwrap();
            }
        }
    }
    assert_eq!(got, Some(9999));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_resumes_after_a_server_restart() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let mut sub = b.subscribe("restart.ns").await.unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let (a, counter, stop) = (a.clone(), counter.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                // Errors while disconnected are expected; keep going.
                let _ = a.publish("restart.ns", event("r-1", "T", i)).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // Some traffic before the restart.
    let first = next_event(&mut sub).await;
    server.kill();
    server.restart().await;
    let restarted_at = counter.load(Ordering::Relaxed);
    // Delivery resumes: an event published after the restart arrives.
    let mut last = first;
    let mut lagged = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "delivery did not resume"
        );
        match tokio::time::timeout(Duration::from_secs(30), sub.recv()).await {
            Ok(Ok(BusItem::Event(env))) => {
                let seq = seq_of(&env.event);
                assert!(seq > last, "in order: {seq} after {last}");
                last = seq;
                if seq > restarted_at + 10 {
                    break;
                }
            }
            Ok(Ok(BusItem::Lagged(n))) => lagged += n,
            other => panic!("subscription failed: {other:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    publisher.await.unwrap();
    // Whatever was lost during the outage was reported as lag, not silently dropped
    // (messages buffered by the client and resent after reconnect are not lost).
    assert_eq!(lagged, b.stats().remote_lost);
}

#[tokio::test]
async fn lost_messages_are_reported_as_lag() {
    lost_messages_reported(0).await;
}

/// With several events to a NATS message, a lost message is reported as the
/// number of events it carried.
#[tokio::test]
async fn lost_batches_are_reported_as_lag_per_event() {
    lost_messages_reported(1_000).await;
}

async fn lost_messages_reported(max_batch_bytes: usize) {
    // A receiver whose NATS client buffer overflows (slow consumer) loses
    // messages; the per-publisher sequence shows the gap.
    let server = NatsServer::start().await;
    let config = NatsBusConfig {
        max_batch_bytes,
        ..NatsBusConfig::default()
    };
    let a = NatsEventBus::connect(server.url().as_str(), config)
        .await
        .unwrap();
    let client = async_nats::ConnectOptions::new()
        .subscription_capacity(64)
        .connect(server.url())
        .await
        .unwrap();
    let b = NatsEventBus::open(client, NatsBusConfig::default())
        .await
        .unwrap();
    let mut sub = b
        .subscribe_with(
            "lossy",
            Filter::new(),
            SubscribeOptions::new(4, OverflowPolicy::Wait),
        )
        .await
        .unwrap();
    for i in 0..5000 {
        a.publish("lossy", event("l-1", "T", i)).await.unwrap();
    }
    a.flush().await.unwrap();
    let mut received = 0u64;
    let mut lagged = 0u64;
    let mut last = None;
    let mut marker_sent = false;
    loop {
        match next_item(&mut sub, Duration::from_millis(300)).await {
            Some(BusItem::Event(env)) => {
                let seq = seq_of(&env.event);
                let expected_next = last.map_or(0, |l| l + 1);
                assert!(seq >= expected_next, "in order");
                last = Some(seq);
                received += 1;
                if seq == 5000 {
                    break;
                }
            }
            Some(BusItem::Lagged(n)) => lagged += n,
            None => {
                // The burst is over (its tail may be lost undetectably); one
                // more event from the same publisher reveals every gap.
                assert!(!marker_sent, "the marker event never arrived");
                a.publish("lossy", event("l-1", "T", 5000)).await.unwrap();
                a.flush().await.unwrap();
                marker_sent = true;
            }
        }
    }
    assert!(lagged > 0, "the slow consumer lost messages");
    assert_eq!(
        received + lagged,
        5001,
        "every event is received or reported"
    );
    assert_eq!(b.stats().remote_lost, lagged);
}

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
    wait_for(|| store_b.cached_version(&actor) == Some(5)).await;
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
    wait_for(|| store_b.cached_version(&other) == Some(1)).await;
    assert_eq!(store_b.cached_version(&actor), Some(5), "only ever raised");
    // B can append at once with the synced version: its cache is right.
    store_b
        .append(Event::new(actor.clone(), 6, "Deposited", json!({})))
        .await
        .unwrap();
    assert!(sync.is_running());
}

async fn wait_for(mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 5 s");
}

#[tokio::test]
async fn bad_configuration_is_refused() {
    let server = NatsServer::start().await;
    for prefix in ["", "a.*", "a b", "$SYS"] {
        let cfg = NatsBusConfig {
            subject_prefix: prefix.into(),
            ..NatsBusConfig::default()
        };
        let err = NatsEventBus::connect(server.url().as_str(), cfg)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), BusErrorKind::InvalidOptions, "{prefix:?}");
    }
    // Node ids are checked where they are made.
    assert!(aether_core::NodeId::new("has space").is_err());
    let cfg = NatsBusConfig {
        outbox_capacity: 0,
        ..NatsBusConfig::default()
    };
    let err = NatsEventBus::connect(server.url().as_str(), cfg)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), BusErrorKind::InvalidOptions);
    // A too-large event is a clear error naming the limit.
    let a = bus(&server.url()).await;
    let huge = Event::new(
        ActorId::new("big-1").unwrap(),
        1,
        "Huge",
        json!({"blob": "x".repeat(2 * 1024 * 1024)}),
    );
    let err = a.publish("ns", huge).await.unwrap_err();
    assert_eq!(err.kind(), BusErrorKind::TooLarge);
    let _unused: BTreeMap<u8, u8> = BTreeMap::new();
}

#[tokio::test]
async fn works_through_the_shared_trait() {
    async fn roundtrip<B: EventBus>(publisher: &B, subscriber: &B) {
        let mut sub = subscriber.subscribe("trait.ns").await.unwrap();
        publisher
            .publish("trait.ns", event("a-1", "T", 5))
            .await
            .unwrap();
        assert_eq!(next_event(&mut sub).await, 5);
    }
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    roundtrip(&a, &b).await;
}

/// Regression: a node numbered its publications before handing them to the
/// client, so two tasks publishing to one namespace at once could put them
/// on the wire out of order; receivers then counted the overtaken message as
/// lost (a false `Lagged`) although it arrived a moment later. Likewise a
/// publication the client refused (too large) used up a number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_to_one_namespace_report_no_false_lag() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let options = SubscribeOptions::new(1 << 16, OverflowPolicy::DropOldest);
    let mut sub = b
        .subscribe_with("t.busy", Filter::new(), options)
        .await
        .unwrap();
    let (tasks, per_task) = (8u64, 2_000u64);
    let first = tasks * per_task;
    a.publish("t.busy", event("order-1", "Placed", first))
        .await
        .unwrap();
    let huge = Event::new(
        ActorId::new("big-1").unwrap(),
        1,
        "Huge",
        json!({"blob": "x".repeat(2 * 1024 * 1024)}),
    );
    let err = a.publish("t.busy", huge).await.unwrap_err();
    assert_eq!(err.kind(), BusErrorKind::TooLarge);
    let publishers: Vec<_> = (0..tasks)
        .map(|t| {
            let a = a.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    a.publish("t.busy", event("order-1", "Placed", t * per_task + i))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    a.flush().await.unwrap();
    let mut got = drain(&mut sub, Duration::from_millis(500)).await;
    assert_eq!(b.stats().remote_lost, 0, "no message was lost on loopback");
    got.sort_unstable();
    assert_eq!(got, (0..=first).collect::<Vec<_>>());
}

/// Regression: shutdown flushed without a time limit, and the client does
/// not answer a flush while disconnected, so shutdown hung until NATS came
/// back. Also, a shut-down bus went on accepting publications and starting
/// new subscriptions (with background tasks); it now refuses them.
#[tokio::test]
async fn shutdown_returns_while_nats_is_down_and_closes_the_bus() {
    let server = NatsServer::start().await;
    let cfg = NatsBusConfig {
        subscribe_confirm_timeout: Duration::from_millis(500),
        ..NatsBusConfig::default()
    };
    let a = NatsEventBus::connect(server.url().as_str(), cfg)
        .await
        .unwrap();
    let mut sub = a.subscribe("t.down").await.unwrap();
    server.kill();
    wait_for(|| a.client().connection_state() != async_nats::connection::State::Connected).await;
    let res = tokio::time::timeout(Duration::from_secs(10), a.shutdown())
        .await
        .expect("shutdown hung while NATS was down");
    assert_eq!(res.unwrap_err().kind(), BusErrorKind::Nats);
    assert_eq!(sub.recv().await, Err(aether_bus::RecvError::Closed));
    assert_eq!(a.nats_subscription_count(), 0);
    let err = a.subscribe("t.down").await.unwrap_err();
    assert_eq!(err.kind(), BusErrorKind::Closed);
    let err = a.subscribe_event_stored(">").await.unwrap_err();
    assert_eq!(err.kind(), BusErrorKind::Closed);
    let err = a
        .publish("t.down", event("order-1", "Placed", 1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), BusErrorKind::Closed);
}

/// Regression: when the NATS client ended its subscriptions (drained or
/// closed, or out of reconnect attempts), the bus's receiving tasks ended
/// silently and every subscription waited forever. They now end with
/// `RecvError::Closed`.
#[tokio::test]
async fn subscriptions_end_when_the_client_closes_its_subscriptions() {
    let server = NatsServer::start().await;
    let client = async_nats::connect(server.url()).await.unwrap();
    let a = NatsEventBus::open(client.clone(), NatsBusConfig::default())
        .await
        .unwrap();
    let mut events = a.subscribe("t.closing").await.unwrap();
    let mut stored = a.subscribe_event_stored(">").await.unwrap();
    client.drain().await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("event subscription hung after the client closed");
    assert_eq!(ended, Err(aether_bus::RecvError::Closed));
    let ended = tokio::time::timeout(Duration::from_secs(5), stored.recv())
        .await
        .expect("EventStored subscription hung after the client closed");
    assert_eq!(ended, Err(aether_bus::RecvError::Closed));
}

/// Events that queue up travel several to a NATS message (binary frames);
/// receivers get each one, in publication order across namespaces,
/// and nothing is reported lost. (One thread: the outbox task runs only when
/// the publishing loop yields, so events do queue up, whatever the speed of
/// the machine.)
#[tokio::test(flavor = "current_thread")]
async fn queued_events_travel_batched_and_arrive_in_order() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let options = SubscribeOptions::new(1 << 16, OverflowPolicy::DropOldest);
    let mut sub = b
        .subscribe_with("batch.*", Filter::new(), options)
        .await
        .unwrap();
    // A plain NATS subscriber on the same subjects counts messages.
    let raw = async_nats::connect(server.url()).await.unwrap();
    let mut wire = raw.subscribe("aether.bus.ev.batch.*").await.unwrap();
    server_has_processed(&raw).await;
    let n = 4_000u64;
    for i in 0..n {
        // Runs of 50 per namespace, alternating.
        let ns = if (i / 50).is_multiple_of(2) {
            "batch.a"
        } else {
            "batch.b"
        };
        a.publish(ns, event("order-1", "Placed", i)).await.unwrap();
    }
    a.flush().await.unwrap();
    let mut got = Vec::new();
    while (got.len() as u64) < n {
        match next_item(&mut sub, Duration::from_secs(10)).await {
            Some(BusItem::Event(env)) => {
                let seq = seq_of(&env.event);
                let ns = if (seq / 50).is_multiple_of(2) {
                    "batch.a"
                } else {
                    "batch.b"
                };
                assert_eq!(env.namespace.as_str(), ns);
                got.push(seq);
            }
            other => panic!("expected an event, got {other:?}"),
        }
    }
    assert_eq!(got, (0..n).collect::<Vec<_>>(), "every event, in order");
    assert_eq!(b.stats().remote_lost, 0);
    // Frames in a bus message (see `src/wire.rs`): a tag byte, then
    // length-prefixed frames.
    fn frame_count(payload: &[u8]) -> u64 {
        assert_eq!(payload[0], 0xA1, "the bus's binary format");
        let (mut rest, mut n) = (&payload[1..], 0);
        while !rest.is_empty() {
            let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
            rest = &rest[4 + len..];
            n += 1;
        }
        n
    }
    let (mut messages, mut lines) = (0u64, 0u64);
    while lines < n {
        let m = tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(&mut wire))
            .await
            .unwrap()
            .unwrap();
        messages += 1;
        lines += frame_count(&m.payload);
    }
    assert_eq!(lines, n);
    assert!(
        messages < n,
        "{n} events queued faster than sent should share messages (got {messages})"
    );
}

/// A malformed line inside a batch is counted and skipped; the others in the
/// same message are delivered.
#[tokio::test]
async fn a_malformed_line_in_a_batch_spoils_only_itself() {
    let server = NatsServer::start().await;
    let b = bus(&server.url()).await;
    let mut sub = b.subscribe("bad.lines").await.unwrap();
    let raw = async_nats::connect(server.url()).await.unwrap();
    let mut payload = event("a-1", "T", 1).to_json_bytes().unwrap();
    payload.extend_from_slice(b"\n{not json\n\n");
    payload.extend_from_slice(&event("a-1", "T", 2).to_json_bytes().unwrap());
    raw.publish("aether.bus.ev.bad.lines", payload.into())
        .await
        .unwrap();
    raw.flush().await.unwrap();
    assert_eq!(next_event(&mut sub).await, 1);
    assert_eq!(next_event(&mut sub).await, 2);
    // The bad line is counted; the empty one is not an event at all.
    wait_for(|| b.stats().decode_errors == 1).await;
}

/// A malformed frame inside a binary message is counted and skipped; the
/// frames around it are delivered.
#[tokio::test]
async fn a_malformed_frame_in_a_message_spoils_only_itself() {
    let server = NatsServer::start().await;
    let a = bus(&server.url()).await;
    let b = bus(&server.url()).await;
    let mut sub = b.subscribe("bad.frames").await.unwrap();
    // Capture what the bus puts on the wire for one event.
    let raw = async_nats::connect(server.url()).await.unwrap();
    let mut wire = raw.subscribe("aether.bus.ev.bad.frames").await.unwrap();
    server_has_processed(&raw).await;
    a.publish("bad.frames", event("a-1", "T", 1)).await.unwrap();
    a.flush().await.unwrap();
    assert_eq!(next_event(&mut sub).await, 1);
    let captured =
        tokio::time::timeout(Duration::from_secs(10), futures::StreamExt::next(&mut wire))
            .await
            .expect("the raw subscriber sees the bus's message")
            .unwrap()
            .payload;
    let frame = &captured[1..];
    let mut payload = vec![0xA1];
    payload.extend_from_slice(frame);
    payload.extend_from_slice(&3u32.to_le_bytes());
    payload.extend_from_slice(b"xyz");
    payload.extend_from_slice(frame);
    raw.publish("aether.bus.ev.bad.frames", payload.into())
        .await
        .unwrap();
    // A cut frame at the end is an error too, not a panic.
    let mut cut = vec![0xA1];
    cut.extend_from_slice(&frame[..frame.len() / 2]);
    raw.publish("aether.bus.ev.bad.frames", cut.into())
        .await
        .unwrap();
    raw.flush().await.unwrap();
    assert_eq!(next_event(&mut sub).await, 1);
    assert_eq!(next_event(&mut sub).await, 1);
    wait_for(|| b.stats().decode_errors == 2).await;
}

/// A round trip through the server, so that a subscription sent on `client`
/// is in place (a flush only writes it to the socket): a request nobody
/// answers, refused by the server once it has processed everything before.
async fn server_has_processed(client: &async_nats::Client) {
    let _ = client.request("nobody.listens", bytes::Bytes::new()).await;
}

/// A publication the NATS client refuses after it was queued (the client is
/// closed) is not dropped silently: it is counted as unsent (and logged).
#[tokio::test]
async fn publications_a_closed_client_refuses_are_counted_as_unsent() {
    let server = NatsServer::start().await;
    let client = async_nats::connect(server.url()).await.unwrap();
    let a = NatsEventBus::open(client.clone(), NatsBusConfig::default())
        .await
        .unwrap();
    a.publish("closed.ns", event("a-1", "T", 1)).await.unwrap();
    a.flush().await.unwrap();
    assert_eq!(a.stats().unsent, 0);
    client.drain().await.unwrap();
    // The drain completes in the background; then the client refuses commands.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while client.flush().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "the client never closed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Queued: `publish` succeeds; the outbox then finds the client closed.
    a.publish("closed.ns", event("a-1", "T", 2)).await.unwrap();
    wait_for(|| a.stats().unsent == 1).await;
    assert!(a.flush().await.is_err(), "flushing a closed client fails");
}
