//! Cases of the `SnapshotStore` suite.

use aether_core::{ActorId, Snapshot, SnapshotStore, Timestamp, json};

use super::support::{actor, unique};

async fn latest<S: SnapshotStore>(store: &S, a: &ActorId) -> Option<Snapshot> {
    store
        .latest_snapshot(a)
        .await
        .unwrap_or_else(|e| panic!("latest_snapshot of {a:?} failed: {e}"))
}

async fn save<S: SnapshotStore>(store: &S, s: Snapshot) {
    let what = format!("save_snapshot of {:?} at version {}", s.actor_id, s.version);
    store
        .save_snapshot(s)
        .await
        .unwrap_or_else(|e| panic!("{what} failed: {e}"));
}

/// An actor without a snapshot gives `None`, not an error.
pub async fn snapshot_absent_is_none<S: SnapshotStore>(store: &S) {
    let a = actor("snap-none");
    assert_eq!(latest(store, &a).await, None);
}

/// A saved snapshot comes back exactly: state, version, schema version,
/// timestamp to the nanosecond and the actor (with its explicit type).
pub async fn snapshot_round_trips<S: SnapshotStore>(store: &S) {
    let a = ActorId::with_type("ledger", format!("snap-{}", unique())).expect("valid id");
    let mut s = Snapshot::new(
        a.clone(),
        42,
        json!({ "balance": 17, "owners": ["ada", "ünï 😀"], "big": u64::MAX }),
    )
    .with_schema_version(3);
    s.timestamp = Timestamp::from_unix_nanos(1_700_000_000_987_654_321).expect("valid");
    save(store, s.clone()).await;
    let got = latest(store, &a).await.expect("the saved snapshot");
    assert_eq!(got, s, "snapshot round trip");
    assert!(got.actor_id.has_explicit_type(), "explicit actor type kept");
}

/// Only the latest snapshot is kept: a higher version replaces the stored one.
pub async fn snapshot_keeps_only_latest<S: SnapshotStore>(store: &S) {
    let a = actor("snap-latest");
    for v in [5, 10, 20] {
        save(store, Snapshot::new(a.clone(), v, json!({ "at": v }))).await;
        let got = latest(store, &a).await.expect("a snapshot");
        assert_eq!(
            (got.version, got.state),
            (v, json!({ "at": v })),
            "after saving {v}"
        );
    }
}

/// Saving a snapshot with a lower version than the stored one succeeds but
/// leaves the stored one in place.
pub async fn snapshot_lower_version_does_not_replace<S: SnapshotStore>(store: &S) {
    let a = actor("snap-lower");
    save(store, Snapshot::new(a.clone(), 10, json!("ten"))).await;
    save(store, Snapshot::new(a.clone(), 4, json!("four"))).await;
    save(store, Snapshot::new(a.clone(), 9, json!("nine"))).await;
    let got = latest(store, &a).await.expect("a snapshot");
    assert_eq!(
        (got.version, got.state),
        (10, json!("ten")),
        "the version 10 snapshot stays"
    );
}

/// Snapshots of different actors, including look-alike ids, are independent.
pub async fn snapshots_of_actors_are_independent<S: SnapshotStore>(store: &S) {
    let u = unique();
    let ids: Vec<ActorId> = [
        format!("{u}a.b"),
        format!("{u}a_b"),
        format!("{u}a b"),
        format!("{u}a*"),
        format!("{u}a>"),
        format!("{u}ünï😀"),
    ]
    .iter()
    .map(|s| ActorId::new(s).expect("valid id"))
    .chain([ActorId::with_type("typed", format!("{u}a.b")).expect("valid id")])
    .collect();
    for (i, id) in ids.iter().enumerate() {
        save(
            store,
            Snapshot::new(id.clone(), i as u64 + 1, json!({ "owner": id.as_str() })),
        )
        .await;
    }
    for (i, id) in ids.iter().enumerate() {
        let got = latest(store, id)
            .await
            .unwrap_or_else(|| panic!("snapshot of {id:?}"));
        assert_eq!(&got.actor_id, id, "snapshot of {id:?} belongs to it");
        assert_eq!(got.version, i as u64 + 1, "snapshot of {id:?} is its own");
    }
    assert_eq!(
        latest(store, &actor("snap-other")).await,
        None,
        "an unrelated actor has none"
    );
}

/// A large state (256 KiB) is kept whole.
pub async fn snapshot_large_state_round_trips<S: SnapshotStore>(store: &S) {
    let a = actor("snap-large");
    let state = json!({ "blob": "s".repeat(256 * 1024), "tail": "😀" });
    save(store, Snapshot::new(a.clone(), 1, state.clone())).await;
    let got = latest(store, &a).await.expect("a snapshot");
    assert!(got.state == state, "the 256 KiB state came back different");
}
