//! The NATS bus's configuration and life cycle: bad configuration refused,
//! shutdown while NATS is down, a client closing its subscriptions, and
//! publications a closed client refuses.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use aether_bus::{BusErrorKind, NatsBusConfig, NatsEventBus};
use aether_core::{ActorId, Event, json};
use aether_testkit::{NatsServer, eventually};
use support::*;

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
    eventually("the client to see the server gone", WAIT, async || {
        a.client().connection_state() != async_nats::connection::State::Connected
    })
    .await;
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
    eventually("the client to close", WAIT, async || {
        client.flush().await.is_err()
    })
    .await;
    // Queued: `publish` succeeds; the outbox then finds the client closed.
    a.publish("closed.ns", event("a-1", "T", 2)).await.unwrap();
    eventually("one unsent publication", WAIT, async || {
        a.stats().unsent == 1
    })
    .await;
    assert!(a.flush().await.is_err(), "flushing a closed client fails");
}
