//! Two event-bus nodes over NATS: namespaces, wildcards, filters, and
//! `EventStored` notifications that keep another node's store cache current.
//!
//! Needs a server: `nats-server -js`, then `cargo run --example event_bus`
//! (`NATS_URL` names another server; the default is `nats://127.0.0.1:4222`).
//!
//! Node B subscribes to `shop.>` (every namespace of tenant `shop`), to
//! `shop.*` filtered to `OrderPlaced` events of `order-*` actors, and to the
//! other tenant `billing.>`; node A publishes four events and B prints what
//! each subscription received. Then node A's JetStream store reports each
//! append to its bus (the bus is the store's hook), and node B's bus raises
//! node B's store's version cache from those notifications, so B's next
//! append needs no lookup of the actor's latest version.

#[path = "shared/nats.rs"]
mod nats;

use std::time::Duration;

use aether::bus::{
    BusItem, EventSubscription, Filter, NatsBusConfig, NatsEventBus, OverflowPolicy,
    SubscribeOptions,
};
use aether::jetstream::{JetStreamConfig, JetStreamEventStore};
use aether::prelude::*;
use nats::BoxError;

/// A bus node with its own connection.
async fn bus(url: &str, prefix: &str, node: &str) -> Result<NatsEventBus, BoxError> {
    let config = NatsBusConfig {
        subject_prefix: prefix.to_owned(),
        node_id: Some(NodeId::new(node)?),
        ..Default::default()
    };
    NatsEventBus::connect(url, config)
        .await
        .map_err(nats::explain(url))
}

/// Receives `n` items from `sub` (2 s limit each) and prints them.
async fn show(name: &str, sub: &mut EventSubscription, n: usize) -> Result<(), BoxError> {
    for _ in 0..n {
        let item = tokio::time::timeout(Duration::from_secs(2), sub.recv())
            .await
            .map_err(|_| format!("{name}: an expected event did not arrive"))??;
        match item {
            BusItem::Event(e) => println!(
                "  B {name:<30} got {:<14} {:<18} in {}",
                e.event.event_type,
                e.event.actor_id.as_str(),
                e.namespace.as_str()
            ),
            BusItem::Lagged(missed) => return Err(format!("{name}: missed {missed}").into()),
        }
    }
    if let Some(extra) = sub.try_recv() {
        return Err(format!("{name}: unexpected {extra:?}").into());
    }
    Ok(())
}

/// Runs the example against the server at `url`.
pub async fn run(url: &str) -> Result<(), BoxError> {
    // A subject prefix of its own keeps runs against one server apart.
    let run = nats::run_suffix();
    let prefix = format!("examples.bus{run}");
    let (a, b) = (
        bus(url, &prefix, "node-a").await?,
        bus(url, &prefix, "node-b").await?,
    );
    println!("two bus nodes on {url}, subjects under {prefix}");

    let mut all_shop = b.subscribe("shop.>").await?;
    let placed = Filter::new()
        .event_types(["OrderPlaced"])
        .actor_pattern("order-*")?;
    let opts = SubscribeOptions::new(256, OverflowPolicy::DropOldest);
    let mut placed_orders = b.subscribe_with("shop.*", placed, opts).await?;
    let mut billing = b.subscribe("billing.>").await?;
    // The first token is the tenant: wildcards there need the explicit call.
    let refused = b.subscribe(">").await.map(|_| ()).unwrap_err();
    println!("B subscribe(\">\") refused: {refused}");

    let order = |id: &str, version, kind: &str| {
        Event::new(
            ActorId::new(id).unwrap(),
            version,
            kind,
            json!({"run": run}),
        )
    };
    a.publish("shop.eu", order("order-1", 1, "OrderPlaced"))
        .await?;
    a.publish("shop.us", order("order-2", 1, "OrderCancelled"))
        .await?;
    a.publish("shop.eu.returns", order("order-3", 1, "OrderPlaced"))
        .await?;
    a.publish("shop.eu", order("cart-9", 1, "OrderPlaced"))
        .await?;
    println!("A published 4 events to shop.eu, shop.us and shop.eu.returns");
    show("shop.>", &mut all_shop, 4).await?;
    show("shop.* OrderPlaced order-*", &mut placed_orders, 1).await?;
    show("billing.>", &mut billing, 0).await?;

    // EventStored: A's store tells A's bus, which tells every node.
    let config = JetStreamConfig {
        namespace: "examples".into(),
        ..Default::default()
    };
    let store_a = JetStreamEventStore::connect(url, config.clone())
        .await
        .map_err(nats::explain(url))?
        .with_hook(a.clone());
    let store_b = JetStreamEventStore::connect(url, config)
        .await
        .map_err(nats::explain(url))?;
    let cache = store_b.clone();
    let _sync = b
        .sync_version_cache("order-*", move |actor, version| {
            cache.update_version_cache(actor, version)
        })
        .await?;

    let actor = ActorId::new(format!("order-{run}"))?;
    for (v, kind) in [(1, "OrderPlaced"), (2, "OrderPaid"), (3, "OrderShipped")] {
        store_a.append(order(actor.as_str(), v, kind)).await?;
    }
    println!("A appended versions 1..3 of {actor}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while store_b.cached_version(&actor) != Some(3) {
        if tokio::time::Instant::now() > deadline {
            return Err("B's version cache did not reach version 3".into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!("B's store cache learned version 3 from the notifications");
    let delivered = vec![order(actor.as_str(), 4, "OrderDelivered")];
    let v = store_b
        .append_batch(&actor, ExpectedVersion::Exact(3), delivered)
        .await?;
    println!("B appended version {v} at expected version 3; the server checked it was next");

    a.shutdown().await?;
    b.shutdown().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    nats::main(|url| async move { run(&url).await }).await
}
