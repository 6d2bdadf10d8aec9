//! Local bus benchmarks, ours against a raw baseline in the same run.
//!
//! Run: `cargo bench -p aether-bus --bench local`
//! (`BUS_BENCH=pubsub` runs only the first case; `BUS_BENCH_ROUNDS=n` sets its
//! number of rounds, default 7.)
//!
//! 1. publish→receive, one subscriber: `LocalEventBus` vs a raw
//!    `tokio::sync::mpsc` channel of `Arc<Event>` (same capacity, both
//!    lossless), each a publisher task and a subscriber task on a 2-worker
//!    runtime, rounds interleaved, median and best printed.
//! 2. publish cost with 10,000 non-matching subscriptions vs with 1 (and, for
//!    reference, a linear scan of 10,000 patterns as the original design did).
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_bus::{Filter, LocalEventBus, OverflowPolicy, Pattern, SubscribeOptions};
use aether_core::{ActorId, Event, json};

const EVENTS: u64 = 1_000_000;
const CAPACITY: usize = 1024;
const ROUNDS: usize = 3;

fn sample_events(n: usize) -> Vec<Arc<Event>> {
    (0..n)
        .map(|i| {
            Arc::new(Event::new(
                ActorId::new(format!("order-{i}")).unwrap(),
                1,
                "OrderPlaced",
                json!({"amount": i, "currency": "EUR", "note": "x".repeat(64)}),
            ))
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn ours_pubsub(events: &[Arc<Event>]) -> Duration {
    let bus = LocalEventBus::new();
    let mut sub = bus
        .subscribe_with(
            "bench.orders",
            Filter::new(),
            SubscribeOptions::new(CAPACITY, OverflowPolicy::Wait),
        )
        .unwrap();
    let events = events.to_vec();
    let start = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut n = 0u64;
        while n < EVENTS {
            black_box(sub.recv().await.unwrap());
            n += 1;
        }
    });
    let producer = tokio::spawn(async move {
        for i in 0..EVENTS as usize {
            bus.publish("bench.orders", events[i % events.len()].clone())
                .await
                .unwrap();
        }
    });
    producer.await.unwrap();
    consumer.await.unwrap();
    start.elapsed()
}

async fn raw_pubsub(events: &[Arc<Event>]) -> Duration {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Arc<Event>>(CAPACITY);
    let events = events.to_vec();
    let start = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut n = 0u64;
        while n < EVENTS {
            black_box(rx.recv().await.unwrap());
            n += 1;
        }
    });
    let producer = tokio::spawn(async move {
        for i in 0..EVENTS as usize {
            tx.send(events[i % events.len()].clone()).await.unwrap();
        }
    });
    producer.await.unwrap();
    consumer.await.unwrap();
    start.elapsed()
}

/// Median and best of a series of rates.
fn median_best(mut rates: Vec<f64>) -> (f64, f64) {
    rates.sort_by(f64::total_cmp);
    (rates[rates.len() / 2], rates[rates.len() - 1])
}

const PUBLISHES: u64 = 1_000_000;

/// Publish cost (ns/op) to a namespace nobody subscribes to, with `subs`
/// non-matching subscriptions registered.
async fn publish_cost(subs: usize, event: &Arc<Event>) -> f64 {
    let bus = LocalEventBus::new();
    let _keep: Vec<_> = (0..subs)
        .map(|i| {
            let pattern = match i % 3 {
                0 => format!("tenant-{i}.orders"),
                1 => format!("tenant-{i}.*"),
                _ => format!("tenant-{i}.>"),
            };
            bus.subscribe(&pattern).unwrap()
        })
        .collect();
    let start = Instant::now();
    for _ in 0..PUBLISHES {
        black_box(bus.publish("tenant-x.orders", event.clone()).await.unwrap());
    }
    start.elapsed().as_nanos() as f64 / PUBLISHES as f64
}

/// The original design: test every subscription's pattern on each publish.
fn linear_scan_cost(subs: usize) -> f64 {
    let patterns: Vec<Pattern> = (0..subs)
        .map(|i| Pattern::namespace(&format!("tenant-{i}.*")).unwrap())
        .collect();
    let rounds = 2_000u64;
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(
            patterns
                .iter()
                .filter(|p| p.matches(black_box("tenant-x.orders")))
                .count(),
        );
    }
    start.elapsed().as_nanos() as f64 / rounds as f64
}

fn rate(d: Duration, n: u64) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    let rt = runtime();
    let events = sample_events(1024);
    // `BUS_BENCH=pubsub` or `BUS_BENCH=fanout` runs one part only.
    let only = std::env::var("BUS_BENCH").unwrap_or_default();
    // `BUS_BENCH_ROUNDS=n` changes the number of publish -> receive rounds.
    let rounds: usize = std::env::var("BUS_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);

    if only.is_empty() || only == "pubsub" {
        println!(
            "== local publish -> receive, 1 subscriber, {EVENTS} events, capacity {CAPACITY}, \
             publisher task + subscriber task, {rounds} interleaved rounds"
        );
        let (mut ours, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            raw.push(rate(rt.block_on(raw_pubsub(&events)), EVENTS));
            ours.push(rate(rt.block_on(ours_pubsub(&events)), EVENTS));
        }
        if std::env::var("BUS_BENCH_VERBOSE").is_ok() {
            println!("  raw  rounds: {:.0?}", raw);
            println!("  ours rounds: {:.0?}", ours);
        }
        let ((ours_med, ours_best), (raw_med, raw_best)) = (median_best(ours), median_best(raw));
        println!("                      median          best  (events/s)");
        println!("raw tokio mpsc : {raw_med:>12.0}  {raw_best:>12.0}");
        println!("LocalEventBus  : {ours_med:>12.0}  {ours_best:>12.0}");
        println!(
            "ratio ours/raw : median {:.2}x  best {:.2}x  (target >= 0.5x and >= 1M events/s)",
            ours_med / raw_med,
            ours_best / raw_best
        );
    }
    if only == "pubsub" {
        return;
    }

    println!("\n== publish cost, no matching subscriber, {PUBLISHES} publishes, best of {ROUNDS}");
    let event = events[0].clone();
    let (mut one, mut many) = (f64::MAX, f64::MAX);
    for _ in 0..ROUNDS {
        one = one.min(rt.block_on(publish_cost(1, &event)));
        many = many.min(rt.block_on(publish_cost(10_000, &event)));
    }
    println!("1 subscription          : {one:>8.1} ns/publish");
    println!("10,000 subscriptions    : {many:>8.1} ns/publish");
    println!(
        "ratio 10,000 / 1        : {:.2}x  (target <= 2x)",
        many / one
    );
    let scan = linear_scan_cost(10_000);
    println!(
        "reference: linear scan of 10,000 patterns: {scan:>10.1} ns/publish ({:.0}x ours)",
        scan / many
    );
}
