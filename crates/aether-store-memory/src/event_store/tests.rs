use std::sync::{Arc, Mutex, OnceLock};

use aether_core::{ActorId, Event, EventStore, EventStored, ExpectedVersion, json};
use futures::FutureExt;
use futures::executor::block_on;

use super::InMemoryEventStore;

fn actor(s: &str) -> ActorId {
    ActorId::new(s).unwrap()
}

fn ev(a: &ActorId, v: u64) -> Event {
    Event::new(a.clone(), v, "T", json!(v))
}

fn recording_store() -> (InMemoryEventStore, Arc<Mutex<Vec<EventStored>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let store =
        InMemoryEventStore::new().with_hook(move |n: EventStored| sink.lock().unwrap().push(n));
    (store, seen)
}

#[test]
fn hook_sees_each_stored_event_once_in_order_and_nothing_for_failures() {
    let (store, seen) = recording_store();
    let a = actor("a-1");
    block_on(async {
        store.append(ev(&a, 1)).await.unwrap();
        let batch = vec![ev(&a, 2), ev(&a, 3)];
        store
            .append_batch(&a, ExpectedVersion::Exact(1), batch)
            .await
            .unwrap();
        assert!(store.append(ev(&a, 2)).await.is_err());
        assert!(
            store
                .append_batch(&a, ExpectedVersion::NoStream, vec![ev(&a, 1)])
                .await
                .is_err()
        );
        assert!(
            store
                .append(Event::new(a.clone(), 9, "", json!(null)))
                .await
                .is_err()
        );
    });
    let seen = seen.lock().unwrap();
    let versions: Vec<u64> = seen.iter().map(|n| n.version).collect();
    assert_eq!(versions, [1, 2, 3]);
    assert!(seen.iter().all(|n| n.actor_id == a && n.event_type == "T"));
}

#[test]
fn hook_may_append_to_the_same_actor_without_deadlock() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let cell: Arc<OnceLock<InMemoryEventStore>> = Arc::new(OnceLock::new());
    let (sink, store_cell) = (seen.clone(), cell.clone());
    let store = InMemoryEventStore::new().with_hook(move |n: EventStored| {
        sink.lock().unwrap().push(n.version);
        let store = store_cell.get().unwrap();
        // Reads and, for the first event, a nested append from inside the hook
        // (the store's futures are ready at once, so a single poll runs them).
        let latest = store
            .latest_version(&n.actor_id)
            .now_or_never()
            .unwrap()
            .unwrap();
        assert!(latest >= n.version);
        if n.version == 1 {
            let nested = store.append(ev(&n.actor_id, 2)).now_or_never().unwrap();
            nested.unwrap();
            // Delivered after this call returns, not re-entrantly.
            assert_eq!(*sink.lock().unwrap(), [1]);
        }
    });
    cell.set(store.clone()).unwrap();
    let a = actor("nested");
    block_on(store.append(ev(&a, 1))).unwrap();
    assert_eq!(*seen.lock().unwrap(), [1, 2]);
    assert_eq!(block_on(store.latest_version(&a)).unwrap(), 2);
}

#[test]
fn a_panicking_hook_does_not_wedge_later_deliveries() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let store = InMemoryEventStore::new().with_hook(move |n: EventStored| {
        if n.version == 1 {
            panic!("hook failure on purpose");
        }
        sink.lock().unwrap().push(n.version);
    });
    let a = actor("panicky");
    let s = store.clone();
    let b = a.clone();
    let result = std::thread::spawn(move || block_on(s.append(ev(&b, 1)))).join();
    assert!(result.is_err(), "the hook's panic reaches the appender");
    // The event itself was stored; later notifications still flow.
    assert_eq!(block_on(store.latest_version(&a)).unwrap(), 1);
    block_on(store.append(ev(&a, 2))).unwrap();
    assert_eq!(*seen.lock().unwrap(), [2]);
}

#[test]
fn rejected_batch_for_unknown_actor_creates_no_entry() {
    let store = InMemoryEventStore::new();
    let a = actor("ghost");
    let err = block_on(store.append_batch(&a, ExpectedVersion::Any, vec![])).unwrap_err();
    assert!(err.is_invalid_input());
    let err =
        block_on(store.append_batch(&a, ExpectedVersion::Exact(4), vec![ev(&a, 5)])).unwrap_err();
    let c = err.as_conflict().unwrap();
    assert_eq!((c.attempted, c.current), (5, 0));
    assert_eq!(store.actor_count(), 0);
}

#[test]
fn expectation_inconsistent_with_batch_is_invalid_input() {
    let store = InMemoryEventStore::new();
    let a = actor("x");
    for (expected, first) in [
        (ExpectedVersion::NoStream, 2),
        (ExpectedVersion::Exact(0), 3),
        (ExpectedVersion::Exact(u64::MAX), 1),
    ] {
        let err = block_on(store.append_batch(&a, expected, vec![ev(&a, first)])).unwrap_err();
        assert!(err.is_invalid_input(), "{expected:?}/{first}: {err}");
    }
}

#[test]
fn extreme_versions_do_not_overflow() {
    let store = InMemoryEventStore::new();
    let a = actor("max");
    for batch in [
        vec![ev(&a, u64::MAX), ev(&a, u64::MAX)],
        vec![ev(&a, u64::MAX - 1), ev(&a, u64::MAX)],
        vec![ev(&a, u64::MAX)],
    ] {
        let err = block_on(store.append_batch(&a, ExpectedVersion::Any, batch)).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
    }
    assert_eq!(block_on(store.append(ev(&a, u64::MAX))).unwrap(), u64::MAX);
    let err = block_on(store.append(ev(&a, u64::MAX))).unwrap_err();
    assert_eq!(err.as_conflict().unwrap().current, u64::MAX);
}

#[test]
fn debug_is_a_summary() {
    let store = InMemoryEventStore::new();
    let a = actor("d");
    block_on(store.append(ev(&a, 1))).unwrap();
    block_on(store.append(ev(&a, 2))).unwrap();
    assert_eq!(
        format!("{store:?}"),
        "InMemoryEventStore { actors: 1, events: 2, hook: false }"
    );
    let (hooked, _) = recording_store();
    assert!(format!("{hooked:?}").ends_with("hook: true }"));
}
