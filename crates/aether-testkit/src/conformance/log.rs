//! Cases of the global log ([`EventLog`]): order, catch-up then live with no
//! gap or repeat, resuming inside an atomic append, selections, the head.
//!
//! Every case uses actor types of its own, so a shared store's other events
//! never reach its subscriptions.

use std::collections::HashMap;
use std::time::Duration;

use aether_core::{
    ActorId, EventLog, EventStore, ExpectedVersion, LogEntry, LogPosition, LogSelection,
    LogSubscription,
};

use super::support::{ev, evs};

/// How long a case waits for one entry before failing.
const WAIT: Duration = Duration::from_secs(20);

/// A fresh actor type, unique to this call (no `-` inside).
fn fresh_type(prefix: &str) -> String {
    format!("{prefix}{}", uuid_simple())
}

fn uuid_simple() -> String {
    aether_core::EventId::new().as_uuid().simple().to_string()
}

fn actor_of(ty: &str, n: usize) -> ActorId {
    ActorId::new(format!("{ty}-{n}")).expect("generated actor id is valid")
}

async fn subscribe<S: EventLog>(
    store: &S,
    selection: LogSelection,
    after: Option<LogPosition>,
) -> LogSubscription {
    store
        .subscribe(selection, after)
        .await
        .unwrap_or_else(|e| panic!("subscribe failed: {e}"))
}

/// The next entry, within [`WAIT`].
async fn next(sub: &mut LogSubscription, what: &str) -> LogEntry {
    match tokio::time::timeout(WAIT, sub.next()).await {
        Ok(Ok(entry)) => entry,
        Ok(Err(e)) => panic!("{what}: the subscription failed: {e}"),
        Err(_) => panic!("{what}: no entry within {WAIT:?}"),
    }
}

/// Asserts nothing more arrives for a short while.
async fn quiet(sub: &mut LogSubscription, what: &str) {
    if let Ok(r) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        panic!("{what}: unexpected entry {r:?}");
    }
}

/// Events of several actors, single and batched, come in one order that
/// agrees with each actor's versions; positions strictly increase; a batch
/// is one entry with indexes 0, 1, ...
pub async fn log_orders_every_append<S: EventStore + EventLog>(store: &S) {
    let ty = fresh_type("logorder");
    let (a, b) = (actor_of(&ty, 1), actor_of(&ty, 2));
    let mut sub = subscribe(store, LogSelection::actor_types([ty.as_str()]), None).await;
    store.append(ev(&a, 1)).await.expect("append a1");
    store
        .append_batch(&b, ExpectedVersion::NoStream, evs(&b, 1, 3))
        .await
        .expect("batch b1..=3");
    store.append(ev(&a, 2)).await.expect("append a2");
    let mut seen = Vec::new();
    for _ in 0..5 {
        let e = next(&mut sub, "log order").await;
        let event = e.event.expect("a clean event");
        seen.push((e.position, event.actor_id.clone(), event.version));
    }
    let order: Vec<(ActorId, u64)> = seen.iter().map(|(_, a, v)| (a.clone(), *v)).collect();
    assert_eq!(
        order,
        [
            (a.clone(), 1),
            (b.clone(), 1),
            (b.clone(), 2),
            (b.clone(), 3),
            (a.clone(), 2)
        ],
        "the log holds the appends in the order they were made"
    );
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "positions strictly increase: {seen:?}"
    );
    let batch: Vec<LogPosition> = seen[1..4].iter().map(|s| s.0).collect();
    assert!(
        batch.iter().all(|p| p.sequence == batch[0].sequence)
            && batch.iter().map(|p| p.index).eq(0..3),
        "an atomic append is one entry, its events at indexes 0..n: {batch:?}"
    );
    quiet(&mut sub, "log order").await;
}

/// A subscription opened while a writer appends reads the stored events and
/// then the live ones: every event once, none missing, in order.
pub async fn log_catches_up_then_follows_live<S: EventStore + EventLog + Clone + 'static>(
    store: &S,
) {
    const ACTORS: usize = 4;
    const PER_ACTOR: u64 = 250;
    let ty = fresh_type("loglive");
    let actors: Vec<ActorId> = (0..ACTORS).map(|n| actor_of(&ty, n)).collect();
    // Half before the subscription, half while it catches up.
    for v in 1..=PER_ACTOR / 2 {
        for a in &actors {
            store.append(ev(a, v)).await.expect("append before");
        }
    }
    let mut sub = subscribe(store, LogSelection::actor_types([ty.as_str()]), None).await;
    let writer = {
        let (store, actors) = (store.clone(), actors.clone());
        tokio::spawn(async move {
            for v in PER_ACTOR / 2 + 1..=PER_ACTOR {
                for a in &actors {
                    store.append(ev(a, v)).await.expect("append during");
                }
            }
        })
    };
    let mut last: HashMap<ActorId, u64> = HashMap::new();
    let mut previous = None;
    for n in 0..ACTORS as u64 * PER_ACTOR {
        let e = next(&mut sub, "catch-up then live").await;
        assert!(
            previous < Some(e.position),
            "entry {n}: position {} after {previous:?}",
            e.position
        );
        previous = Some(e.position);
        let event = e.event.expect("a clean event");
        let before = last
            .insert(event.actor_id.clone(), event.version)
            .unwrap_or(0);
        assert_eq!(
            event.version,
            before + 1,
            "entry {n}: {:?} jumped from version {before} (a gap or a repeat)",
            event.actor_id
        );
    }
    writer.await.expect("writer task");
    assert!(
        last.values().all(|v| *v == PER_ACTOR),
        "every event arrived"
    );
    quiet(&mut sub, "catch-up then live").await;
}

/// Subscribing after a position resumes right after it, also in the middle
/// of an atomic append.
pub async fn log_resumes_after_a_position<S: EventStore + EventLog>(store: &S) {
    let ty = fresh_type("logresume");
    let a = actor_of(&ty, 1);
    store.append(ev(&a, 1)).await.expect("append 1");
    store
        .append_batch(&a, ExpectedVersion::Exact(1), evs(&a, 2, 4))
        .await
        .expect("batch 2..=4");
    store.append(ev(&a, 5)).await.expect("append 5");
    let selection = LogSelection::actor_types([ty.as_str()]);
    let mut sub = subscribe(store, selection.clone(), None).await;
    let mut positions = Vec::new();
    for _ in 0..5 {
        positions.push(next(&mut sub, "resume").await.position);
    }
    for (i, after) in positions.iter().enumerate() {
        let mut resumed = subscribe(store, selection.clone(), Some(*after)).await;
        for (j, expected) in positions.iter().enumerate().skip(i + 1) {
            let e = next(&mut resumed, "resume").await;
            assert_eq!(
                e.position, *expected,
                "after {after}: entry {j} is the next one"
            );
            assert_eq!(e.event.expect("clean").version, j as u64 + 1);
        }
        quiet(&mut resumed, "resume").await;
    }
}

/// A selection by actor types delivers exactly those actors' events.
pub async fn log_selects_actor_types<S: EventStore + EventLog>(store: &S) {
    let (t1, t2, t3) = (
        fresh_type("logsel"),
        fresh_type("logsel"),
        fresh_type("logsel"),
    );
    let mut sub = subscribe(
        store,
        LogSelection::actor_types([t1.as_str(), t3.as_str()]),
        None,
    )
    .await;
    for (n, ty) in [&t1, &t2, &t3, &t2, &t1].into_iter().enumerate() {
        store.append(ev(&actor_of(ty, n), 1)).await.expect("append");
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        let event = next(&mut sub, "selection").await.event.expect("clean");
        got.push(event.actor_id.as_str().to_string());
    }
    assert_eq!(
        got,
        [format!("{t1}-0"), format!("{t3}-2"), format!("{t1}-4")],
        "only the selected types, in log order"
    );
    quiet(&mut sub, "selection").await;
}

/// The head is at or after every position delivered so far.
pub async fn log_head_follows_appends<S: EventStore + EventLog>(store: &S) {
    let ty = fresh_type("loghead");
    let a = actor_of(&ty, 1);
    let mut sub = subscribe(store, LogSelection::actor_types([ty.as_str()]), None).await;
    store
        .append_batch(&a, ExpectedVersion::NoStream, evs(&a, 1, 2))
        .await
        .expect("batch");
    let mut last = None;
    for _ in 0..2 {
        last = Some(next(&mut sub, "head").await.position);
    }
    let head = store.head().await.expect("head").expect("a non-empty log");
    assert!(
        Some(head) >= last,
        "head {head} is at or after the last delivered {last:?}"
    );
}
