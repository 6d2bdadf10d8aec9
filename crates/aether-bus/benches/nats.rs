//! Cross-node benchmark: `NatsEventBus` publish→receive between two
//! connections vs raw async-nats publish→subscribe of the same bytes, in one
//! run against one nats-server started by the test kit.
//!
//! Run: `cargo bench -p aether-bus --bench nats`
//!
//! Ours includes what the bus does per event: JSON encoding on publish, the
//! origin and sequence headers, JSON decoding and validation on receipt, and
//! delivery into a subscription queue. The raw baseline publishes the
//! already-encoded bytes and counts received messages.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_bus::{BusItem, Filter, NatsBusConfig, NatsEventBus, OverflowPolicy, SubscribeOptions};
use aether_core::{ActorId, Event, json};
use aether_testkit::NatsServer;
use futures::StreamExt;

const EVENTS: u64 = 100_000;
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

/// Returns (elapsed, events lost and reported as lag).
async fn ours(url: &str, events: &[Arc<Event>], round: usize) -> (Duration, u64) {
    let publisher = NatsEventBus::connect(url, NatsBusConfig::default())
        .await
        .unwrap();
    let subscriber = NatsEventBus::connect(url, NatsBusConfig::default())
        .await
        .unwrap();
    let ns = format!("bench.r{round}");
    let mut sub = subscriber
        .subscribe_with(
            &ns,
            Filter::new(),
            SubscribeOptions::new(8192, OverflowPolicy::DropOldest),
        )
        .await
        .unwrap();
    let start = Instant::now();
    let consumer = tokio::spawn(async move {
        let (mut got, mut lost) = (0u64, 0u64);
        while got + lost < EVENTS {
            match tokio::time::timeout(Duration::from_secs(5), sub.recv()).await {
                Ok(Ok(BusItem::Event(e))) => {
                    black_box(e);
                    got += 1;
                }
                Ok(Ok(BusItem::Lagged(n))) => lost += n,
                _ => break,
            }
        }
        (got, lost)
    });
    for i in 0..EVENTS as usize {
        publisher
            .publish(&ns, events[i % events.len()].clone())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    if std::env::var("BUS_BENCH_VERBOSE").is_ok() {
        println!("  ours: publish loop done after {:?}", start.elapsed());
    }
    let (got, lost) = consumer.await.unwrap();
    let elapsed = start.elapsed();
    assert_eq!(got + lost, EVENTS, "trailing messages lost (undetectable)");
    (elapsed, lost)
}

async fn raw(url: &str, payloads: &[bytes::Bytes], round: usize) -> (Duration, u64) {
    let publisher = async_nats::connect(url).await.unwrap();
    let subscriber = async_nats::connect(url).await.unwrap();
    let subject = format!("raw.bench.r{round}");
    let mut sub = subscriber.subscribe(subject.clone()).await.unwrap();
    subscriber.flush().await.unwrap();
    // Make sure the subscription is in place (same check the bus does).
    let _ = subscriber.request("raw.ping", bytes::Bytes::new()).await;
    let start = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut got = 0u64;
        while got < EVENTS {
            match tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
                Ok(Some(m)) => {
                    black_box(m);
                    got += 1;
                }
                _ => break,
            }
        }
        got
    });
    for i in 0..EVENTS as usize {
        publisher
            .publish(subject.clone(), payloads[i % payloads.len()].clone())
            .await
            .unwrap();
    }
    publisher.flush().await.unwrap();
    if std::env::var("BUS_BENCH_VERBOSE").is_ok() {
        println!("  raw: publish loop done after {:?}", start.elapsed());
    }
    let got = consumer.await.unwrap();
    (start.elapsed(), EVENTS - got)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = NatsServer::start().await;
        let url = server.url();
        let events = sample_events(1024);
        let payloads: Vec<bytes::Bytes> = events
            .iter()
            .map(|e| e.to_json_bytes().unwrap().into())
            .collect();
        println!(
            "== cross-node publish -> receive, {EVENTS} events of ~{} bytes, 2 connections, best of {ROUNDS}",
            payloads[0].len()
        );
        let (mut best_ours, mut best_raw) = (Duration::MAX, Duration::MAX);
        let (mut lost_ours, mut lost_raw) = (0, 0);
        for round in 0..ROUNDS {
            let (d, l) = raw(&url, &payloads, round).await;
            lost_raw += l;
            best_raw = best_raw.min(d);
            let (d, l) = ours(&url, &events, round).await;
            lost_ours += l;
            best_ours = best_ours.min(d);
        }
        let rate = |d: Duration| EVENTS as f64 / d.as_secs_f64();
        // Where ours spends its extra time: the JSON wire format.
        let t = Instant::now();
        for e in events.iter().cycle().take(EVENTS as usize) {
            black_box(serde_json::to_vec(&**e).unwrap());
        }
        let enc = t.elapsed().as_nanos() as f64 / EVENTS as f64;
        let t = Instant::now();
        for p in payloads.iter().cycle().take(EVENTS as usize) {
            black_box(Event::from_json_slice(p).unwrap());
        }
        let dec = t.elapsed().as_nanos() as f64 / EVENTS as f64;
        println!("JSON encode {enc:.0} ns/event, decode+validate {dec:.0} ns/event (single thread)");
        println!(
            "raw async-nats   : {:>10.0} msgs/s   (lost over all rounds: {lost_raw})",
            rate(best_raw)
        );
        println!(
            "NatsEventBus     : {:>10.0} events/s (lost, reported as lag: {lost_ours})",
            rate(best_ours)
        );
        println!(
            "ratio ours/raw   : {:.2}x  (target >= 0.7x)",
            rate(best_ours) / rate(best_raw)
        );
    });
}
