//! The one loader (`Loader`): the snapshot envelope both writers store, the
//! commands it reports for a dedupe window, upcasters on the tail, and
//! snapshots it must not use.

use aether_core::aggregate::{
    Aggregate, CommandEnvelope, Loader, RecentCommand, Repository, SNAPSHOT_FORMAT,
    SnapshotEnvelope, SnapshotPolicy, UpcasterChain,
};
use aether_core::{
    ActorId, CommandId, Event, EventStore, ExpectedVersion, Metadata, Snapshot, SnapshotStore, json,
};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether_testkit::fixtures::*;

fn cid(s: &str) -> CommandId {
    CommandId::new(s).unwrap()
}

fn account(n: u32) -> ActorId {
    ActorId::new(format!("account-{n}")).unwrap()
}

fn ranges(commands: &[RecentCommand]) -> Vec<(&str, u64, u64)> {
    commands
        .iter()
        .map(|c| (c.id.as_str(), c.first, c.last))
        .collect()
}

#[tokio::test]
async fn the_repository_writes_the_envelope_and_reads_it_back() {
    let store = InMemoryEventStore::new();
    let snaps = InMemorySnapshotStore::new();
    let repo = Repository::<Account, _>::new(store.clone())
        .with_snapshots(snaps.clone())
        .with_snapshot_policy(SnapshotPolicy::EveryNEvents(2));
    let id = account(1);
    repo.execute(&id, open("ada")).await.unwrap();
    repo.execute(&id, deposit(5)).await.unwrap();
    repo.execute(&id, deposit(7)).await.unwrap();
    let snap = snaps.latest_snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snap.version, 2);
    assert_eq!(
        snap.state,
        json!({
            "format": SNAPSHOT_FORMAT,
            "state": {"owner": "ada", "balance": 5, "transactions": 2},
            "recent": [],
        })
    );
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!(
        (
            loaded.state.balance,
            loaded.version,
            loaded.snapshot_version
        ),
        (12, 3, 2)
    );
}

#[tokio::test]
async fn commands_come_from_the_envelope_then_one_per_run_of_the_tail() {
    let store = InMemoryEventStore::new();
    let snaps = InMemorySnapshotStore::new();
    let id = account(2);
    let ev = |v: u64, cause: Option<&str>| {
        let data = if v == 1 {
            json!({"owner": "ada"})
        } else {
            json!({"amount": v})
        };
        let kind = if v == 1 { "Opened" } else { "Deposited" };
        let mut meta = Metadata::new();
        if let Some(c) = cause {
            meta.set_causation_id(c);
        }
        Event::new(id.clone(), v, kind, data).with_metadata(meta)
    };
    let history = vec![
        ev(1, Some("a")),
        ev(2, Some("b")),
        // The tail, after the snapshot at 2:
        ev(3, Some("c")),
        ev(4, Some("c")),
        ev(5, None),
        ev(6, Some("d")),
        ev(7, Some("")), // not a valid command id: skipped
        ev(8, Some("c")),
    ];
    store
        .append_batch(&id, ExpectedVersion::NoStream, history)
        .await
        .unwrap();
    let at_two = Account {
        owner: Some("ada".into()),
        balance: 2,
        transactions: 2,
    };
    let recent = [
        RecentCommand::new(cid("a"), 1, 1),
        RecentCommand::new(cid("b"), 2, 2),
    ];
    snaps
        .save_snapshot(SnapshotEnvelope::snapshot(&id, 2, &at_two, &recent).unwrap())
        .await
        .unwrap();

    let mut seen = Vec::new();
    let loaded = Loader::new(&store)
        .with_snapshots(Some(&snaps))
        .load_with_commands::<Account>(&id, |c| seen.push(c))
        .await
        .unwrap();
    assert_eq!(
        (loaded.version, loaded.snapshot_version, loaded.replayed),
        (8, 2, 6)
    );
    assert_eq!(loaded.state.balance, 2 + 3 + 4 + 5 + 6 + 7 + 8);
    assert_eq!(
        ranges(&seen),
        [
            ("a", 1, 1),
            ("b", 2, 2),
            ("c", 3, 4),
            ("d", 6, 6),
            ("c", 8, 8)
        ]
    );

    // Without snapshots: every command from the events.
    seen.clear();
    let full = Loader::new(&store)
        .load_with_commands::<Account>(&id, |c| seen.push(c))
        .await
        .unwrap();
    assert_eq!(full.state, loaded.state);
    assert_eq!(ranges(&seen)[..3], [("a", 1, 1), ("b", 2, 2), ("c", 3, 4)]);
}

#[tokio::test]
async fn the_tail_goes_through_the_upcasters() {
    let store = InMemoryEventStore::new();
    let id = account(3);
    store
        .append_batch(
            &id,
            ExpectedVersion::NoStream,
            vec![
                Event::new(id.clone(), 1, "Opened", json!({"owner": "ada"})),
                Event::new(id.clone(), 2, "MoneyIn", json!({"units": 4})),
            ],
        )
        .await
        .unwrap();
    assert!(Loader::new(&store).load::<Account>(&id).await.is_err());
    let upcasters = UpcasterChain::new().map_data("MoneyIn", Some("Deposited"), |d| {
        Ok(json!({"amount": d["units"]}))
    });
    let loaded = Loader::new(&store)
        .with_upcasters(&upcasters)
        .load::<Account>(&id)
        .await
        .unwrap();
    assert_eq!((loaded.version, loaded.state.balance), (2, 4));
}

#[tokio::test]
async fn an_envelope_of_a_later_format_is_ignored_not_misread() {
    let store = InMemoryEventStore::new();
    let snaps = InMemorySnapshotStore::new();
    let repo = Repository::<Account, _>::new(store.clone()).with_snapshots(snaps.clone());
    let id = account(4);
    repo.execute(&id, open("ada")).await.unwrap();
    repo.execute(&id, deposit(3)).await.unwrap();
    snaps
        .save_snapshot(
            Snapshot::new(
                id.clone(),
                2,
                json!({"format": "aether-runtime/2", "state": {"balance": 999}}),
            )
            .with_schema_version(Account::SNAPSHOT_SCHEMA_VERSION),
        )
        .await
        .unwrap();
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!(
        (
            loaded.snapshot_version,
            loaded.replayed,
            loaded.state.balance
        ),
        (0, 2, 3)
    );
}

#[tokio::test]
async fn catch_up_hands_over_each_folded_event() {
    let store = InMemoryEventStore::new();
    let repo = Repository::<Account, _>::new(store.clone());
    let id = account(5);
    repo.execute(&id, open("ada")).await.unwrap();
    let mut loaded = repo.load(&id).await.unwrap();
    assert_eq!((loaded.version, loaded.replayed), (1, 1));
    repo.execute(
        &id,
        CommandEnvelope::new(deposit(2)).with_command_id(cid("x")),
    )
    .await
    .unwrap();
    repo.execute(&id, deposit(3)).await.unwrap();
    let mut folded = Vec::new();
    repo.loader()
        .catch_up(&id, &mut loaded, |e| folded.push(e))
        .await
        .unwrap();
    assert_eq!(
        (loaded.version, loaded.replayed, loaded.state.balance),
        (3, 3, 5)
    );
    assert_eq!(folded.iter().map(|e| e.version).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(folded[0].metadata.causation_id(), Some("x"));
    assert_eq!(folded[1].event, AccountEvent::Deposited { amount: 3 });
}
