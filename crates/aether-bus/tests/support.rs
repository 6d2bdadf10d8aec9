//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use aether_bus::{BusItem, EventSubscription, NatsBusConfig, NatsEventBus};
use aether_core::{ActorId, Event, json};

/// An event for `actor` of type `ty` whose data carries sequence number `seq`.
pub fn event(actor: &str, ty: &str, seq: u64) -> Event {
    Event::new(
        ActorId::new(actor).unwrap(),
        seq + 1,
        ty,
        json!({ "seq": seq }),
    )
}

/// The sequence number an [`event`] carries.
pub fn seq_of(e: &Event) -> u64 {
    e.data.value().expect("test data is a JSON value")["seq"]
        .as_u64()
        .expect("test event carries a seq")
}

/// The next item, which must be an event; returns its sequence number.
pub async fn next_event(sub: &mut EventSubscription) -> u64 {
    match tokio::time::timeout(Duration::from_secs(10), sub.recv())
        .await
        .expect("no event within 10 s")
        .expect("subscription ended")
    {
        BusItem::Event(env) => seq_of(&env.event),
        BusItem::Lagged(n) => panic!("unexpected lag of {n}"),
    }
}

/// The next item within `d`, if any.
pub async fn next_item(
    sub: &mut EventSubscription,
    d: Duration,
) -> Option<BusItem<aether_bus::Envelope>> {
    match tokio::time::timeout(d, sub.recv()).await {
        Ok(Ok(item)) => Some(item),
        _ => None,
    }
}

/// A NATS bus with its own connection and default settings.
pub async fn bus(url: &str) -> NatsEventBus {
    NatsEventBus::connect(url, NatsBusConfig::default())
        .await
        .expect("connect bus")
}

/// Drains everything that arrives within `quiet` of silence; returns the seqs.
pub async fn drain(sub: &mut EventSubscription, quiet: Duration) -> Vec<u64> {
    let mut got = Vec::new();
    while let Some(item) = next_item(sub, quiet).await {
        match item {
            BusItem::Event(env) => got.push(seq_of(&env.event)),
            BusItem::Lagged(n) => panic!("unexpected lag {n}"),
        }
    }
    got
}

/// How long a test waits for something to happen in the background.
pub const WAIT: Duration = Duration::from_secs(5);

/// A round trip through the server, so that a subscription sent on `client`
/// is in place (a flush only writes it to the socket): a request nobody
/// answers, refused by the server once it has processed everything before.
/// Returns once the server has processed what `client` sent before.
pub async fn server_has_processed(client: &async_nats::Client) {
    let _ = client.request("nobody.listens", bytes::Bytes::new()).await;
}
