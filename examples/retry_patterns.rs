//! Retry patterns for commands that meet version conflicts.
//!
//! Runs without a server: `cargo run --example retry_patterns`.
//!
//! Many tasks increment one counter aggregate at once, on the in-memory store
//! behind a simulated 1 ms network round trip, so their appends really
//! conflict. Each section runs the same workload under another
//! [`RetryPolicy`] from the library and prints what it cost: simple retry,
//! exponential backoff with and without jitter, backoff adapted to the
//! version gap, conflict-detail-driven retry, queue-for-later, and a circuit
//! breaker. Every section checks that no command was lost or applied twice.

#[path = "shared/counter.rs"]
mod counter;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aether::core::aggregate::{CircuitBreaker, CircuitBreakerConfig, DeferredCommands, Jitter};
use aether::memory::InMemoryEventStore;
use aether::prelude::*;
use aether_testkit::FaultyStore;
use counter::{Add, AddZero, Counter};

const TASKS: u64 = 8;
const PER_TASK: u64 = 15;

/// The in-memory store with a simulated network round trip before each
/// append (the test kit's `FaultyStore` adds it), which widens the window
/// between load and append where other writers get in: the conflicts below
/// are real store conflicts.
type Remote = FaultyStore<InMemoryEventStore>;

type Repo = Repository<Counter, Remote>;
type CounterError = ExecuteError<AddZero, Add>;

/// What one workload did.
#[derive(Default)]
struct Tally {
    committed: AtomicU64,
    attempts: AtomicU64,
    gave_up: AtomicU64,
    circuit_open: AtomicU64,
}

fn new_repo(policy: RetryPolicy) -> Repo {
    let store = FaultyStore::new(InMemoryEventStore::new());
    store.delay_appends(Duration::from_millis(1));
    Repository::new(store).with_retry_policy(policy)
}

/// Runs TASKS concurrent tasks of PER_TASK increments; `on_error` sees every
/// command that did not commit.
async fn workload(
    repo: Arc<Repo>,
    on_error: impl Fn(&ActorId, CounterError) + Send + Sync + 'static,
) -> (Arc<Tally>, Duration) {
    let id = ActorId::new("counter-hot").unwrap();
    let tally = Arc::new(Tally::default());
    let on_error = Arc::new(on_error);
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (repo, tally, id, on_error) =
                (repo.clone(), tally.clone(), id.clone(), on_error.clone());
            tokio::spawn(async move {
                for _ in 0..PER_TASK {
                    match repo.execute(&id, Add(1)).await {
                        Ok(done) => {
                            tally.committed.fetch_add(1, Ordering::Relaxed);
                            tally
                                .attempts
                                .fetch_add(u64::from(done.attempts), Ordering::Relaxed);
                        }
                        Err(e) => {
                            match &e {
                                ExecuteError::ConflictsExhausted { attempts, .. } => {
                                    tally.gave_up.fetch_add(1, Ordering::Relaxed);
                                    tally
                                        .attempts
                                        .fetch_add(u64::from(*attempts), Ordering::Relaxed);
                                }
                                ExecuteError::CircuitOpen { .. } => {
                                    tally.circuit_open.fetch_add(1, Ordering::Relaxed);
                                }
                                _ => {}
                            }
                            on_error(&id, e);
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task panicked");
    }
    (tally, started.elapsed())
}

/// Prints a tally (attempts per command tried, time of the concurrent
/// phase) and checks the stored count equals the commits.
async fn report(name: &str, repo: &Repo, tally: &Tally, elapsed: Duration, extra: u64) {
    let id = ActorId::new("counter-hot").unwrap();
    let value = repo.load(&id).await.expect("load").state.value;
    let committed = tally.committed.load(Ordering::Relaxed) + extra;
    let attempts = tally.attempts.load(Ordering::Relaxed);
    println!(
        "{name:<38} {committed:>4} committed {:>4} gave up {:>4} refused  \
         {:>5.2} attempts/command  {:>6.1} ms",
        tally.gave_up.load(Ordering::Relaxed),
        tally.circuit_open.load(Ordering::Relaxed),
        attempts as f64
            / (tally.committed.load(Ordering::Relaxed) + tally.gave_up.load(Ordering::Relaxed))
                .max(1) as f64,
        elapsed.as_secs_f64() * 1000.0
    );
    assert_eq!(value, committed, "{name}: stored count must equal commits");
}

async fn run_policy(name: &str, policy: RetryPolicy) {
    let repo = Arc::new(new_repo(policy));
    let (tally, elapsed) = workload(repo.clone(), |_, _| {}).await;
    report(name, &repo, &tally, elapsed, 0).await;
}

/// Runs the example (panics if a command was lost or applied twice).
pub async fn run() {
    println!("{TASKS} tasks x {PER_TASK} increments on one counter, 1 ms simulated round trip\n");

    // 1. Simple retry: try again at once, a bounded number of times.
    run_policy("simple retry (immediate, 50)", RetryPolicy::immediate(50)).await;

    // 2. Exponential backoff, without and with jitter: jitter spreads the
    //    retries so writers stop colliding in lock-step.
    let exp = RetryPolicy::exponential(50, Duration::from_millis(1), Duration::from_millis(50));
    run_policy(
        "exponential, no jitter",
        exp.clone().with_jitter(Jitter::None),
    )
    .await;
    run_policy(
        "exponential, full jitter",
        exp.clone().with_jitter(Jitter::Full),
    )
    .await;
    run_policy("exponential, equal jitter", exp.with_jitter(Jitter::Equal)).await;

    // 3. Adaptive backoff: wait in proportion to how far the aggregate moved
    //    (the version gap the conflict reports).
    run_policy(
        "adaptive by version gap",
        RetryPolicy::version_gap(50, Duration::from_micros(700), Duration::from_millis(30)),
    )
    .await;

    // 4. Conflict-detail-driven: give up at once when the conflict shows the
    //    aggregate moved by more than 2 versions (too hot to win right now),
    //    and let the caller decide what to do with the handed-back command.
    run_policy(
        "give up when the gap is over 2",
        RetryPolicy::immediate(50).with_max_version_gap(2),
    )
    .await;

    // 5. Queue for later: one attempt only; commands that conflict are
    //    parked and executed afterwards, when the rush is over.
    let repo = Arc::new(new_repo(RetryPolicy::no_retry()));
    let queue = Arc::new(DeferredCommands::<Counter>::new());
    let q = queue.clone();
    let (tally, elapsed) = workload(repo.clone(), move |id, e| {
        if let Some(other) = q.defer(id, e) {
            panic!("unexpected error: {other}");
        }
    })
    .await;
    let parked = queue.len();
    let drain_repo = Repository::new(repo.store().clone()).with_retry_policy(
        RetryPolicy::exponential(50, Duration::from_millis(1), Duration::from_millis(20)),
    );
    let (drained, errors) = queue.drain(&drain_repo).await;
    assert!(errors.is_empty() && queue.is_empty());
    report(
        "queue for later (1 attempt + drain)",
        &repo,
        &tally,
        elapsed,
        drained.committed as u64,
    )
    .await;
    println!(
        "{:<38} {parked} commands parked, {} committed later",
        "", drained.committed
    );

    // 6. Circuit breaker: after 3 executions in a row that gave up, refuse
    //    commands for 5 ms (they fail fast, handing the command back, and are
    //    parked here), then let one trial through.
    let breaker = CircuitBreaker::new(CircuitBreakerConfig {
        failure_threshold: 3,
        cool_down: Duration::from_millis(5),
    });
    let repo = Arc::new(new_repo(
        RetryPolicy::immediate(2).with_circuit_breaker(breaker.clone()),
    ));
    let queue = Arc::new(DeferredCommands::<Counter>::new());
    let q = queue.clone();
    let (tally, elapsed) = workload(repo.clone(), move |id, e| {
        if let Some(other) = q.defer(id, e) {
            panic!("unexpected error: {other}");
        }
    })
    .await;
    let parked = queue.len();
    let drain_repo =
        Repository::new(repo.store().clone()).with_retry_policy(RetryPolicy::default());
    let (drained, errors) = queue.drain(&drain_repo).await;
    assert!(errors.is_empty() && queue.is_empty());
    report(
        "circuit breaker (2 attempts, 3 fails)",
        &repo,
        &tally,
        elapsed,
        drained.committed as u64,
    )
    .await;
    println!(
        "{:<38} {parked} commands parked, {} committed later; breaker now {:?}",
        "",
        drained.committed,
        breaker.state()
    );

    println!("\nevery section: stored count == commands committed (none lost, none doubled)");
}

#[tokio::main]
async fn main() {
    run().await;
}
