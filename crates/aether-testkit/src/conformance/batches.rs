//! Cases: batch appends under each `ExpectedVersion`, and batch atomicity.

use aether_core::{Error, Event, EventStore, ExpectedVersion, json};

use super::support::{actor, assert_conflict, assert_invalid, ev, evs, latest, read_all};

/// `ExpectedVersion::Any` accepts a batch starting after the latest version
/// (also with a gap) and refuses one overlapping the history.
pub async fn batch_expected_any<S: EventStore>(store: &S) {
    let a = actor("any");
    let v = store
        .append_batch(&a, ExpectedVersion::Any, evs(&a, 1, 3))
        .await
        .expect("Any on an empty actor");
    assert_eq!(v, 3, "append_batch returns the new latest version");
    let v = store
        .append_batch(&a, ExpectedVersion::Any, evs(&a, 6, 7))
        .await
        .expect("Any with a gap after the latest version");
    assert_eq!(v, 7);
    assert_conflict(
        store
            .append_batch(&a, ExpectedVersion::Any, evs(&a, 7, 9))
            .await,
        &a,
        7,
        7,
        "Any overlapping the latest version",
    );
    assert_eq!(
        latest(store, &a).await,
        7,
        "the refused batch stored nothing"
    );
}

/// `ExpectedVersion::NoStream` accepts a batch starting at 1 on an empty actor
/// and refuses any batch once the actor has events.
pub async fn batch_expected_no_stream<S: EventStore>(store: &S) {
    let a = actor("nostream");
    let batch = evs(&a, 1, 4);
    let v = store
        .append_batch(&a, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("NoStream on an empty actor");
    assert_eq!(v, 4);
    assert_eq!(read_all(store, &a).await, batch);
    assert_conflict(
        store
            .append_batch(&a, ExpectedVersion::NoStream, evs(&a, 1, 2))
            .await,
        &a,
        1,
        4,
        "NoStream on an actor with events",
    );
    assert_eq!(read_all(store, &a).await, batch, "history unchanged");
}

/// `ExpectedVersion::Exact(n)` accepts a batch starting at n + 1 when the
/// latest version is n (`Exact(0)` on an empty actor) and refuses it otherwise.
pub async fn batch_expected_exact<S: EventStore>(store: &S) {
    let a = actor("exact");
    store
        .append_batch(&a, ExpectedVersion::Exact(0), evs(&a, 1, 2))
        .await
        .expect("Exact(0) on an empty actor");
    let v = store
        .append_batch(&a, ExpectedVersion::Exact(2), evs(&a, 3, 5))
        .await
        .expect("Exact(2) at version 2");
    assert_eq!(v, 5);
    // Stale expectation: someone already moved the actor to 5.
    assert_conflict(
        store
            .append_batch(&a, ExpectedVersion::Exact(2), evs(&a, 3, 3))
            .await,
        &a,
        3,
        5,
        "Exact(2) at version 5",
    );
    // Expectation ahead of the actor.
    assert_conflict(
        store
            .append_batch(&a, ExpectedVersion::Exact(7), evs(&a, 8, 9))
            .await,
        &a,
        8,
        5,
        "Exact(7) at version 5",
    );
    assert_eq!(latest(store, &a).await, 5, "refused batches stored nothing");
    assert_eq!(read_all(store, &a).await.len(), 5);
}

/// A batch whose first version contradicts its expectation (`NoStream` not
/// starting at 1, `Exact(n)` not starting at n + 1) is refused, as invalid
/// input or as a conflict, and stores nothing.
pub async fn batch_contradicting_expectation_stores_nothing<S: EventStore>(store: &S) {
    let a = actor("contradict");
    store
        .append_batch(&a, ExpectedVersion::NoStream, evs(&a, 1, 3))
        .await
        .expect("batch 1..=3");
    let b = actor("contradict-empty");
    let cases = [
        (&a, ExpectedVersion::Exact(3), 6),
        (&a, ExpectedVersion::Exact(3), 3),
        (&b, ExpectedVersion::NoStream, 2),
        (&b, ExpectedVersion::Exact(0), 5),
    ];
    for (who, expected, first) in cases {
        let result = store
            .append_batch(who, expected, evs(who, first, first + 1))
            .await;
        match result {
            Err(Error::InvalidInput { .. }) | Err(Error::VersionConflict(_)) => {}
            other => panic!(
                "{expected:?} with a batch starting at {first}: expected InvalidInput or \
                 VersionConflict, got {other:?}"
            ),
        }
    }
    assert_eq!(
        latest(store, &a).await,
        3,
        "nothing stored for the actor with events"
    );
    assert_eq!(
        latest(store, &b).await,
        0,
        "nothing stored for the empty actor"
    );
}

/// A batch refused for a conflict stores none of its events, even those that
/// would not have clashed.
pub async fn failed_batch_stores_nothing<S: EventStore>(store: &S) {
    let a = actor("atomic");
    let before = evs(&a, 1, 3);
    store
        .append_batch(&a, ExpectedVersion::NoStream, before.clone())
        .await
        .expect("batch 1..=3");
    // 3..=8 overlaps only at 3; 4..=8 must not be stored either.
    assert_conflict(
        store
            .append_batch(&a, ExpectedVersion::Any, evs(&a, 3, 8))
            .await,
        &a,
        3,
        3,
        "overlapping batch",
    );
    assert_eq!(
        read_all(store, &a).await,
        before,
        "no part of the batch was stored"
    );
    assert_eq!(latest(store, &a).await, 3);
}

/// A batch holding another actor's event is invalid input and stores nothing
/// for either actor.
pub async fn batch_with_wrong_actor_is_invalid<S: EventStore>(store: &S) {
    let a = actor("mine");
    let b = actor("theirs");
    let batch = vec![ev(&a, 1), ev(&b, 2), ev(&a, 3)];
    assert_invalid(
        store.append_batch(&a, ExpectedVersion::Any, batch).await,
        "batch mixing actors",
    );
    // All events of another actor, passed under `a`.
    assert_invalid(
        store
            .append_batch(&a, ExpectedVersion::Any, evs(&b, 1, 2))
            .await,
        "batch of another actor's events",
    );
    assert_eq!(
        latest(store, &a).await,
        0,
        "nothing stored for the named actor"
    );
    assert_eq!(
        latest(store, &b).await,
        0,
        "nothing stored for the other actor"
    );
}

/// A batch with non-consecutive, repeated or descending versions is invalid
/// input and stores nothing.
pub async fn batch_with_bad_versions_is_invalid<S: EventStore>(store: &S) {
    let a = actor("gaps");
    let with_versions = |vs: &[u64]| vs.iter().map(|&v| ev(&a, v)).collect::<Vec<_>>();
    for vs in [&[1, 3][..], &[1, 1], &[2, 1], &[1, 2, 4, 5]] {
        assert_invalid(
            store
                .append_batch(&a, ExpectedVersion::Any, with_versions(vs))
                .await,
            &format!("batch with versions {vs:?}"),
        );
    }
    assert_eq!(latest(store, &a).await, 0, "nothing stored");
}

/// An empty batch is invalid input.
pub async fn empty_batch_is_invalid<S: EventStore>(store: &S) {
    let a = actor("empty");
    for expected in [
        ExpectedVersion::Any,
        ExpectedVersion::NoStream,
        ExpectedVersion::Exact(0),
    ] {
        assert_invalid(
            store.append_batch(&a, expected, Vec::new()).await,
            &format!("empty batch with {expected:?}"),
        );
    }
    assert_eq!(latest(store, &a).await, 0);
}

/// A large batch (200 events) is stored whole and read back in order.
pub async fn large_batch_is_stored_whole<S: EventStore>(store: &S) {
    let a = actor("big-batch");
    let batch: Vec<Event> = (1..=200)
        .map(|v| {
            Event::new(
                a.clone(),
                v,
                "Bulk",
                json!({ "i": v, "pad": "p".repeat(64) }),
            )
        })
        .collect();
    let v = store
        .append_batch(&a, ExpectedVersion::NoStream, batch.clone())
        .await
        .expect("a 200-event batch");
    assert_eq!(v, 200);
    assert_eq!(read_all(store, &a).await, batch);
}
