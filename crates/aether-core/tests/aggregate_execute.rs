//! The repository over the in-memory store: execute, load, metadata, domain
//! rejections, undecodable events, `execute_loaded` from a default state,
//! type-erased stores, the largest version.

use std::sync::Arc;

use aether_core::aggregate::{
    Aggregate, CommandEnvelope, DeferredCommands, EventEnvelope, ExecuteError, Loaded, Repository,
    RetryPolicy, SnapshotPolicy,
};
use aether_core::{ActorId, Error, Event, EventStore, Metadata, Snapshot, SnapshotStore, json};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether_testkit::fixtures::*;

fn account(n: u32) -> ActorId {
    ActorId::new(format!("account-{n}")).unwrap()
}

#[tokio::test]
async fn execute_appends_applies_and_returns_version_and_events() {
    let store = InMemoryEventStore::new();
    let repo = Repository::<Account, _>::new(store.clone());
    let id = account(1);
    let c = repo.execute(&id, open("ada")).await.unwrap();
    assert_eq!((c.version, c.attempts), (1, 1));
    assert_eq!(
        c.events[0].event,
        AccountEvent::Opened {
            owner: "ada".into()
        }
    );
    let c = repo.execute(&id, deposit(10)).await.unwrap();
    assert_eq!(c.version, 2);
    assert_eq!(c.state.balance, 10);
    let c = repo.execute(&id, withdraw(3)).await.unwrap();
    assert_eq!((c.version, c.state.balance), (3, 7));

    let stored = store.read(&id, 1).await.unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["Opened", "Deposited", "Withdrawn"]
    );
    assert_eq!(stored[1].data, json!({"amount": 10}));
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!(loaded.version, 3);
    assert_eq!(loaded.state.balance, 7);
    assert_eq!(loaded.replayed, 3);
}

#[tokio::test]
async fn domain_rejection_is_distinguished_and_appends_nothing() {
    let store = InMemoryEventStore::new();
    let repo = Repository::<Account, _>::new(store.clone());
    let id = account(2);
    repo.execute(&id, open("ada")).await.unwrap();
    repo.execute(&id, deposit(5)).await.unwrap();
    let err = repo.execute(&id, withdraw(6)).await.unwrap_err();
    assert!(err.is_rejected());
    assert_eq!(
        err.as_rejection(),
        Some(&AccountError::InsufficientFunds {
            balance: 5,
            requested: 6
        })
    );
    assert_eq!(
        err.to_string(),
        "command rejected: insufficient funds: balance 5, requested 6"
    );
    assert!(err.into_command().is_none());
    assert_eq!(store.latest_version(&id).await.unwrap(), 2);
}

#[tokio::test]
async fn command_metadata_flows_to_every_stored_event() {
    let store = InMemoryEventStore::new();
    let repo = Repository::<Account, _>::new(store.clone());
    let id = account(3);
    let cmd = CommandEnvelope::new(open("ada"))
        .with_command_id(aether_core::CommandId::new("cmd-open-1").unwrap())
        .with_metadata(
            Metadata::new()
                .with_correlation_id("req-42")
                .with_user_id("ada")
                .with_trace_id("trace-1"),
        );
    let committed = repo.execute(&id, cmd).await.unwrap();
    let stored = store.read(&id, 1).await.unwrap();
    assert_eq!(stored.len(), 1);
    let m = &stored[0].metadata;
    assert_eq!(m.correlation_id(), Some("req-42"));
    assert_eq!(m.causation_id(), Some("cmd-open-1"));
    assert_eq!(m.user_id(), Some("ada"));
    assert_eq!(m.trace_id(), Some("trace-1"));
    // The returned typed events are exactly what was stored.
    assert_eq!(committed.events[0].to_event().unwrap(), stored[0]);
    assert_eq!(
        EventEnvelope::<AccountEvent>::from_event(&stored[0]).unwrap(),
        committed.events[0]
    );
}

#[tokio::test]
async fn a_command_without_events_appends_nothing() {
    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    struct Idle;
    impl Aggregate for Idle {
        const TYPE: &'static str = "idle";
        type Command = ();
        type Event = AccountEvent;
        type Error = AccountError;
        fn handle(&self, _: &()) -> Result<Vec<AccountEvent>, AccountError> {
            Ok(vec![])
        }
        fn apply(&mut self, _: &AccountEvent) {}
    }
    let store = InMemoryEventStore::new();
    let repo = Repository::<Idle, _>::new(store.clone());
    let c = repo.execute(&account(4), ()).await.unwrap();
    assert_eq!((c.version, c.events.len()), (0, 0));
    assert_eq!(store.event_count(), 0);
}

#[tokio::test]
async fn undecodable_stored_event_is_a_store_error_naming_it() {
    let store = InMemoryEventStore::new();
    let id = account(5);
    store
        .append(Event::new(id.clone(), 1, "Frozen", json!({})))
        .await
        .unwrap();
    let repo = Repository::<Account, _>::new(store);
    let err = repo.execute(&id, deposit(1)).await.unwrap_err();
    match err {
        ExecuteError::Store(e) => assert!(e.to_string().contains("Frozen"), "{e}"),
        other => panic!("expected a store error, got {other:?}"),
    }
}

#[test]
fn repository_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Repository<Account, InMemoryEventStore, InMemorySnapshotStore>>();
    check::<Repository<Account, Arc<InMemoryEventStore>>>();
    check::<DeferredCommands<Account>>();
    check::<ExecuteError<AccountError, AccountCommand>>();
}

#[tokio::test]
async fn default_loaded_is_what_loading_a_new_actor_gives() {
    let repo = Repository::<Account, _>::new(InMemoryEventStore::new());
    let id = account(20);
    assert_eq!(repo.load(&id).await.unwrap(), Loaded::default());
    let mut loaded = Loaded::default();
    repo.execute_loaded(&id, &mut loaded, open("ada"))
        .await
        .unwrap();
    assert_eq!(repo.load(&id).await.unwrap().state, loaded.state);
}

/// The futures of `load`, `execute` and `execute_loaded` are `Send` for any
/// store, so generic code (an actor runtime) can spawn them.
#[allow(dead_code)]
fn futures_are_send_for_any_store<A, S, SS>(
    repo: &Repository<A, S, SS>,
    id: &ActorId,
    loaded: &mut aether_core::aggregate::Loaded<A>,
    make: impl Fn() -> A::Command,
) where
    A: Aggregate,
    S: EventStore,
    SS: SnapshotStore,
{
    fn is_send<T: Send>(_: T) {}
    is_send(repo.load(id));
    is_send(repo.execute(id, make()));
    is_send(repo.execute_with(id, make(), &RetryPolicy::default()));
    is_send(repo.execute_loaded(id, loaded, make()));
}

#[tokio::test]
async fn works_over_type_erased_stores() {
    use aether_core::{DynEventStore, DynSnapshotStore};
    let events: Arc<dyn DynEventStore> = Arc::new(InMemoryEventStore::new());
    let snaps: Arc<dyn DynSnapshotStore> = Arc::new(InMemorySnapshotStore::new());
    let repo = Repository::<Account, _>::new(events)
        .with_snapshots(snaps)
        .with_snapshot_policy(SnapshotPolicy::EveryNEvents(2));
    let id = account(18);
    // Not spawned: `tokio::spawn` of generic code over `Arc<dyn DynEventStore>`
    // needs core's impl to cover `dyn DynEventStore + '_` (reported).
    repo.execute(&id, open("ada")).await.unwrap();
    repo.execute(&id, deposit(4)).await.unwrap();
    let done = repo.execute(&id, deposit(5)).await.unwrap();
    assert_eq!(done.state.balance, 9);
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!((loaded.snapshot_version, loaded.replayed), (2, 1));
}

/// Regression: a history at `u64::MAX` (here a snapshot written there) used to
/// overflow `version + 1` when catching up and stamping new events.
#[tokio::test]
async fn a_history_at_the_largest_version_fails_cleanly_instead_of_overflowing() {
    let snaps = InMemorySnapshotStore::new();
    let repo =
        Repository::<Account, _>::new(InMemoryEventStore::new()).with_snapshots(snaps.clone());
    let id = account(90);
    snaps
        .save_snapshot(
            Snapshot::new(
                id.clone(),
                u64::MAX,
                json!({"owner": "ada", "balance": 5, "transactions": 1}),
            )
            .with_schema_version(Account::SNAPSHOT_SCHEMA_VERSION),
        )
        .await
        .unwrap();
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!((loaded.version, loaded.state.balance), (u64::MAX, 5));
    match repo.execute(&id, deposit(1)).await {
        Err(ExecuteError::Store(Error::InvalidInput { .. })) => {}
        other => panic!("expected an invalid-input store error, got {other:?}"),
    }
}
