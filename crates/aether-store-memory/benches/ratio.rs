//! Throughput of the in-memory store against a raw `DashMap<String, Vec<Event>>`
//! baseline, measured in the same run; prints "ours X ops/s, raw Y ops/s, ratio Z".
//!
//! Run: `cargo bench -p aether-store-memory --bench ratio`.
//! Each figure is the best of several rounds; events are built before the clock starts.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aether_core::{ActorId, Event, EventStore, json};
use aether_store_memory::InMemoryEventStore;
use dashmap::DashMap;

const ROUNDS: usize = 5;
const APPENDS: u64 = 500_000;
const ACTORS: u64 = 1_000;
const READ_EVENTS: u64 = 1_000;
const READS: u64 = 2_000;

fn event(actor: &ActorId, version: u64) -> Event {
    Event::new(
        actor.clone(),
        version,
        "Deposited",
        json!({ "amount": version }),
    )
}

/// Best (shortest) of `ROUNDS` timings of `run`, which gets fresh input from `setup`.
fn best<I, O>(mut setup: impl FnMut() -> I, mut run: impl FnMut(I) -> O) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let input = setup();
            let start = Instant::now();
            let out = run(input);
            let elapsed = start.elapsed();
            drop(black_box(out));
            elapsed
        })
        .min()
        .expect("at least one round")
}

fn report(name: &str, ops: u64, ours: Duration, raw: Duration) {
    let rate = |d: Duration| ops as f64 / d.as_secs_f64();
    println!(
        "{name:<34} ours {:>12.0} ops/s, raw {:>12.0} ops/s, ratio {:.2}",
        rate(ours),
        rate(raw),
        rate(ours) / rate(raw)
    );
}

fn raw_push(map: &DashMap<String, Vec<Event>>, e: Event) {
    match map.get_mut(e.actor_id.as_str()) {
        Some(mut log) => log.push(e),
        None => {
            map.insert(e.actor_id.as_str().to_owned(), vec![e]);
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");

    // 1. One actor, one sequential writer.
    let one = ActorId::new("account-1").expect("valid id");
    let one_actor = || (1..=APPENDS).map(|v| event(&one, v)).collect::<Vec<_>>();
    let ours = best(one_actor, |events| {
        let store = InMemoryEventStore::new();
        runtime.block_on(async {
            for e in events {
                store.append(e).await.expect("append");
            }
        });
        store
    });
    let raw = best(one_actor, |events| {
        let map: DashMap<String, Vec<Event>> = DashMap::new();
        for e in events {
            raw_push(&map, e);
        }
        map
    });
    report("append, 1 actor, 1 writer", APPENDS, ours, raw);

    // 2. Round-robin over many actors.
    let actors: Vec<ActorId> = (0..ACTORS)
        .map(|i| ActorId::new(format!("account-{i}")).expect("valid id"))
        .collect();
    let many = || {
        (0..APPENDS)
            .map(|i| event(&actors[(i % ACTORS) as usize], i / ACTORS + 1))
            .collect::<Vec<_>>()
    };
    let ours = best(many, |events| {
        let store = InMemoryEventStore::new();
        runtime.block_on(async {
            for e in events {
                store.append(e).await.expect("append");
            }
        });
        store
    });
    let raw = best(many, |events| {
        let map: DashMap<String, Vec<Event>> = DashMap::new();
        for e in events {
            raw_push(&map, e);
        }
        map
    });
    report("append, 1000 actors, 1 writer", APPENDS, ours, raw);

    // 3. Reading a 1,000-event actor (ops = events read).
    let reader = ActorId::new("reader-1").expect("valid id");
    let store = InMemoryEventStore::new();
    let map: DashMap<String, Vec<Event>> = DashMap::new();
    runtime.block_on(async {
        for v in 1..=READ_EVENTS {
            store.append(event(&reader, v)).await.expect("append");
            raw_push(&map, event(&reader, v));
        }
    });
    let ours = best(
        || (),
        |()| {
            runtime.block_on(async {
                for _ in 0..READS {
                    black_box(store.read(&reader, 1).await.expect("read"));
                }
            })
        },
    );
    let raw = best(
        || (),
        |()| {
            for _ in 0..READS {
                black_box(map.get(reader.as_str()).map(|log| log.clone()));
            }
        },
    );
    report(
        "read 1000-event actor (events/s)",
        READS * READ_EVENTS,
        ours,
        raw,
    );
}
