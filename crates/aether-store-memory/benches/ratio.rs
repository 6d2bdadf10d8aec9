//! Throughput of the in-memory store against a raw `DashMap<String, Vec<Event>>`
//! baseline, measured in the same run; prints "ours X ops/s, raw Y ops/s, ratio Z".
//!
//! Run: `cargo bench -p aether-store-memory --bench ratio`.
//! Each figure is the best of several rounds; events are built before the clock starts.
//! The last part times each append of a long history and prints the slowest
//! (where a flat `Vec` copies itself to grow).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aether_core::{ActorId, Event, EventStore, EventStored, json};
use aether_store_memory::InMemoryEventStore;
use dashmap::DashMap;

const ROUNDS: usize = 15;
const APPENDS: u64 = 100_000;
const ACTORS: u64 = 1_000;
const READ_EVENTS: u64 = 1_000;
const READS: u64 = 500;
/// The long history of the last part, and its rounds.
const LONG: u64 = 1_000_000;
const LONG_ROUNDS: usize = 3;
const WARM: usize = 1_000;

fn event(actor: &ActorId, version: u64) -> Event {
    Event::new(
        actor.clone(),
        version,
        "Deposited",
        json!({ "amount": version }),
    )
}

/// Times one run of `run` on fresh input from `setup`; the output is dropped
/// after the clock stops.
fn time<I, O>(setup: &mut impl FnMut() -> I, run: &mut impl FnMut(I) -> O) -> Duration {
    let input = setup();
    let start = Instant::now();
    let out = run(input);
    let elapsed = start.elapsed();
    drop(black_box(out));
    elapsed
}

/// Runs ours and the raw baseline in alternating rounds (so both see the same
/// machine load), keeps the best round of each, and prints the rates and ratio.
fn compare<I, A, B>(
    name: &str,
    ops: u64,
    mut setup: impl FnMut() -> I,
    mut ours: impl FnMut(I) -> A,
    mut raw: impl FnMut(I) -> B,
) {
    let (mut best_ours, mut best_raw) = (Duration::MAX, Duration::MAX);
    for _ in 0..ROUNDS {
        best_ours = best_ours.min(time(&mut setup, &mut ours));
        best_raw = best_raw.min(time(&mut setup, &mut raw));
    }
    let rate = |d: Duration| ops as f64 / d.as_secs_f64();
    println!(
        "{name:<34} ours {:>12.0} ops/s, raw {:>12.0} ops/s, ratio {:.2}",
        rate(best_ours),
        rate(best_raw),
        rate(best_ours) / rate(best_raw)
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
    let append_all = |events: Vec<Event>| {
        let store = InMemoryEventStore::new();
        runtime.block_on(async {
            for e in events {
                store.append(e).await.expect("append");
            }
        });
        store
    };
    let push_all = |events: Vec<Event>| {
        let map: DashMap<String, Vec<Event>> = DashMap::new();
        for e in events {
            raw_push(&map, e);
        }
        map
    };
    println!("best of {ROUNDS} alternating rounds; {APPENDS} appends a round, prebuilt events");

    // 1. One actor, one sequential writer.
    let one = ActorId::new("account-1").expect("valid id");
    compare(
        "append, 1 actor, 1 writer",
        APPENDS,
        || (1..=APPENDS).map(|v| event(&one, v)).collect::<Vec<_>>(),
        append_all,
        push_all,
    );

    // 1b. The same with a no-op hook: the cost of ordered EventStored delivery.
    compare(
        "append, 1 actor, no-op hook",
        APPENDS,
        || (1..=APPENDS).map(|v| event(&one, v)).collect::<Vec<_>>(),
        |events: Vec<Event>| {
            let store = InMemoryEventStore::new().with_hook(|n: EventStored| {
                black_box(n);
            });
            runtime.block_on(async {
                for e in events {
                    store.append(e).await.expect("append");
                }
            });
            store
        },
        push_all,
    );

    // 2. Round-robin over many actors.
    let actors: Vec<ActorId> = (0..ACTORS)
        .map(|i| ActorId::new(format!("account-{i}")).expect("valid id"))
        .collect();
    compare(
        "append, 1000 actors, 1 writer",
        APPENDS,
        || {
            (0..APPENDS)
                .map(|i| event(&actors[(i % ACTORS) as usize], i / ACTORS + 1))
                .collect::<Vec<_>>()
        },
        append_all,
        push_all,
    );

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
    compare(
        "read 1000-event actor (events/s)",
        READS * READ_EVENTS,
        || (),
        |()| {
            runtime.block_on(async {
                for _ in 0..READS {
                    black_box(store.read(&reader, 1).await.expect("read"));
                }
            })
        },
        |()| {
            for _ in 0..READS {
                black_box(map.get(reader.as_str()).map(|log| log.clone()));
            }
        },
    );

    // 4. A long history: the slowest single append after the first thousand
    // (a flat `Vec` copies the whole history at each doubling; the store
    // grows by whole blocks).
    let long = ActorId::new("account-long").expect("valid id");
    let slowest = |each: &mut dyn FnMut(Event)| {
        let events: Vec<Event> = (1..=LONG).map(|v| event(&long, v)).collect();
        let mut worst = Duration::ZERO;
        let start = Instant::now();
        for (i, e) in events.into_iter().enumerate() {
            let t = Instant::now();
            each(e);
            // Past the first appends: right after the previous round freed
            // its million events, the allocator's first requests stall
            // either side (measured: 20–30 ms within the first five).
            if i >= WARM {
                worst = worst.max(t.elapsed());
            }
        }
        (worst, start.elapsed())
    };
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..LONG_ROUNDS {
        let store = InMemoryEventStore::new();
        ours.push(slowest(&mut |e| {
            runtime.block_on(store.append(e)).expect("append");
        }));
        drop(store);
        let map: DashMap<String, Vec<Event>> = DashMap::new();
        raw.push(slowest(&mut |e| raw_push(&map, e)));
    }
    let median = |mut v: Vec<Duration>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let (worst_ours, worst_raw) = (
        median(ours.iter().map(|r| r.0).collect()),
        median(raw.iter().map(|r| r.0).collect()),
    );
    let (all_ours, all_raw) = (
        median(ours.iter().map(|r| r.1).collect()),
        median(raw.iter().map(|r| r.1).collect()),
    );
    println!(
        "slowest append of {LONG}, 1 actor    ours {:>9.2} ms, raw {:>9.2} ms, ratio {:.2} (all of them: ours {:.0} ms, raw {:.0} ms; medians of {LONG_ROUNDS} rounds)",
        worst_ours.as_secs_f64() * 1e3,
        worst_raw.as_secs_f64() * 1e3,
        worst_ours.as_secs_f64() / worst_raw.as_secs_f64(),
        all_ours.as_secs_f64() * 1e3,
        all_raw.as_secs_f64() * 1e3,
    );
}
