//! Cases: concurrent writers on one actor.
//!
//! The writers are futures joined on the case's task, so they interleave at
//! the store's await points (for a networked store, the requests really race
//! at the server). A store that completes without awaiting, like the memory
//! store, sees them one after another: it needs its own test with spawned
//! tasks on several threads (`aether-store-memory/tests/memory.rs` has one).

use aether_core::{Error, Event, EventStore, ExpectedVersion, json};
use futures::future::join_all;

use super::support::{actor, evs, latest, read_all, versions};

/// 20 writers racing to append the same next version: exactly one wins, the
/// 19 others get a conflict carrying the winner's version, and the stored
/// event is the winner's.
pub async fn racing_appends_have_one_winner<S: EventStore>(store: &S) {
    const WRITERS: u64 = 20;
    let a = actor("race");
    store
        .append_batch(&a, ExpectedVersion::NoStream, evs(&a, 1, 3))
        .await
        .expect("seed batch 1..=3");
    let results = join_all((0..WRITERS).map(|w| {
        let event = Event::new(a.clone(), 4, "Raced", json!({ "writer": w }));
        async move {
            tokio::task::yield_now().await;
            (w, store.append(event).await)
        }
    }))
    .await;
    let mut winners = Vec::new();
    for (w, result) in results {
        match result {
            Ok(v) => {
                assert_eq!(v, 4, "the winner's new latest version");
                winners.push(w);
            }
            Err(Error::VersionConflict(c)) => {
                assert_eq!(c.actor_id, a, "writer {w}: conflict names the actor");
                assert_eq!(c.attempted, 4, "writer {w}: attempted version");
                assert_eq!(c.current, 4, "writer {w}: current version is the winner's");
            }
            Err(e) => panic!("writer {w}: expected success or a conflict, got {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner, got {winners:?}");
    let stored = read_all(store, &a).await;
    assert_eq!(versions(&stored), [1, 2, 3, 4]);
    assert_eq!(
        stored[3].data,
        json!({ "writer": winners[0] }),
        "the stored event is the winner's"
    );
}

/// 10 writers racing whole batches with the same `ExpectedVersion::Exact`:
/// exactly one batch is stored, whole; the others store nothing.
pub async fn racing_batches_have_one_winner<S: EventStore>(store: &S) {
    const WRITERS: u64 = 10;
    let a = actor("race-batch");
    store
        .append(Event::new(a.clone(), 1, "Seed", json!(null)))
        .await
        .expect("seed");
    let results = join_all((0..WRITERS).map(|w| {
        let batch: Vec<Event> = (2..=4)
            .map(|v| Event::new(a.clone(), v, "Raced", json!({ "writer": w })))
            .collect();
        let a = &a;
        async move {
            tokio::task::yield_now().await;
            (
                w,
                store
                    .append_batch(a, ExpectedVersion::Exact(1), batch)
                    .await,
            )
        }
    }))
    .await;
    let mut winners = Vec::new();
    for (w, result) in results {
        match result {
            Ok(v) => {
                assert_eq!(v, 4, "the winning batch's new latest version");
                winners.push(w);
            }
            Err(Error::VersionConflict(c)) => {
                assert_eq!(
                    (c.attempted, c.current),
                    (2, 4),
                    "writer {w}: conflict details"
                );
            }
            Err(e) => panic!("writer {w}: expected success or a conflict, got {e:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one winning batch, got {winners:?}"
    );
    let stored = read_all(store, &a).await;
    assert_eq!(versions(&stored), [1, 2, 3, 4]);
    for e in &stored[1..] {
        assert_eq!(
            e.data,
            json!({ "writer": winners[0] }),
            "the batch is the winner's, whole"
        );
    }
}

/// 10 writers, each appending 5 events and retrying on conflict from the
/// version the conflict reports: all 50 events land, versions 1..=50 without
/// gaps, each writer's events in its own order.
pub async fn retrying_writers_leave_gapless_history<S: EventStore>(store: &S) {
    const WRITERS: u64 = 10;
    const EACH: u64 = 5;
    let a = actor("retry");
    let conflicts = join_all((0..WRITERS).map(|w| {
        let a = &a;
        async move {
            let mut conflicts = 0u64;
            let mut next = store.latest_version(a).await.expect("latest_version") + 1;
            let mut written = 0;
            while written < EACH {
                tokio::task::yield_now().await;
                let event = Event::new(a.clone(), next, "Written", json!({ "w": w, "n": written }));
                match store.append(event).await {
                    Ok(v) => {
                        assert_eq!(v, next, "writer {w}: new latest version");
                        written += 1;
                        next += 1;
                    }
                    Err(Error::VersionConflict(c)) => {
                        assert!(
                            c.current >= next,
                            "writer {w}: conflict at {next} reports current {}",
                            c.current
                        );
                        conflicts += 1;
                        assert!(
                            conflicts < 10_000,
                            "writer {w}: no progress after 10000 conflicts"
                        );
                        next = c.current + 1;
                    }
                    Err(e) => panic!("writer {w}: unexpected error {e:?}"),
                }
            }
            conflicts
        }
    }))
    .await;
    let stored = read_all(store, &a).await;
    let total = WRITERS * EACH;
    assert_eq!(
        versions(&stored),
        (1..=total).collect::<Vec<_>>(),
        "gapless history"
    );
    assert_eq!(latest(store, &a).await, total);
    for w in 0..WRITERS {
        let ns: Vec<u64> = stored
            .iter()
            .map(|e| e.data.value().expect("data is a JSON value"))
            .filter(|d| d["w"] == json!(w))
            .map(|d| d["n"].as_u64().expect("n is a number"))
            .collect();
        assert_eq!(
            ns,
            (0..EACH).collect::<Vec<_>>(),
            "writer {w}'s events, in order"
        );
    }
    // Not asserted (timing-dependent), but it must have been counted honestly.
    let _total_conflicts: u64 = conflicts.iter().sum();
}
