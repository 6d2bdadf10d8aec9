//! Concurrent `execute` on one aggregate from many tasks: with retries every
//! command converges, and none is lost or applied twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aether_core::aggregate::{CommandEnvelope, ExecuteError, Repository, RetryPolicy};
use aether_core::{ActorId, EventStore};
use aether_store_memory::InMemoryEventStore;
use aether_testkit::fixtures::*;

const TASKS: u64 = 16;
const PER_TASK: u64 = 25;

async fn hammer(policy: RetryPolicy) -> (InMemoryEventStore, ActorId, Vec<(String, u64)>, usize) {
    let store = InMemoryEventStore::new();
    let repo = Arc::new(Repository::<Account, _>::new(store.clone()).with_retry_policy(policy));
    let id = ActorId::new("account-hot").unwrap();
    repo.execute(&id, open("ada")).await.unwrap();

    let mut handles = Vec::new();
    for t in 0..TASKS {
        let repo = repo.clone();
        let id = id.clone();
        handles.push(tokio::spawn(async move {
            let mut ok = Vec::new();
            let mut exhausted = 0;
            for i in 0..PER_TASK {
                let amount = t * 1_000 + i + 1;
                let cmd_id = format!("t{t}-c{i}");
                let cmd = CommandEnvelope::new(deposit(amount))
                    .with_command_id(aether_core::CommandId::new(&cmd_id).unwrap());
                match repo.execute(&id, cmd).await {
                    Ok(c) => {
                        assert_eq!(c.events.len(), 1);
                        ok.push((cmd_id, amount));
                    }
                    Err(ExecuteError::ConflictsExhausted { .. }) => exhausted += 1,
                    Err(e) => panic!("unexpected error: {e}"),
                }
            }
            (ok, exhausted)
        }));
    }
    let mut ok = Vec::new();
    let mut exhausted = 0;
    for h in handles {
        let (o, e) = h.await.unwrap();
        ok.extend(o);
        exhausted += e;
    }
    (store, id, ok, exhausted)
}

/// Checks that every successful command's event is stored exactly once, with
/// its amount, and that nothing else was stored.
async fn assert_exactly_once(store: &InMemoryEventStore, id: &ActorId, ok: &[(String, u64)]) {
    let stored = store.read(id, 2).await.unwrap();
    let mut by_command: HashMap<&str, Vec<u64>> = HashMap::new();
    for e in &stored {
        let cause = e.metadata.causation_id().unwrap();
        by_command
            .entry(cause)
            .or_default()
            .push(e.data.value().unwrap()["amount"].as_u64().unwrap());
    }
    for (cmd, amount) in ok {
        assert_eq!(
            by_command.get(cmd.as_str()),
            Some(&vec![*amount]),
            "command {cmd} must be stored exactly once"
        );
    }
    assert_eq!(
        stored.len(),
        ok.len(),
        "only successful commands are stored"
    );
    // Versions are gap-free.
    for (i, e) in stored.iter().enumerate() {
        assert_eq!(e.version, i as u64 + 2);
    }
    let repo = Repository::<Account, _>::new(store.clone());
    let loaded = repo.load(id).await.unwrap();
    assert_eq!(loaded.state.balance, ok.iter().map(|(_, a)| a).sum::<u64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_execute_converges_with_retries_and_loses_nothing() {
    let policy =
        RetryPolicy::exponential(200, Duration::from_micros(200), Duration::from_millis(20));
    let (store, id, ok, exhausted) = hammer(policy).await;
    assert_eq!(exhausted, 0, "every command converges with enough retries");
    assert_eq!(ok.len() as u64, TASKS * PER_TASK);
    assert_exactly_once(&store, &id, &ok).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_few_retries_exhausted_commands_leave_no_trace() {
    // Immediate retries, two attempts: some commands give up; those must not
    // be stored at all, and the others exactly once.
    let (store, id, ok, exhausted) = hammer(RetryPolicy::immediate(2)).await;
    assert_eq!(ok.len() + exhausted, (TASKS * PER_TASK) as usize);
    assert_exactly_once(&store, &id, &ok).await;
}
