//! Criterion benchmarks of the in-memory store next to a raw
//! `DashMap<String, Vec<Event>>` baseline in the same run. For the printed
//! ratios see `benches/ratio.rs`.
//!
//! Run: `cargo bench -p aether-store-memory --bench memory_store`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aether_core::{ActorId, Event, EventStore, json};
use aether_store_memory::InMemoryEventStore;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dashmap::DashMap;

fn event(actor: &ActorId, version: u64) -> Event {
    Event::new(
        actor.clone(),
        version,
        "Deposited",
        json!({ "amount": version }),
    )
}

fn raw_push(map: &DashMap<String, Vec<Event>>, e: Event) {
    match map.get_mut(e.actor_id.as_str()) {
        Some(mut log) => log.push(e),
        None => {
            map.insert(e.actor_id.as_str().to_owned(), vec![e]);
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

/// Times appending `iters` prebuilt events (from `make`) to a fresh store and
/// to a fresh raw map.
fn bench_appends(c: &mut Criterion, group: &str, make: impl Fn(u64) -> Vec<Event> + Copy) {
    let rt = runtime();
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(1));
    g.bench_function("ours", |b| {
        b.iter_custom(|iters| {
            let events = make(iters);
            let store = InMemoryEventStore::new();
            let start = Instant::now();
            rt.block_on(async {
                for e in events {
                    store.append(e).await.expect("append");
                }
            });
            let elapsed = start.elapsed();
            drop(black_box(store));
            elapsed
        })
    });
    g.bench_function("raw_dashmap", |b| {
        b.iter_custom(|iters| {
            let events = make(iters);
            let map: DashMap<String, Vec<Event>> = DashMap::new();
            let start = Instant::now();
            for e in events {
                raw_push(&map, e);
            }
            let elapsed = start.elapsed();
            drop(black_box(map));
            elapsed
        })
    });
    g.finish();
}

fn append_one_actor(c: &mut Criterion) {
    let actor = ActorId::new("account-1").expect("valid id");
    bench_appends(c, "append_one_actor", |n| {
        (1..=n).map(|v| event(&actor, v)).collect()
    });
}

fn append_many_actors(c: &mut Criterion) {
    let actors: Vec<ActorId> = (0..1_000)
        .map(|i| ActorId::new(format!("account-{i}")).expect("valid id"))
        .collect();
    let actors = &actors;
    bench_appends(c, "append_1000_actors", |n| {
        (0..n)
            .map(|i| event(&actors[(i % 1_000) as usize], i / 1_000 + 1))
            .collect()
    });
}

fn read_1000_events(c: &mut Criterion) {
    let rt = runtime();
    let actor = ActorId::new("reader-1").expect("valid id");
    let store = InMemoryEventStore::new();
    let map: DashMap<String, Vec<Event>> = DashMap::new();
    rt.block_on(async {
        for v in 1..=1_000 {
            store.append(event(&actor, v)).await.expect("append");
            raw_push(&map, event(&actor, v));
        }
    });
    let mut g = c.benchmark_group("read_1000_event_actor");
    g.throughput(Throughput::Elements(1_000));
    g.bench_function("ours", |b| {
        b.iter(|| rt.block_on(async { black_box(store.read(&actor, 1).await.expect("read")) }))
    });
    g.bench_function("raw_dashmap", |b| {
        b.iter(|| black_box(map.get(actor.as_str()).map(|log| log.clone())))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = append_one_actor, append_many_actors, read_1000_events
}
criterion_main!(benches);
