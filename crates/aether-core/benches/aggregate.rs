//! Aggregate benchmarks, each beside its raw baseline in the same run:
//!
//! - load of an aggregate with 100,000 events: full replay vs snapshot + 100
//!   event tail, both vs a bare `EventStore::read` of all events;
//! - `Repository::execute` vs a bare `append_batch` of one pre-built event
//!   (on fresh aggregates; and on one long-lived aggregate snapshotted every
//!   100 events, both reloading per command and with the state held in
//!   memory through `execute_loaded`).
//!
//! Run: `cargo bench -p aether-core --bench aggregate`. Plain harness: each
//! case runs several rounds and reports the median.

use std::time::{Duration, Instant};

use aether_core::aggregate::{Aggregate, Repository, SnapshotPolicy};
use aether_core::{ActorId, Event, EventStore, ExpectedVersion, Metadata, json};
use aether_store_memory::{InMemoryEventStore, InMemorySnapshotStore};
use aether_testkit::fixtures::Counter;

const HISTORY: u64 = 100_000;
const TAIL: u64 = 100;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn fmt(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} µs", ns / 1e3)
    }
}

/// Median time of `rounds` runs of `f`.
async fn time_rounds<F, Fut>(rounds: usize, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f().await; // warm-up
    let mut xs = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        f().await;
        xs.push(t.elapsed());
    }
    median(xs)
}

fn deposit_event(id: &ActorId, version: u64) -> Event {
    Event::new(id.clone(), version, "Added", json!({"by": 1}))
        .with_metadata(Metadata::new().with_correlation_id("bench"))
}

async fn bench_load() {
    let store = InMemoryEventStore::new();
    let snaps = InMemorySnapshotStore::new();
    let id = ActorId::new("account-big").unwrap();
    for start in (1..=HISTORY).step_by(1_000) {
        let batch: Vec<_> = (start..start + 1_000)
            .map(|v| deposit_event(&id, v))
            .collect();
        store
            .append_batch(&id, ExpectedVersion::Exact(start - 1), batch)
            .await
            .unwrap();
    }
    let plain = Repository::<Counter, _>::new(store.clone());
    let snapshotted = Repository::<Counter, _>::new(store.clone()).with_snapshots(snaps.clone());
    // Snapshot at HISTORY - TAIL, as a policy of every 100 events leaves it.
    let at = HISTORY - TAIL;
    let mut state = Counter::default();
    for e in store.read(&id, 1).await.unwrap().iter().take(at as usize) {
        state.apply(&snapshotted.decode(e.clone()).unwrap().event);
    }
    snapshotted.snapshot(&id, &state, at).await.unwrap();

    let raw = time_rounds(7, || async {
        assert_eq!(store.read(&id, 1).await.unwrap().len() as u64, HISTORY);
    })
    .await;
    let full = time_rounds(7, || async {
        let l = plain.load(&id).await.unwrap();
        assert_eq!((l.version, l.replayed), (HISTORY, HISTORY));
    })
    .await;
    let snap = time_rounds(51, || async {
        let l = snapshotted.load(&id).await.unwrap();
        assert_eq!((l.version, l.replayed), (HISTORY, TAIL));
    })
    .await;
    println!("load of an aggregate with {HISTORY} events (median):");
    println!("  bare store read of all events     {:>10}", fmt(raw));
    println!(
        "  load, full replay (no snapshot)   {:>10}   {:.2}x the bare read",
        fmt(full),
        full.as_secs_f64() / raw.as_secs_f64()
    );
    println!(
        "  load, snapshot + {TAIL}-event tail   {:>10}   {:.0}x faster than full replay",
        fmt(snap),
        full.as_secs_f64() / snap.as_secs_f64()
    );
}

async fn bench_execute() {
    const N: u64 = 20_000;
    // Fresh aggregates: execute = empty load + decide + append + apply.
    let store = InMemoryEventStore::new();
    let repo = Repository::<Counter, _>::new(store.clone());
    let ids: Vec<_> = (0..N)
        .map(|i| ActorId::new(format!("account-x{i}")).unwrap())
        .collect();
    let raw_store = InMemoryEventStore::new();
    let mut raw_times = Vec::new();
    let mut exec_times = Vec::new();
    for round in 0..5 {
        // Bare append of one pre-built event per fresh actor.
        let events: Vec<_> = ids
            .iter()
            .map(|id| {
                let id = ActorId::new(format!("{}-r{round}", id.as_str())).unwrap();
                deposit_event(&id, 1)
            })
            .collect();
        let t = Instant::now();
        for e in events {
            let id = e.actor_id.clone();
            raw_store
                .append_batch(&id, ExpectedVersion::NoStream, vec![e])
                .await
                .unwrap();
        }
        raw_times.push(t.elapsed() / N as u32);
        let fresh: Vec<_> = ids
            .iter()
            .map(|id| ActorId::new(format!("{}-r{round}", id.as_str())).unwrap())
            .collect();
        let t = Instant::now();
        for id in &fresh {
            repo.execute(id, 1).await.unwrap();
        }
        exec_times.push(t.elapsed() / N as u32);
    }
    let (raw, exec) = (median(raw_times), median(exec_times));
    println!("execute vs bare append, fresh aggregates (median per command, {N} per round):");
    println!("  bare append_batch of 1 event      {:>10}", fmt(raw));
    println!(
        "  Repository::execute               {:>10}   {:.2}x the bare append",
        fmt(exec),
        exec.as_secs_f64() / raw.as_secs_f64()
    );

    // One long-lived aggregate, snapshot every 100 events: execute = snapshot
    // + tail (< 100 events) load, decide, append, apply, sometimes snapshot.
    let store = InMemoryEventStore::new();
    let repo = Repository::<Counter, _>::new(store.clone())
        .with_snapshots(InMemorySnapshotStore::new())
        .with_snapshot_policy(SnapshotPolicy::EveryNEvents(100));
    let id = ActorId::new("account-long").unwrap();
    let raw_id = ActorId::new("account-long-raw").unwrap();
    const M: u64 = 5_000;
    let held_id = ActorId::new("account-held").unwrap();
    let mut held = repo.load(&held_id).await.unwrap();
    let mut raw_times = Vec::new();
    let mut exec_times = Vec::new();
    let mut held_times = Vec::new();
    let mut raw_version = 0;
    for _ in 0..5 {
        let events: Vec<_> = (raw_version + 1..=raw_version + M)
            .map(|v| deposit_event(&raw_id, v))
            .collect();
        let t = Instant::now();
        for e in events {
            store
                .append_batch(&raw_id, ExpectedVersion::Exact(raw_version), vec![e])
                .await
                .unwrap();
            raw_version += 1;
        }
        raw_times.push(t.elapsed() / M as u32);
        let t = Instant::now();
        for _ in 0..M {
            repo.execute(&id, 1).await.unwrap();
        }
        exec_times.push(t.elapsed() / M as u32);
        let t = Instant::now();
        for _ in 0..M {
            repo.execute_loaded(&held_id, &mut held, 1).await.unwrap();
        }
        held_times.push(t.elapsed() / M as u32);
    }
    let (raw, exec, kept) = (median(raw_times), median(exec_times), median(held_times));
    println!(
        "execute vs bare append, one long-lived aggregate, snapshot every 100 (median per command):"
    );
    println!("  bare append_batch of 1 event      {:>10}", fmt(raw));
    println!(
        "  Repository::execute (loads)       {:>10}   {:.2}x the bare append",
        fmt(exec),
        exec.as_secs_f64() / raw.as_secs_f64()
    );
    println!(
        "  Repository::execute_loaded        {:>10}   {:.2}x the bare append",
        fmt(kept),
        kept.as_secs_f64() / raw.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then a quick smoke run is enough.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if !std::env::args().any(|a| a == "--bench") {
        println!("aggregate benchmarks: run with `cargo bench -p aether-core --bench aggregate`");
        return;
    }
    rt.block_on(async {
        bench_load().await;
        bench_execute().await;
    });
}
