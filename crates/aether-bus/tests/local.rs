//! The in-process bus: delivery, overflow policies, filters, wildcards,
//! unsubscription.

mod support;

use std::sync::Arc;
use std::time::Duration;

use aether_bus::{
    BusErrorKind, BusItem, EventBus, Filter, LocalEventBus, OverflowPolicy, RecvError,
    SubscribeOptions,
};
use aether_core::EventStored;
use futures::StreamExt;
use support::{event, next_event, seq_of};

#[tokio::test(flavor = "current_thread")]
async fn hundred_thousand_events_arrive_complete_and_in_order() {
    let bus = LocalEventBus::new();
    let mut sub = bus.subscribe("orders").unwrap();
    let consumer = tokio::spawn(async move {
        let mut expected = 0u64;
        while expected < 100_000 {
            match sub.recv().await.unwrap() {
                BusItem::Event(env) => {
                    assert_eq!(seq_of(&env.event), expected, "out of order");
                    expected += 1;
                }
                BusItem::Lagged(n) => panic!("a subscriber that keeps up lagged {n}"),
            }
        }
        expected
    });
    for i in 0..100_000u64 {
        assert_eq!(
            bus.publish("orders", event("order-1", "Placed", i))
                .await
                .unwrap(),
            1
        );
        if i % 256 == 255 {
            // Let the subscriber keep up (it is on the same thread).
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(consumer.await.unwrap(), 100_000);
    let stats = bus.stats();
    assert_eq!(stats.published, 100_000);
    assert_eq!(stats.delivered, 100_000);
    assert_eq!(stats.dropped_oldest, 0);
}

#[tokio::test]
async fn slow_subscriber_with_drop_oldest_is_told_its_exact_lag() {
    let bus = LocalEventBus::new();
    let opts = SubscribeOptions::new(10, OverflowPolicy::DropOldest);
    let mut sub = bus.subscribe_with("ns", Filter::new(), opts).unwrap();
    for i in 0..100 {
        bus.publish("ns", event("a-1", "T", i)).await.unwrap();
    }
    assert_eq!(sub.recv().await.unwrap(), BusItem::Lagged(90));
    for i in 90..95 {
        assert_eq!(next_event(&mut sub).await, i);
    }
    // 95..99 are in the subscriber's batch; the queue takes 10 more, so 15
    // more publications drop the five oldest not yet taken (100..104).
    for i in 100..115 {
        bus.publish("ns", event("a-1", "T", i)).await.unwrap();
    }
    for i in 95..100 {
        assert_eq!(next_event(&mut sub).await, i);
    }
    assert_eq!(sub.recv().await.unwrap(), BusItem::Lagged(5));
    for i in 105..115 {
        assert_eq!(next_event(&mut sub).await, i);
    }
    assert!(sub.try_recv().is_none());
    assert_eq!(bus.stats().dropped_oldest, 95);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_loses_nothing() {
    let bus = LocalEventBus::new();
    let opts = SubscribeOptions::new(4, OverflowPolicy::Wait);
    let mut sub = bus.subscribe_with("ns", Filter::new(), opts).unwrap();
    let publisher = {
        let bus = bus.clone();
        tokio::spawn(async move {
            for i in 0..20_000 {
                bus.publish("ns", event("a-1", "T", i)).await.unwrap();
            }
        })
    };
    for i in 0..20_000 {
        if i % 1000 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await; // be slow now and then
        }
        match sub.recv().await.unwrap() {
            BusItem::Event(env) => assert_eq!(seq_of(&env.event), i),
            BusItem::Lagged(n) => panic!("backpressure dropped {n}"),
        }
    }
    publisher.await.unwrap();
    assert_eq!(bus.stats().dropped_oldest, 0);
}

#[tokio::test]
async fn backpressure_makes_the_publisher_wait() {
    let bus = LocalEventBus::new();
    let opts = SubscribeOptions::new(1, OverflowPolicy::Wait);
    let mut sub = bus.subscribe_with("ns", Filter::new(), opts).unwrap();
    bus.publish("ns", event("a-1", "T", 0)).await.unwrap();
    let blocked = tokio::time::timeout(
        Duration::from_millis(50),
        bus.publish("ns", event("a-1", "T", 1)),
    )
    .await;
    assert!(blocked.is_err(), "publish into a full Wait queue must wait");
    let bus2 = bus.clone();
    let pending = tokio::spawn(async move { bus2.publish("ns", event("a-1", "T", 1)).await });
    assert_eq!(next_event(&mut sub).await, 0);
    assert_eq!(pending.await.unwrap().unwrap(), 1);
    assert_eq!(next_event(&mut sub).await, 1);
}

#[tokio::test]
async fn unsubscribing_releases_a_waiting_publisher() {
    let bus = LocalEventBus::new();
    let sub = bus
        .subscribe_with(
            "ns",
            Filter::new(),
            SubscribeOptions::new(1, OverflowPolicy::Wait),
        )
        .unwrap();
    bus.publish("ns", event("a-1", "T", 0)).await.unwrap();
    let bus2 = bus.clone();
    let pending = tokio::spawn(async move { bus2.publish("ns", event("a-1", "T", 1)).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(sub);
    assert_eq!(pending.await.unwrap().unwrap(), 0);
}

#[tokio::test]
async fn close_policy_ends_the_subscription_with_an_error() {
    let bus = LocalEventBus::new();
    let opts = SubscribeOptions::new(3, OverflowPolicy::Close);
    let mut sub = bus.subscribe_with("ns", Filter::new(), opts).unwrap();
    for i in 0..5 {
        bus.publish("ns", event("a-1", "T", i)).await.unwrap();
    }
    for i in 0..3 {
        assert_eq!(next_event(&mut sub).await, i);
    }
    assert_eq!(
        sub.recv().await.unwrap_err(),
        RecvError::Overflowed { capacity: 3 }
    );
    assert_eq!(
        bus.subscription_count(),
        0,
        "overflowed subscription unindexed"
    );
    assert_eq!(bus.stats().overflow_closed, 1);
    // As a stream: the error once, then the end.
    let mut sub = bus
        .subscribe_with(
            "ns",
            Filter::new(),
            SubscribeOptions::new(1, OverflowPolicy::Close),
        )
        .unwrap();
    bus.publish("ns", event("a-1", "T", 0)).await.unwrap();
    bus.publish("ns", event("a-1", "T", 1)).await.unwrap();
    assert!(matches!(sub.next().await, Some(Ok(BusItem::Event(_)))));
    assert!(matches!(
        sub.next().await,
        Some(Err(RecvError::Overflowed { .. }))
    ));
    assert!(sub.next().await.is_none());
}

#[tokio::test]
async fn filters_and_wildcards_combined() {
    let bus = LocalEventBus::new();
    let mut a = bus
        .subscribe_with(
            "tenant-a.*",
            Filter::new()
                .event_types(["Placed", "Shipped"])
                .actor_pattern("order-*")
                .unwrap(),
            SubscribeOptions::default(),
        )
        .unwrap();
    let mut tail = bus
        .subscribe_with(
            "tenant-a.>",
            Filter::new().actor_pattern("invoice.>").unwrap(),
            SubscribeOptions::default(),
        )
        .unwrap();
    let mut exact = bus.subscribe("tenant-a").unwrap();
    let cases = [
        ("tenant-a.orders", "order-1", "Placed", true, false, false),
        (
            "tenant-a.orders",
            "order-1",
            "Cancelled",
            false,
            false,
            false,
        ),
        ("tenant-a.orders", "invoice-1", "Placed", false, true, false),
        (
            "tenant-a.orders.eu",
            "order-1",
            "Placed",
            false,
            false,
            false,
        ),
        (
            "tenant-a.orders.eu",
            "invoice-1-x",
            "Paid",
            false,
            true,
            false,
        ),
        ("tenant-b.orders", "order-1", "Placed", false, false, false),
        ("tenant-a", "order-2", "Shipped", false, false, true),
        ("tenant-a.x", "order-2-3", "Shipped", false, false, false),
    ];
    for (i, (ns, actor, ty, to_a, to_tail, to_exact)) in cases.iter().enumerate() {
        let n = bus.publish(ns, event(actor, ty, i as u64)).await.unwrap();
        assert_eq!(
            n,
            [*to_a, *to_tail, *to_exact].iter().filter(|b| **b).count() as u64
        );
    }
    let drain = |sub: &mut aether_bus::EventSubscription| {
        let mut got = Vec::new();
        while let Some(Ok(BusItem::Event(env))) = sub.try_recv() {
            got.push(seq_of(&env.event));
        }
        got
    };
    assert_eq!(drain(&mut a), vec![0]);
    assert_eq!(drain(&mut tail), vec![2, 4]);
    assert_eq!(drain(&mut exact), vec![6]);
}

#[tokio::test]
async fn envelope_carries_the_concrete_namespace_and_the_shared_event() {
    let bus = LocalEventBus::new();
    let mut s1 = bus.subscribe("t.*").unwrap();
    let mut s2 = bus.subscribe("t.orders").unwrap();
    let e = Arc::new(event("order-1", "Placed", 7));
    bus.publish("t.orders", e.clone()).await.unwrap();
    let a = s1.recv().await.unwrap().into_event().unwrap();
    let b = s2.recv().await.unwrap().into_event().unwrap();
    assert_eq!(&*a.namespace, "t.orders");
    assert!(
        Arc::ptr_eq(&a.event, &e) && Arc::ptr_eq(&b.event, &e),
        "shared, not cloned"
    );
}

#[tokio::test]
async fn unsubscribe_explicitly_or_by_drop_leaks_nothing() {
    let bus = LocalEventBus::new();
    let subs: Vec<_> = (0..10_000)
        .map(|i| bus.subscribe(&format!("ns-{}.x.*", i % 100)).unwrap())
        .collect();
    assert_eq!(bus.subscription_count(), 10_000);
    for (i, s) in subs.into_iter().enumerate() {
        if i % 2 == 0 {
            bus.unsubscribe(s);
        } else {
            s.unsubscribe();
        }
    }
    assert_eq!(bus.subscription_count(), 0);
    let dropped = bus.subscribe("ns-1.x.*").unwrap();
    drop(dropped);
    assert_eq!(
        bus.publish("ns-1.x.y", event("a-1", "T", 0)).await.unwrap(),
        0
    );
    assert_eq!(bus.subscription_count(), 0);
}

#[tokio::test]
async fn dropping_the_bus_ends_subscriptions_after_queued_events() {
    let bus = LocalEventBus::new();
    let mut sub = bus.subscribe("ns").unwrap();
    bus.publish("ns", event("a-1", "T", 0)).await.unwrap();
    drop(bus);
    assert_eq!(next_event(&mut sub).await, 0);
    assert_eq!(sub.recv().await.unwrap_err(), RecvError::Closed);
}

#[tokio::test]
async fn event_stored_notifications_by_actor_pattern() {
    let bus = LocalEventBus::new();
    let mut orders = bus.subscribe_event_stored("order-*").unwrap();
    let mut all = EventBus::subscribe_event_stored(&bus, ">").await.unwrap();
    let hook: Arc<dyn aether_core::EventStoredHook> = Arc::new(bus.clone());
    hook.event_stored(EventStored::from(&event("order-1", "Placed", 0)));
    hook.event_stored(EventStored::from(&event("invoice-1", "Sent", 0)));
    let n = orders.recv().await.unwrap().into_event().unwrap();
    assert_eq!(n.actor_id.as_str(), "order-1");
    assert!(orders.try_recv().is_none());
    assert_eq!(
        all.recv()
            .await
            .unwrap()
            .into_event()
            .unwrap()
            .actor_id
            .as_str(),
        "order-1"
    );
    assert_eq!(
        all.recv()
            .await
            .unwrap()
            .into_event()
            .unwrap()
            .actor_id
            .as_str(),
        "invoice-1"
    );
    let err = bus
        .subscribe_event_stored_with(">", SubscribeOptions::new(8, OverflowPolicy::Wait))
        .unwrap_err();
    assert_eq!(err.kind(), BusErrorKind::InvalidOptions);
    drop(orders);
    drop(all);
    assert_eq!(bus.stored_subscription_count(), 0);
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<LocalEventBus>();
    check::<aether_bus::NatsEventBus>();
    check::<aether_bus::EventSubscription>();
    check::<aether_bus::StoredSubscription>();
    check::<aether_bus::BusError>();
}
