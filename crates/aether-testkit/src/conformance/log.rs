//! Cases of the global log ([`EventLog`]): order, catch-up then live with no
//! gap or repeat, resuming from a cursor (also inside an atomic append),
//! selections by actor type and by partition, the head, bad cursors.
//!
//! The cases hold for a log of one partition and of many: what they check
//! across actors is what a partitioned log promises (each actor's versions
//! in order; entries of one partition in that partition's order, which for
//! appends made one after another is the order they were made in), and on a
//! log of one partition that is one total order of all appends.
//!
//! Every case uses actor types of its own, so a shared store's other events
//! never reach its subscriptions.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aether_core::{
    ActorId, Error, EventLog, EventStore, ExpectedVersion, LogCursor, LogEntry, LogPosition,
    LogSelection, LogSubscription,
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
    after: impl Into<LogCursor> + Send,
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

/// Checks that positions strictly increase within each partition.
#[track_caller]
fn per_partition_increasing(positions: &[LogPosition], what: &str) {
    let mut last: HashMap<(u16, u16), LogPosition> = HashMap::new();
    for (n, p) in positions.iter().enumerate() {
        if let Some(before) = last.insert((p.epoch, p.partition), *p) {
            assert!(
                before < *p,
                "{what}: entry {n} at {p} comes after {before} of its partition"
            );
        }
    }
}

/// Events of several actors, single and batched, come in one order that
/// agrees with each actor's versions; entries of one partition come in the
/// order the (sequential) appends were made, at strictly increasing
/// positions; a batch is one entry with indexes 0, 1, ...
pub async fn log_orders_every_append<S: EventStore + EventLog>(store: &S) {
    let ty = fresh_type("logorder");
    let actors: Vec<ActorId> = (0..6).map(|n| actor_of(&ty, n)).collect();
    let mut sub = subscribe(store, LogSelection::actor_types([ty.as_str()]), None).await;
    // The appends, one after another: (actor, versions).
    let mut made: Vec<(ActorId, u64)> = Vec::new();
    for round in 0..2u64 {
        for (i, a) in actors.iter().enumerate() {
            if i % 3 == 1 {
                let first = round * 3 + 1;
                store
                    .append_batch(
                        a,
                        ExpectedVersion::Exact(first - 1),
                        evs(a, first, first + 2),
                    )
                    .await
                    .expect("batch");
                made.extend((first..first + 3).map(|v| (a.clone(), v)));
            } else {
                store.append(ev(a, round + 1)).await.expect("append");
                made.push((a.clone(), round + 1));
            }
        }
    }
    let mut seen = Vec::new();
    for _ in 0..made.len() {
        let e = next(&mut sub, "log order").await;
        let event = e.event.expect("a clean event");
        seen.push((e.position, event.actor_id.clone(), event.version));
    }
    let positions: Vec<LogPosition> = seen.iter().map(|s| s.0).collect();
    per_partition_increasing(&positions, "log order");
    // Each partition's entries in the order of the appends.
    let partition_of: HashMap<ActorId, (u16, u16)> = seen
        .iter()
        .map(|(p, a, _)| (a.clone(), (p.epoch, p.partition)))
        .collect();
    for part in partition_of.values().collect::<HashSet<_>>() {
        let got: Vec<(ActorId, u64)> = seen
            .iter()
            .filter(|(p, _, _)| (p.epoch, p.partition) == *part)
            .map(|(_, a, v)| (a.clone(), *v))
            .collect();
        let expected: Vec<(ActorId, u64)> = made
            .iter()
            .filter(|(a, _)| partition_of.get(a) == Some(part))
            .cloned()
            .collect();
        assert_eq!(
            got, expected,
            "partition {part:?} holds its appends in the order they were made"
        );
    }
    if partition_of.values().collect::<HashSet<_>>().len() == 1 {
        let order: Vec<(ActorId, u64)> = seen.iter().map(|(_, a, v)| (a.clone(), *v)).collect();
        assert_eq!(
            order, made,
            "one partition: the log is the order of the appends"
        );
    }
    // The first batch (actor 1, versions 1..=3) is one entry.
    let batch: Vec<LogPosition> = seen
        .iter()
        .filter(|(_, a, v)| *a == actors[1] && *v <= 3)
        .map(|s| s.0)
        .collect();
    assert!(
        batch
            .iter()
            .all(|p| p.sequence == batch[0].sequence && p.same_partition(&batch[0]))
            && batch.iter().map(|p| p.index).eq(0..3),
        "an atomic append is one entry, its events at indexes 0..n: {batch:?}"
    );
    quiet(&mut sub, "log order").await;
}

/// A subscription opened while a writer appends reads the stored events and
/// then the live ones: every event once, none missing, each actor in order,
/// each partition at increasing positions.
pub async fn log_catches_up_then_follows_live<S: EventStore + EventLog + Clone + 'static>(
    store: &S,
) {
    const ACTORS: usize = 8;
    const PER_ACTOR: u64 = 125;
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
    let mut positions = Vec::new();
    for n in 0..ACTORS as u64 * PER_ACTOR {
        let e = next(&mut sub, "catch-up then live").await;
        positions.push(e.position);
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
    per_partition_increasing(&positions, "catch-up then live");
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
        let mut resumed = subscribe(store, selection.clone(), *after).await;
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

/// A subscription resumed from the cursor of what an earlier one read (one
/// position per partition) reads exactly the rest: every later event once,
/// none of the earlier ones.
pub async fn log_resumes_from_a_cursor<S: EventStore + EventLog>(store: &S) {
    const ACTORS: usize = 16;
    const PER_ACTOR: u64 = 6;
    let ty = fresh_type("logcursor");
    let actors: Vec<ActorId> = (0..ACTORS).map(|n| actor_of(&ty, n)).collect();
    for v in 1..=PER_ACTOR {
        for (i, a) in actors.iter().enumerate() {
            if v == 3 && i % 2 == 0 {
                continue; // versions 3 and 4 as one atomic append below
            }
            if v == 4 && i % 2 == 0 {
                store
                    .append_batch(a, ExpectedVersion::Exact(2), evs(a, 3, 4))
                    .await
                    .expect("batch");
                continue;
            }
            store.append(ev(a, v)).await.expect("append");
        }
    }
    let total = ACTORS * PER_ACTOR as usize;
    let selection = LogSelection::actor_types([ty.as_str()]);
    for cut in [1, total / 3, total / 2 + 1, total - 1] {
        let mut first = subscribe(store, selection.clone(), None).await;
        let mut cursor = LogCursor::new();
        let mut read: HashSet<(ActorId, u64)> = HashSet::new();
        for _ in 0..cut {
            let e = next(&mut first, "cursor, first part").await;
            cursor.advance(e.position);
            let event = e.event.expect("clean");
            read.insert((event.actor_id, event.version));
        }
        drop(first);
        let mut rest = subscribe(store, selection.clone(), cursor.clone()).await;
        let mut last: HashMap<ActorId, u64> = HashMap::new();
        for _ in cut..total {
            let e = next(&mut rest, "cursor, the rest").await;
            assert!(
                !cursor.covers(&e.position),
                "after cursor {cursor}: {} was read before",
                e.position
            );
            let event = e.event.expect("clean");
            let key = (event.actor_id.clone(), event.version);
            assert!(
                read.insert(key.clone()),
                "after cursor {cursor}: {key:?} repeated"
            );
            if let Some(before) = last.insert(event.actor_id.clone(), event.version) {
                assert!(before < event.version, "{:?} out of order", event.actor_id);
            }
        }
        assert_eq!(read.len(), total, "after cursor {cursor}: every event once");
        quiet(&mut rest, "cursor, the rest").await;
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
    let mut got = HashSet::new();
    for _ in 0..3 {
        let event = next(&mut sub, "selection").await.event.expect("clean");
        got.insert(event.actor_id.as_str().to_string());
    }
    assert_eq!(
        got,
        HashSet::from([format!("{t1}-0"), format!("{t3}-2"), format!("{t1}-4")]),
        "only the selected types"
    );
    quiet(&mut sub, "selection").await;
}

/// Readers of disjoint ranges of partitions together read every event
/// once, each only from its range; a range past the log's partitions reads
/// nothing.
pub async fn log_selects_partitions<S: EventStore + EventLog>(store: &S) {
    const ACTORS: usize = 24;
    let ty = fresh_type("logparts");
    let all = LogSelection::actor_types([ty.as_str()]);
    // From the head: only this case's appends are read.
    let head = store.head().await.expect("head");
    let mut everything = subscribe(store, all.clone(), head.clone()).await;
    for n in 0..ACTORS {
        store
            .append(ev(&actor_of(&ty, n), 1))
            .await
            .expect("append");
    }
    let mut partition_of = HashMap::new();
    for _ in 0..ACTORS {
        let e = next(&mut everything, "all partitions").await;
        partition_of.insert(e.event.expect("clean").actor_id, e.position.partition);
    }
    let top = partition_of.values().copied().max().unwrap_or(0) + 1;
    let split = top.div_ceil(2);
    let mut got = HashSet::new();
    for range in [0..split, split..top] {
        let expected = partition_of.values().filter(|p| range.contains(p)).count();
        let mut sub = subscribe(
            store,
            all.clone().in_partitions(range.clone()),
            head.clone(),
        )
        .await;
        for _ in 0..expected {
            let e = next(&mut sub, "a range of partitions").await;
            assert!(
                range.contains(&e.position.partition),
                "range {range:?}: an entry of partition {}",
                e.position.partition
            );
            assert!(got.insert(e.event.expect("clean").actor_id), "read twice");
        }
        quiet(&mut sub, "a range of partitions").await;
    }
    assert_eq!(
        got.len(),
        ACTORS,
        "the ranges together read every event once"
    );
    let mut beyond = subscribe(store, all.in_partitions(1024..2048), head).await;
    quiet(&mut beyond, "a range past the partitions").await;
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
    let last = last.expect("two entries");
    let head = store.head().await.expect("head");
    assert!(
        head.covers(&last),
        "head {head} is at or after the last delivered {last}"
    );
    // A subscription after the head reads only what comes later.
    let mut after_head = subscribe(store, LogSelection::actor_types([ty.as_str()]), head).await;
    store
        .append_batch(&a, ExpectedVersion::Exact(2), evs(&a, 3, 3))
        .await
        .expect("append after the head");
    let e = next(&mut after_head, "after the head").await;
    assert_eq!(e.event.expect("clean").version, 3);
}

/// A cursor that does not fit the log (another layout epoch, a partition
/// the log does not have) is refused as invalid input, never read as
/// something else.
pub async fn log_refuses_a_foreign_cursor<S: EventStore + EventLog>(store: &S) {
    for bad in [
        LogCursor::from(LogPosition::new(1, 0).with_epoch(999)),
        LogCursor::from(LogPosition::in_partition(u16::MAX, 1, 0)),
    ] {
        match store.subscribe(LogSelection::all(), bad.clone()).await {
            Err(Error::InvalidInput { .. }) => {}
            Err(e) => panic!("cursor {bad}: expected invalid input, got {e}"),
            Ok(_) => panic!("cursor {bad} was accepted"),
        }
    }
}
