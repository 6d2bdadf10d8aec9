//! The NATS bus telling subscribers what they missed: lost messages and lost
//! batches reported as lag, and no false lag under concurrent publishers.

mod support;

use std::time::Duration;

use aether_bus::{
    BusErrorKind, BusItem, Filter, NatsBusConfig, NatsEventBus, OverflowPolicy, SubscribeOptions,
};
use aether_core::{ActorId, Event, json};
use aether_testkit::NatsServer;
use support::*;

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
