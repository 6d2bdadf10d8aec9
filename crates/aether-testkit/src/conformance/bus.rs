//! The bus conformance suite: the behaviour every [`EventBus`] shows, the
//! in-process bus and the NATS bus alike.
//!
//! Each case is `pub async fn case<B: EventBus>(publisher: &B, subscriber: &B)`:
//! events published on `publisher` must reach subscriptions made on
//! `subscriber`. For the local bus both are the same bus; for the NATS bus
//! they are two buses (two nodes), so the cases run over the network path.
//! Every case uses namespaces and actors of its own, so one pair may serve
//! every case, in any order.
//!
//! Run them one test per case with [`bus_conformance!`](crate::bus_conformance),
//! or all at once with [`run_bus_suite`].

use std::time::Duration;

use aether_bus::{
    BusErrorKind, BusItem, EventBus, EventSubscription, Filter, OverflowPolicy, SubscribeOptions,
};
use aether_core::{ActorId, Event, EventStored, Metadata, json};

use super::support::unique;

/// How long a case waits for an item it expects.
const ARRIVAL: Duration = Duration::from_secs(10);
/// How long a case waits before concluding that nothing more arrives.
const QUIET: Duration = Duration::from_millis(200);

/// A namespace first token no other case (or run) uses.
fn tenant() -> String {
    format!("t{}", unique().replace('-', ""))
}

fn event(actor: &str, ty: &str, seq: u64) -> Event {
    Event::new(
        ActorId::new(actor).expect("valid test actor"),
        seq + 1,
        ty,
        json!({ "seq": seq }),
    )
}

fn seq_of(e: &Event) -> u64 {
    #[derive(serde::Deserialize)]
    struct Seq {
        seq: u64,
    }
    e.data
        .decode::<Seq>()
        .expect("a conformance event carries a seq")
        .seq
}

async fn next(sub: &mut EventSubscription, what: &str) -> Event {
    match tokio::time::timeout(ARRIVAL, sub.recv()).await {
        Err(_) => panic!("{what}: no event within {ARRIVAL:?}"),
        Ok(Err(e)) => panic!("{what}: subscription ended: {e}"),
        Ok(Ok(BusItem::Lagged(n))) => panic!("{what}: unexpected lag of {n}"),
        Ok(Ok(BusItem::Event(env))) => Event::clone(&env.event),
    }
}

/// Waits [`QUIET`] and checks that nothing (else) arrived.
async fn nothing_more(sub: &mut EventSubscription, what: &str) {
    if let Ok(Ok(item)) = tokio::time::timeout(QUIET, sub.recv()).await {
        panic!("{what}: unexpected {item:?}");
    }
}

/// Events arrive in publication order, every field as published.
pub async fn events_arrive_in_order_exactly<B: EventBus>(publisher: &B, subscriber: &B) {
    let ns = format!("{}.orders", tenant());
    let mut sub = subscriber.subscribe(&ns).await.expect("subscribe");
    let sent: Vec<Event> = (0..100)
        .map(|i| {
            event(&format!("order-{i}"), "Placed", i).with_metadata(
                Metadata::new()
                    .with_correlation_id(format!("req-{i}"))
                    .with_user_id("ü ser"),
            )
        })
        .collect();
    for e in &sent {
        publisher.publish(&ns, e.clone()).await.expect("publish");
    }
    for e in &sent {
        let got = next(&mut sub, "in order").await;
        assert_eq!(&got, e, "an event arrived changed or out of order");
    }
    nothing_more(&mut sub, "each event once").await;
}

/// `*` matches one token, `>` one or more trailing tokens, an exact pattern
/// only itself; other namespaces (and tenants) see nothing.
pub async fn wildcards_match_like_nats<B: EventBus>(publisher: &B, subscriber: &B) {
    let t = tenant();
    let other = tenant();
    let mut one = subscriber
        .subscribe(&format!("{t}.*"))
        .await
        .expect("sub *");
    let mut tail = subscriber
        .subscribe(&format!("{t}.>"))
        .await
        .expect("sub >");
    let mut exact = subscriber.subscribe(&t).await.expect("sub exact");
    let mut deep = subscriber
        .subscribe(&format!("{t}.orders.*"))
        .await
        .expect("sub deep");
    for (i, ns) in [
        t.clone(),
        format!("{t}.orders"),
        format!("{t}.orders.eu"),
        format!("{other}.orders"),
    ]
    .iter()
    .enumerate()
    {
        publisher
            .publish(ns, event("order-1", "Placed", i as u64))
            .await
            .expect("publish");
    }
    assert_eq!(seq_of(&next(&mut exact, "exact").await), 0);
    assert_eq!(seq_of(&next(&mut one, "*").await), 1);
    assert_eq!(seq_of(&next(&mut tail, ">").await), 1);
    assert_eq!(seq_of(&next(&mut tail, ">").await), 2);
    assert_eq!(seq_of(&next(&mut deep, "deep *").await), 2);
    for (sub, what) in [
        (&mut exact, "exact"),
        (&mut one, "*"),
        (&mut tail, ">"),
        (&mut deep, "deep"),
    ] {
        nothing_more(sub, what).await;
    }
}

/// Filters select by event type and by actor-id pattern, combined with AND.
pub async fn filters_select_by_type_and_actor<B: EventBus>(publisher: &B, subscriber: &B) {
    let ns = format!("{}.sales", tenant());
    let mut sub = subscriber
        .subscribe_with(
            &ns,
            Filter::new()
                .event_types(["Placed", "Shipped"])
                .actor_pattern("order-*")
                .expect("valid actor pattern"),
            SubscribeOptions::default(),
        )
        .await
        .expect("subscribe");
    for (i, (actor, ty)) in [
        ("order-1", "Placed"),
        ("order-1", "Cancelled"),
        ("invoice-1", "Placed"),
        ("order-2", "Shipped"),
        ("order-2-x", "Shipped"),
    ]
    .iter()
    .enumerate()
    {
        publisher
            .publish(&ns, event(actor, ty, i as u64))
            .await
            .expect("publish");
    }
    assert_eq!(seq_of(&next(&mut sub, "filtered").await), 0);
    assert_eq!(seq_of(&next(&mut sub, "filtered").await), 3);
    nothing_more(&mut sub, "filtered").await;
}

/// A pattern whose first token is a wildcard spans tenants: `subscribe`
/// refuses it, `subscribe_cross_namespace` takes it.
pub async fn spanning_tenants_must_be_explicit<B: EventBus>(publisher: &B, subscriber: &B) {
    for spans in [">", "*", "*.orders"] {
        let err = subscriber
            .subscribe(spans)
            .await
            .err()
            .unwrap_or_else(|| panic!("subscribe({spans:?}) must be refused"));
        assert_eq!(err.kind(), BusErrorKind::InvalidPattern, "{spans:?}");
        assert!(
            err.to_string().contains("subscribe_cross_namespace"),
            "the error names the way out: {err}"
        );
    }
    let suffix = format!("x{}", tenant());
    let mut cross = subscriber
        .subscribe_cross_namespace(
            &format!("*.{suffix}"),
            Filter::new(),
            SubscribeOptions::default(),
        )
        .await
        .expect("cross-namespace subscribe");
    publisher
        .publish(&format!("{}.{suffix}", tenant()), event("a-1", "T", 1))
        .await
        .expect("publish a");
    publisher
        .publish(&format!("{}.{suffix}", tenant()), event("a-1", "T", 2))
        .await
        .expect("publish b");
    assert_eq!(seq_of(&next(&mut cross, "cross").await), 1);
    assert_eq!(seq_of(&next(&mut cross, "cross").await), 2);
}

/// Bad namespaces, patterns, events and options are refused with their own
/// error kinds, never adjusted.
pub async fn bad_input_is_refused<B: EventBus>(publisher: &B, subscriber: &B) {
    for bad in ["", "a.*", ">", "a b", "a..b", "$SYS.x"] {
        let err = publisher
            .publish(bad, event("a-1", "T", 0))
            .await
            .expect_err("a bad namespace");
        assert_eq!(err.kind(), BusErrorKind::InvalidNamespace, "{bad:?}");
        assert!(err.is_invalid_input());
    }
    for bad in ["a..b", "a.>.b", "a b"] {
        let err = subscriber.subscribe(bad).await.expect_err("a bad pattern");
        assert_eq!(err.kind(), BusErrorKind::InvalidPattern, "{bad:?}");
    }
    let mut invalid = event("a-1", "T", 0);
    invalid.version = 0;
    let err = publisher
        .publish(&tenant(), invalid)
        .await
        .expect_err("version 0");
    assert_eq!(err.kind(), BusErrorKind::InvalidEvent);
    let err = subscriber
        .subscribe_with(
            &tenant(),
            Filter::new(),
            SubscribeOptions::new(0, OverflowPolicy::DropOldest),
        )
        .await
        .expect_err("capacity 0 is refused, not raised");
    assert_eq!(err.kind(), BusErrorKind::InvalidOptions);
    let err = subscriber
        .subscribe_event_stored_with(">", SubscribeOptions::new(0, OverflowPolicy::DropOldest))
        .await
        .expect_err("capacity 0");
    assert_eq!(err.kind(), BusErrorKind::InvalidOptions);
    let err = subscriber
        .subscribe_event_stored_with(">", SubscribeOptions::new(8, OverflowPolicy::Wait))
        .await
        .expect_err("stores never wait for the bus");
    assert_eq!(err.kind(), BusErrorKind::InvalidOptions);
    assert!(Filter::new().actor_pattern("").is_err());
}

/// `EventStored` notifications handed to the publisher reach the
/// subscriber's subscriptions whose actor pattern matches.
pub async fn event_stored_by_actor_pattern<B: EventBus>(publisher: &B, subscriber: &B) {
    let prefix = tenant();
    let mut orders = subscriber
        .subscribe_event_stored(&format!("{prefix}order-*"))
        .await
        .expect("subscribe stored");
    let order = event(&format!("{prefix}order-1"), "Placed", 4);
    let invoice = event(&format!("{prefix}invoice-1"), "Sent", 0);
    publisher.notify_event_stored(EventStored::from(&invoice));
    publisher.notify_event_stored(EventStored::from(&order));
    let got = match tokio::time::timeout(ARRIVAL, orders.recv()).await {
        Ok(Ok(BusItem::Event(n))) => n,
        other => panic!("expected the order's notification, got {other:?}"),
    };
    assert_eq!(*got, EventStored::from(&order));
    if let Ok(Ok(item)) = tokio::time::timeout(QUIET, orders.recv()).await {
        panic!("only matching notifications: got {item:?}");
    }
}

/// Runs every bus case, in sequence, on one pair.
pub async fn run_bus_suite<B: EventBus>(publisher: &B, subscriber: &B) {
    events_arrive_in_order_exactly(publisher, subscriber).await;
    wildcards_match_like_nats(publisher, subscriber).await;
    filters_select_by_type_and_actor(publisher, subscriber).await;
    spanning_tenants_must_be_explicit(publisher, subscriber).await;
    bad_input_is_refused(publisher, subscriber).await;
    event_stored_by_actor_pattern(publisher, subscriber).await;
}

/// Calls `$callback! { $args ; bus_case, ... }` with every bus case.
#[doc(hidden)]
#[macro_export]
macro_rules! __bus_cases {
    ($($callback:tt)::+ ! { $($args:tt)* }) => {
        $($callback)::+ ! { $($args)* ;
            events_arrive_in_order_exactly,
            wildcards_match_like_nats,
            filters_select_by_type_and_actor,
            spanning_tenants_must_be_explicit,
            bad_input_is_refused,
            event_stored_by_actor_pattern,
        }
    };
}

/// Expands to one test per case of [`crate::conformance::bus`].
#[doc(hidden)]
#[macro_export]
macro_rules! __bus_conformance_tests {
    (plain $make:expr ; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::__run_case(stringify!($case), async {
                    let (publisher, subscriber) = $make.await;
                    $crate::conformance::bus::$case(&publisher, &subscriber).await;
                });
            }
        )*
    };
    (guarded $make:expr ; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::conformance::__run_case(stringify!($case), async {
                    let ((publisher, subscriber), guard) = $make.await;
                    $crate::conformance::bus::$case(&publisher, &subscriber).await;
                    drop((publisher, subscriber));
                    drop(guard);
                });
            }
        )*
    };
}

/// Expands to one test per bus conformance case.
///
/// Give an async expression yielding `(publisher, subscriber)`, two handles of
/// an [`aether_bus::EventBus`] type (the same bus twice for an in-process bus,
/// two nodes for a networked one). With `guarded:`, it yields
/// `((publisher, subscriber), guard)` and the guard (a server) lives until the
/// case ends. Runs like
/// [`event_store_conformance!`](crate::event_store_conformance).
///
/// ```
/// mod local_bus {
///     aether_testkit::bus_conformance!(async {
///         let bus = aether_bus::LocalEventBus::new();
///         (bus.clone(), bus)
///     });
/// }
/// ```
#[macro_export]
macro_rules! bus_conformance {
    (guarded: $make:expr $(,)?) => {
        $crate::__bus_cases!($crate::__bus_conformance_tests! { guarded $make });
    };
    ($make:expr $(,)?) => {
        $crate::__bus_cases!($crate::__bus_conformance_tests! { plain $make });
    };
}
