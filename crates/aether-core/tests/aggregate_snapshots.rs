//! The repository's snapshots: taken by policy, used on load, ignored when of
//! another schema or undecodable.

use aether_core::aggregate::{Aggregate, Repository, SnapshotPolicy};
use aether_core::{ActorId, Snapshot, SnapshotStore, json};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether_testkit::fixtures::*;

fn account(n: u32) -> ActorId {
    ActorId::new(format!("account-{n}")).unwrap()
}

async fn run_deposits(
    repo: &Repository<Account, InMemoryEventStore, InMemorySnapshotStore>,
    id: &ActorId,
    n: u64,
) {
    repo.execute(id, open("ada")).await.unwrap();
    for i in 1..n {
        repo.execute(id, deposit(i)).await.unwrap();
    }
}

#[tokio::test]
async fn snapshots_are_taken_by_policy_and_used_on_load() {
    let store = InMemoryEventStore::new();
    let snaps = InMemorySnapshotStore::new();
    let repo = Repository::<Account, _>::new(store.clone())
        .with_snapshots(snaps.clone())
        .with_snapshot_policy(SnapshotPolicy::EveryNEvents(10));
    let id = account(6);
    run_deposits(&repo, &id, 25).await;
    let snap = snaps.latest_snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.version, 20);
    assert_eq!(snap.schema_version, Account::SNAPSHOT_SCHEMA_VERSION);

    let loaded = repo.load(&id).await.unwrap();
    assert_eq!(
        (loaded.version, loaded.snapshot_version, loaded.replayed),
        (25, 20, 5)
    );
    let full = Repository::<Account, _>::new(store)
        .load(&id)
        .await
        .unwrap();
    assert_eq!(full.replayed, 25);
    assert_eq!(loaded.state, full.state);
}

#[tokio::test]
async fn version_boundary_policy_snapshots_on_crossing() {
    let snaps = InMemorySnapshotStore::new();
    let repo = Repository::<Account, _>::new(InMemoryEventStore::new())
        .with_snapshots(snaps.clone())
        .with_snapshot_policy(SnapshotPolicy::VersionBoundary(8));
    let id = account(7);
    run_deposits(&repo, &id, 7).await;
    assert!(snaps.latest_snapshot(&id).await.unwrap().is_none());
    repo.execute(&id, deposit(1)).await.unwrap();
    assert_eq!(
        snaps.latest_snapshot(&id).await.unwrap().unwrap().version,
        8
    );
}

#[tokio::test]
async fn snapshot_of_another_schema_version_is_ignored() {
    let store = InMemoryEventStore::new();
    let snaps = InMemorySnapshotStore::new();
    let repo = Repository::<Account, _>::new(store.clone())
        .with_snapshots(snaps.clone())
        .with_snapshot_policy(SnapshotPolicy::Never);
    let id = account(8);
    run_deposits(&repo, &id, 5).await; // balance 1+2+3+4 = 10
    // A snapshot from an older state schema that would mis-read as balance 999.
    snaps
        .save_snapshot(
            Snapshot::new(
                id.clone(),
                5,
                json!({"owner": "ada", "balance": 999, "transactions": 5}),
            )
            .with_schema_version(Account::SNAPSHOT_SCHEMA_VERSION - 1),
        )
        .await
        .unwrap();
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!((loaded.snapshot_version, loaded.replayed), (0, 5));
    assert_eq!(loaded.state.balance, 10);
}

#[tokio::test]
async fn undecodable_snapshot_is_ignored() {
    let snaps = InMemorySnapshotStore::new();
    let repo = Repository::<Account, _>::new(InMemoryEventStore::new())
        .with_snapshots(snaps.clone())
        .with_snapshot_policy(SnapshotPolicy::Never);
    let id = account(9);
    run_deposits(&repo, &id, 3).await;
    snaps
        .save_snapshot(
            Snapshot::new(id.clone(), 3, json!("garbage"))
                .with_schema_version(Account::SNAPSHOT_SCHEMA_VERSION),
        )
        .await
        .unwrap();
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!((loaded.snapshot_version, loaded.state.balance), (0, 3));
}
