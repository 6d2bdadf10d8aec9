//! The repository under faults (real stores wrapped in the test kit's
//! `FaultyStore`): conflicts from a concurrent writer, the gap limit, lost
//! acknowledgements (no double apply), transient and permanent failures, the
//! circuit breaker, the deferred queue, stalled appends.

use std::time::Duration;

use aether_core::aggregate::{
    CircuitBreaker, CircuitBreakerConfig, CommandEnvelope, DeferredCommands, ExecuteError,
    Repository, RetryPolicy, SnapshotPolicy,
};
use aether_core::{ActorId, Event, EventStore, json};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether_testkit::FaultyStore;
use aether_testkit::fixtures::*;

fn account(n: u32) -> ActorId {
    ActorId::new(format!("account-{n}")).unwrap()
}

#[tokio::test]
async fn single_attempt_conflict_hands_the_command_back() {
    let store = InMemoryEventStore::new();
    let repo = Repository::<Account, _>::new(store.clone());
    let id = account(10);
    repo.execute(&id, open("ada")).await.unwrap();
    // A store that lets another writer in between the load and the append.
    let racing = racing(&store, 1);
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
    let racing = racing(&store, 3);
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
    let racing = racing(&store, 1);
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
    let lossy = FaultyStore::new(store.clone());
    lossy.lose_next_acks(1);
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
        let failing = FaultyStore::new(InMemoryEventStore::new());
        if transient {
            failing.fail_next_appends(u32::MAX);
        } else {
            failing.break_appends();
        }
        let repo =
            Repository::<Account, _>::new(failing).with_retry_policy(RetryPolicy::immediate(3));
        let err = repo.execute(&id, open("ada")).await.unwrap_err();
        let ExecuteError::Store(e) = &err else {
            panic!("expected a store error, got {err:?}");
        };
        assert_eq!(e.is_transient(), transient);
        assert_eq!(repo.store().appends(), expected_calls);
        assert_eq!(repo.store().inner().event_count(), 0);
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
    let racing = racing(&store, 2);
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
    let racing = racing(&store, 1);
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
    let racing = racing(&store, 1);
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
    let stalled = FaultyStore::new(store.clone());
    let _hung = stalled.stall_appends();
    let repo = Repository::<Account, _>::new(stalled);
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

#[tokio::test]
async fn execute_loaded_keeps_state_in_memory_and_catches_up_on_conflict() {
    let store = InMemoryEventStore::new();
    let snaps = InMemorySnapshotStore::new();
    let id = account(17);
    let racing = racing(&store, 0);
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
    interleave_deposits(repo.store(), 1);
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

/// A store where another writer deposits 1 before each of the next `n`
/// appends: real conflicts.
fn racing(store: &InMemoryEventStore, n: u32) -> FaultyStore<InMemoryEventStore> {
    let s = FaultyStore::new(store.clone());
    interleave_deposits(&s, n);
    s
}

/// Makes the next `n` appends to `store` meet a concurrent deposit of 1.
fn interleave_deposits(store: &FaultyStore<InMemoryEventStore>, n: u32) {
    if n > 0 {
        store.interleave_writes(n, |actor, version| {
            Event::new(actor.clone(), version, "Deposited", json!({"amount": 1}))
        });
    }
}
