//! Memory-specific tests: exact concurrency across threads and the hook.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aether_core::{ActorId, Error, Event, EventStore, EventStored, ExpectedVersion, json};
use aether_store_memory::InMemoryEventStore;

fn ev(a: &ActorId, v: u64) -> Event {
    Event::new(a.clone(), v, "T", json!({ "v": v }))
}

/// 50 spawned tasks on 2 worker threads append the same next version: one
/// wins, 49 get a conflict with the winner's version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_racing_tasks_give_one_success_and_49_conflicts() {
    for round in 0..20 {
        let store = InMemoryEventStore::new();
        let a = ActorId::new(format!("race-{round}")).unwrap();
        store
            .append_batch(&a, ExpectedVersion::NoStream, vec![ev(&a, 1), ev(&a, 2)])
            .await
            .unwrap();
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let (store, a, barrier) = (store.clone(), a.clone(), barrier.clone());
                tokio::spawn(async move {
                    let event = Event::new(a, 3, "Raced", json!({ "task": i }));
                    barrier.wait().await;
                    store.append(event).await
                })
            })
            .collect();
        let (mut ok, mut conflicts) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                Ok(3) => ok += 1,
                Err(Error::VersionConflict(c)) => {
                    assert_eq!((c.attempted, c.current), (3, 3));
                    assert_eq!(c.actor_id, a);
                    conflicts += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((ok, conflicts), (1, 49), "round {round}");
        assert_eq!(store.read(&a, 0).await.unwrap().len(), 3);
    }
}

/// Concurrent batches and single appends from many threads: the hook sees
/// every stored event exactly once, in version order per actor, and nothing
/// for the refused ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hook_sees_every_stored_event_once_in_order_under_concurrency() {
    let seen: Arc<Mutex<Vec<EventStored>>> = Arc::default();
    let sink = seen.clone();
    let store =
        InMemoryEventStore::new().with_hook(move |n: EventStored| sink.lock().unwrap().push(n));
    let actors: Vec<ActorId> = (0..4)
        .map(|i| ActorId::new(format!("h-{i}")).unwrap())
        .collect();
    let tasks: Vec<_> = (0..16)
        .map(|w| {
            let (store, actors) = (store.clone(), actors.clone());
            tokio::spawn(async move {
                let mut stored = 0u64;
                for n in 0..50u64 {
                    let a = &actors[((w + n) % 4) as usize];
                    let next = store.latest_version(a).await.unwrap() + 1;
                    let result = if n % 3 == 0 {
                        store
                            .append_batch(
                                a,
                                ExpectedVersion::Exact(next - 1),
                                vec![ev(a, next), ev(a, next + 1)],
                            )
                            .await
                            .map(|_| 2)
                    } else {
                        store.append(ev(a, next)).await.map(|_| 1)
                    };
                    match result {
                        Ok(k) => stored += k,
                        Err(e) => assert!(e.is_conflict(), "{e}"),
                    }
                    tokio::task::yield_now().await;
                }
                stored
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(
        seen.len() as u64,
        total,
        "one notification per stored event"
    );
    assert_eq!(store.event_count() as u64, total);
    let mut last: HashMap<ActorId, u64> = HashMap::new();
    for n in seen.iter() {
        let prev = last.insert(n.actor_id.clone(), n.version).unwrap_or(0);
        assert_eq!(
            n.version,
            prev + 1,
            "{:?}: notifications in version order, no gaps",
            n.actor_id
        );
    }
    for a in &actors {
        let stored = store.read(a, 0).await.unwrap();
        assert_eq!(
            last.get(a).copied().unwrap_or(0),
            stored.last().map_or(0, |e| e.version)
        );
        let ids: Vec<_> = seen
            .iter()
            .filter(|n| &n.actor_id == a)
            .map(|n| n.event_id)
            .collect();
        assert_eq!(
            ids,
            stored.iter().map(|e| e.id).collect::<Vec<_>>(),
            "{a:?}: ids match"
        );
    }
}

/// A clone shares the events (and the hook) of the original.
#[tokio::test]
async fn clones_share_state() {
    let store = InMemoryEventStore::new();
    let clone = store.clone();
    let a = ActorId::new("shared").unwrap();
    clone.append(ev(&a, 1)).await.unwrap();
    assert_eq!(store.latest_version(&a).await.unwrap(), 1);
    assert_eq!((store.actor_count(), store.event_count()), (1, 1));
}
