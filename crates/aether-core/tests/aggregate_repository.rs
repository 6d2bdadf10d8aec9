//! The repository over the in-memory store: execute, load, metadata, errors,
//! snapshots (policy, use on load, schema versions), dedup after a failed
//! append, circuit breaker, deferred queue.

mod aggregate_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use aether_core::aggregate::{
    Aggregate, CircuitBreaker, CircuitBreakerConfig, CommandEnvelope, DeferredCommands,
    EventEnvelope, ExecuteError, Loaded, Repository, RetryPolicy, SnapshotPolicy,
};
use aether_core::{
    ActorId, Error, Event, EventStore, ExpectedVersion, Metadata, Replay, Snapshot, SnapshotStore,
    json,
};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aggregate_support::*;

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

#[tokio::test]
async fn single_attempt_conflict_hands_the_command_back() {
    let store = InMemoryEventStore::new();
    let repo = Repository::<Account, _>::new(store.clone());
    let id = account(10);
    repo.execute(&id, open("ada")).await.unwrap();
    // A store that lets another writer in between the load and the append.
    let racing = Racing {
        inner: store.clone(),
        extra_writes: AtomicU32::new(1),
    };
    let repo2 = Repository::<Account, _>::new(racing);
    let err = repo2
        .execute_once(
            &id,
            CommandEnvelope::new(deposit(5))
                .with_command_id(aether_core::CommandId::new("c-1").unwrap()),
        )
        .await
        .unwrap_err();
    let conflict = err.as_conflict().unwrap().clone();
    assert_eq!((conflict.attempted, conflict.current), (2, 2));
    assert!(err.is_retryable_later());
    let cmd = err.into_command().unwrap();
    assert_eq!(cmd.command_id.as_str(), "c-1");
    assert_eq!(cmd.command, deposit(5));
}

#[tokio::test]
async fn conflicts_are_retried_after_catching_up() {
    let store = InMemoryEventStore::new();
    let id = account(11);
    Repository::<Account, _>::new(store.clone())
        .execute(&id, open("ada"))
        .await
        .unwrap();
    let racing = Racing {
        inner: store.clone(),
        extra_writes: AtomicU32::new(3),
    };
    let repo = Repository::<Account, _>::new(racing).with_retry_policy(RetryPolicy::immediate(5));
    let c = repo.execute(&id, deposit(5)).await.unwrap();
    assert_eq!(c.attempts, 4);
    assert_eq!(c.version, 5);
    // Three racing deposits of 1 plus ours.
    assert_eq!(c.state.balance, 8);
    assert_eq!(repo.load(&id).await.unwrap().state, c.state);
}

#[tokio::test]
async fn gap_limit_gives_up_at_once() {
    let store = InMemoryEventStore::new();
    let id = account(12);
    Repository::<Account, _>::new(store.clone())
        .execute(&id, open("ada"))
        .await
        .unwrap();
    let racing = Racing {
        inner: store.clone(),
        extra_writes: AtomicU32::new(1),
    };
    let policy = RetryPolicy::immediate(5).with_max_version_gap(0);
    let repo = Repository::<Account, _>::new(racing).with_retry_policy(policy);
    let err = repo.execute(&id, deposit(5)).await.unwrap_err();
    assert!(matches!(
        err,
        ExecuteError::ConflictsExhausted { attempts: 1, .. }
    ));
}

#[tokio::test]
async fn append_that_failed_but_happened_is_not_applied_twice() {
    let store = InMemoryEventStore::new();
    let id = account(13);
    let repo = Repository::<Account, _>::new(store.clone());
    repo.execute(&id, open("ada")).await.unwrap();
    let lossy = LostAck {
        inner: store.clone(),
        fail_next: AtomicU32::new(1),
    };
    let repo = Repository::<Account, _>::new(lossy).with_retry_policy(RetryPolicy::immediate(3));
    let c = repo
        .execute(
            &id,
            CommandEnvelope::new(deposit(5))
                .with_command_id(aether_core::CommandId::new("once").unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(c.version, 2);
    assert_eq!(c.events.len(), 1);
    assert_eq!(c.state.balance, 5);
    let stored = store.read(&id, 1).await.unwrap();
    assert_eq!(
        stored
            .iter()
            .filter(|e| e.metadata.causation_id() == Some("once"))
            .count(),
        1
    );
}

#[tokio::test]
async fn store_failures_are_retried_only_when_transient() {
    let id = account(14);
    for (transient, expected_calls) in [(true, 3), (false, 1)] {
        let failing = Failing {
            inner: InMemoryEventStore::new(),
            transient,
            calls: AtomicU32::new(0),
        };
        let repo =
            Repository::<Account, _>::new(failing).with_retry_policy(RetryPolicy::immediate(3));
        let err = repo.execute(&id, open("ada")).await.unwrap_err();
        let ExecuteError::Store(e) = &err else {
            panic!("expected a store error, got {err:?}");
        };
        assert_eq!(e.is_transient(), transient);
        assert_eq!(repo.store().calls.load(Ordering::SeqCst), expected_calls);
        assert_eq!(repo.store().inner.event_count(), 0);
    }
}

#[tokio::test]
async fn circuit_breaker_opens_and_fails_fast_then_recovers() {
    let store = InMemoryEventStore::new();
    let id = account(15);
    Repository::<Account, _>::new(store.clone())
        .execute(&id, open("ada"))
        .await
        .unwrap();
    let breaker = CircuitBreaker::new(CircuitBreakerConfig {
        failure_threshold: 2,
        cool_down: Duration::from_millis(50),
    });
    let policy = RetryPolicy::no_retry().with_circuit_breaker(breaker.clone());
    let racing = Racing {
        inner: store.clone(),
        extra_writes: AtomicU32::new(2),
    };
    let repo = Repository::<Account, _>::new(racing).with_retry_policy(policy);
    for _ in 0..2 {
        let e = repo.execute(&id, deposit(1)).await.unwrap_err();
        assert!(matches!(e, ExecuteError::ConflictsExhausted { .. }));
    }
    let e = repo.execute(&id, deposit(1)).await.unwrap_err();
    let ExecuteError::CircuitOpen { retry_after, .. } = &e else {
        panic!("expected an open circuit, got {e:?}");
    };
    assert!(*retry_after <= Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(60)).await;
    // The trial succeeds (no more racing writes) and closes the breaker.
    repo.execute(&id, deposit(1)).await.unwrap();
    repo.execute(&id, deposit(1)).await.unwrap();
}

/// Regression: `execute_once` used a fresh policy without the repository's
/// breaker, so it neither respected an open circuit nor reported to it.
#[tokio::test]
async fn execute_once_respects_the_repository_breaker() {
    let store = InMemoryEventStore::new();
    let id = account(19);
    Repository::<Account, _>::new(store.clone())
        .execute(&id, open("ada"))
        .await
        .unwrap();
    let breaker = CircuitBreaker::new(CircuitBreakerConfig {
        failure_threshold: 1,
        cool_down: Duration::from_secs(60),
    });
    let racing = Racing {
        inner: store.clone(),
        extra_writes: AtomicU32::new(1),
    };
    let repo = Repository::<Account, _>::new(racing)
        .with_retry_policy(RetryPolicy::immediate(3).with_circuit_breaker(breaker.clone()));
    let e = repo.execute_once(&id, deposit(1)).await.unwrap_err();
    assert!(matches!(
        e,
        ExecuteError::ConflictsExhausted { attempts: 1, .. }
    ));
    let e = repo.execute_once(&id, deposit(1)).await.unwrap_err();
    assert!(
        matches!(e, ExecuteError::CircuitOpen { .. }),
        "the failure opened the shared breaker: {e:?}"
    );
}

#[tokio::test]
async fn deferred_commands_run_later() {
    let store = InMemoryEventStore::new();
    let id = account(16);
    Repository::<Account, _>::new(store.clone())
        .execute(&id, open("ada"))
        .await
        .unwrap();
    let racing = Racing {
        inner: store.clone(),
        extra_writes: AtomicU32::new(1),
    };
    let repo = Repository::<Account, _>::new(racing).with_retry_policy(RetryPolicy::no_retry());
    let queue = DeferredCommands::<Account>::new();
    let err = repo.execute(&id, deposit(7)).await.unwrap_err();
    assert!(queue.defer(&id, err).is_none());
    let rejected = repo.execute(&id, withdraw(1000)).await.unwrap_err();
    assert!(
        queue.defer(&id, rejected).is_some(),
        "rejections are not queued"
    );
    queue.push(id.clone(), withdraw(1000));
    assert_eq!(queue.len(), 2);
    let (report, errors) = queue.drain(&repo).await;
    assert_eq!(
        (report.committed, report.rejected, report.requeued),
        (1, 1, 0)
    );
    assert_eq!(errors.len(), 1);
    assert!(queue.is_empty());
    assert_eq!(repo.load(&id).await.unwrap().state.balance, 8);
}

/// Regression: `drain` used to take the whole queue up front, so dropping its
/// future part-way silently lost every command not yet executed.
#[tokio::test]
async fn dropping_a_drain_keeps_the_commands_not_yet_started() {
    let store = InMemoryEventStore::new();
    let id = account(18);
    Repository::<Account, _>::new(store.clone())
        .execute(&id, open("ada"))
        .await
        .unwrap();
    let repo = Repository::<Account, _>::new(Stalling {
        inner: store.clone(),
    });
    let queue = DeferredCommands::<Account>::new();
    for amount in 1..=3 {
        queue.push(id.clone(), deposit(amount));
    }
    let drained = tokio::time::timeout(Duration::from_millis(50), queue.drain(&repo)).await;
    assert!(drained.is_err(), "the first append stalls");
    assert_eq!(
        queue.len(),
        2,
        "only the command in flight went with the future"
    );
}

/// A real in-memory store that lets another writer commit a deposit of 1 just
/// before each of the next `extra_writes` appends, forcing real conflicts.
struct Racing {
    inner: InMemoryEventStore,
    extra_writes: AtomicU32,
}

impl EventStore for Racing {
    async fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> aether_core::Result<u64> {
        if self
            .extra_writes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            let v = self.inner.latest_version(actor_id).await?;
            self.inner
                .append_batch(
                    actor_id,
                    ExpectedVersion::Exact(v),
                    vec![Event::new(
                        actor_id.clone(),
                        v + 1,
                        "Deposited",
                        json!({"amount": 1}),
                    )],
                )
                .await?;
        }
        self.inner.append_batch(actor_id, expected, events).await
    }

    async fn read_with_errors(&self, actor_id: &ActorId, from: u64) -> aether_core::Result<Replay> {
        self.inner.read_with_errors(actor_id, from).await
    }

    async fn latest_version(&self, actor_id: &ActorId) -> aether_core::Result<u64> {
        self.inner.latest_version(actor_id).await
    }
}

/// A real in-memory store whose next `fail_next` appends are stored but
/// reported as `Unavailable` (a lost acknowledgement).
struct LostAck {
    inner: InMemoryEventStore,
    fail_next: AtomicU32,
}

impl EventStore for LostAck {
    async fn append_batch(
        &self,
        actor_id: &ActorId,
        expected: ExpectedVersion,
        events: Vec<Event>,
    ) -> aether_core::Result<u64> {
        let result = self.inner.append_batch(actor_id, expected, events).await;
        if self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Error::unavailable("ack lost"));
        }
        result
    }

    async fn read_with_errors(&self, actor_id: &ActorId, from: u64) -> aether_core::Result<Replay> {
        self.inner.read_with_errors(actor_id, from).await
    }

    async fn latest_version(&self, actor_id: &ActorId) -> aether_core::Result<u64> {
        self.inner.latest_version(actor_id).await
    }
}

/// A store whose appends never complete (a hung connection).
struct Stalling {
    inner: InMemoryEventStore,
}

impl EventStore for Stalling {
    async fn append_batch(
        &self,
        _actor_id: &ActorId,
        _expected: ExpectedVersion,
        _events: Vec<Event>,
    ) -> aether_core::Result<u64> {
        std::future::pending().await
    }

    async fn read_with_errors(&self, actor_id: &ActorId, from: u64) -> aether_core::Result<Replay> {
        self.inner.read_with_errors(actor_id, from).await
    }

    async fn latest_version(&self, actor_id: &ActorId) -> aether_core::Result<u64> {
        self.inner.latest_version(actor_id).await
    }
}

/// A store whose appends always fail without storing anything.
struct Failing {
    inner: InMemoryEventStore,
    transient: bool,
    calls: AtomicU32,
}

impl EventStore for Failing {
    async fn append_batch(
        &self,
        _actor_id: &ActorId,
        _expected: ExpectedVersion,
        _events: Vec<Event>,
    ) -> aether_core::Result<u64> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(if self.transient {
            Error::unavailable("down")
        } else {
            Error::invalid_input("refused")
        })
    }

    async fn read_with_errors(&self, actor_id: &ActorId, from: u64) -> aether_core::Result<Replay> {
        self.inner.read_with_errors(actor_id, from).await
    }

    async fn latest_version(&self, actor_id: &ActorId) -> aether_core::Result<u64> {
        self.inner.latest_version(actor_id).await
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
async fn execute_loaded_keeps_state_in_memory_and_catches_up_on_conflict() {
    let store = InMemoryEventStore::new();
    let snaps = InMemorySnapshotStore::new();
    let id = account(17);
    let racing = Racing {
        inner: store.clone(),
        extra_writes: AtomicU32::new(0),
    };
    let repo = Repository::<Account, _>::new(racing)
        .with_snapshots(snaps.clone())
        .with_snapshot_policy(SnapshotPolicy::EveryNEvents(3))
        .with_retry_policy(RetryPolicy::immediate(3));
    let mut loaded = repo.load(&id).await.unwrap();
    repo.execute_loaded(&id, &mut loaded, open("ada"))
        .await
        .unwrap();
    for _ in 0..3 {
        repo.execute_loaded(&id, &mut loaded, deposit(10))
            .await
            .unwrap();
    }
    assert_eq!((loaded.version, loaded.state.balance), (4, 30));
    assert_eq!(loaded.snapshot_version, 3);
    // Another writer gets in: the held state catches up instead of reloading.
    repo.store().extra_writes.store(1, Ordering::SeqCst);
    let done = repo
        .execute_loaded(&id, &mut loaded, withdraw(30))
        .await
        .unwrap();
    assert_eq!((done.version, done.attempts), (6, 2));
    assert_eq!(loaded.state.balance, 1);
    assert_eq!(loaded.snapshot_version, 6);
    let fresh = repo.load(&id).await.unwrap();
    assert_eq!(
        (fresh.version, fresh.state),
        (loaded.version, loaded.state.clone())
    );
    // A rejection leaves the held state as it was.
    let err = repo
        .execute_loaded(&id, &mut loaded, withdraw(2))
        .await
        .unwrap_err();
    assert!(err.is_rejected());
    assert_eq!(loaded.version, 6);
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
