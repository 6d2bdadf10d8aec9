//! Cases: appends are read back in order; reads from a version; latest version.

use aether_core::{EventStore, ExpectedVersion};

use super::support::{actor, ev, evs, latest, read_all, versions};

/// Events appended one by one are read back whole, in version order.
pub async fn appends_are_read_in_order<S: EventStore>(store: &S) {
    let a = actor("order");
    let appended = evs(&a, 1, 10);
    for e in appended.clone() {
        let v = e.version;
        let new_latest = store
            .append(e)
            .await
            .unwrap_or_else(|e| panic!("append of version {v} failed: {e}"));
        assert_eq!(
            new_latest, v,
            "append returns the actor's new latest version"
        );
    }
    assert_eq!(
        read_all(store, &a).await,
        appended,
        "read gives back exactly the appended events, in order"
    );
}

/// `read(actor, from)` gives the events with version ≥ `from`, also when
/// versions skip; `from` 0 and 1 both give everything.
pub async fn read_from_version<S: EventStore>(store: &S) {
    let a = actor("from");
    store
        .append_batch(&a, ExpectedVersion::NoStream, evs(&a, 1, 5))
        .await
        .expect("batch 1..=5 is stored");
    // Versions may skip with append(): 9 then 12.
    store
        .append(ev(&a, 9))
        .await
        .expect("append of version 9 (skip)");
    store
        .append(ev(&a, 12))
        .await
        .expect("append of version 12 (skip)");
    for (from, expected) in [
        (0, vec![1, 2, 3, 4, 5, 9, 12]),
        (1, vec![1, 2, 3, 4, 5, 9, 12]),
        (3, vec![3, 4, 5, 9, 12]),
        (5, vec![5, 9, 12]),
        (6, vec![9, 12]),
        (9, vec![9, 12]),
        (10, vec![12]),
        (12, vec![12]),
    ] {
        let got = store.read(&a, from).await.expect("read succeeds");
        assert_eq!(versions(&got), expected, "read from version {from}");
    }
}

/// Reading from beyond the latest version gives an empty list, not an error.
pub async fn read_beyond_latest_is_empty<S: EventStore>(store: &S) {
    let a = actor("beyond");
    store
        .append_batch(&a, ExpectedVersion::NoStream, evs(&a, 1, 3))
        .await
        .expect("batch is stored");
    for from in [4, 100, u64::MAX] {
        let got = store
            .read(&a, from)
            .await
            .expect("read beyond latest succeeds");
        assert!(
            got.is_empty(),
            "read from {from} beyond latest 3 gave {got:?}"
        );
    }
}

/// The latest version is 0 for an actor without events and follows appends,
/// including skipped versions.
pub async fn latest_version_tracks_appends<S: EventStore>(store: &S) {
    let a = actor("latest");
    assert_eq!(latest(store, &a).await, 0, "no events yet");
    store.append(ev(&a, 1)).await.expect("append 1");
    assert_eq!(latest(store, &a).await, 1);
    store
        .append_batch(&a, ExpectedVersion::Exact(1), evs(&a, 2, 4))
        .await
        .expect("batch 2..=4");
    assert_eq!(latest(store, &a).await, 4);
    store.append(ev(&a, 7)).await.expect("append 7 (skip)");
    assert_eq!(
        latest(store, &a).await,
        7,
        "a skipped version counts as latest"
    );
}

/// An actor that never had events reads as empty, with latest version 0 and
/// a clean replay; looking does not create it.
pub async fn nonexistent_actor_is_empty<S: EventStore>(store: &S) {
    let a = actor("ghost");
    assert_eq!(latest(store, &a).await, 0, "latest of a nonexistent actor");
    assert!(
        read_all(store, &a).await.is_empty(),
        "read of a nonexistent actor"
    );
    assert!(
        store.read(&a, 5).await.expect("read from 5").is_empty(),
        "read from 5 of a nonexistent actor"
    );
    let replay = store
        .read_with_errors(&a, 0)
        .await
        .expect("read_with_errors of a nonexistent actor");
    assert!(replay.events.is_empty() && replay.is_clean(), "{replay:?}");
    // Reading did not create it: the first append still starts a new stream.
    store
        .append_batch(&a, ExpectedVersion::NoStream, evs(&a, 1, 1))
        .await
        .expect("NoStream append after reads of a nonexistent actor");
}

/// On a store holding only well-formed events, `read_with_errors` reports no
/// malformed entries and agrees with `read`.
pub async fn read_with_errors_is_clean<S: EventStore>(store: &S) {
    let a = actor("clean");
    store
        .append_batch(&a, ExpectedVersion::NoStream, evs(&a, 1, 6))
        .await
        .expect("batch is stored");
    for from in [0, 3] {
        let replay = store
            .read_with_errors(&a, from)
            .await
            .expect("read_with_errors succeeds");
        assert!(
            replay.is_clean(),
            "malformed entries on a clean store: {:?}",
            replay.malformed
        );
        let plain = store.read(&a, from).await.expect("read succeeds");
        assert_eq!(
            replay.events, plain,
            "read_with_errors and read agree from {from}"
        );
    }
}
