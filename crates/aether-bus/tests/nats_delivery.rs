//! The NATS bus delivering across nodes: two buses on separate connections,
//! exact field typing, namespace isolation against raw clients, shared NATS
//! subscriptions, a 3-node NATS cluster, a server restart.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aether_bus::{BusErrorKind, BusItem, Filter, SubscribeOptions};
use aether_core::{ActorId, Event, Metadata, json};
use aether_testkit::{NatsCluster, NatsServer};
use support::*;

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
    let data = got.event.data.value().unwrap();
    assert_eq!(data["u"].as_u64(), Some(u64::MAX));
    assert_eq!(data["i"].as_i64(), Some(i64::MIN));
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
