//! Our JetStream store against raw async-nats, on one server in one run.
//!
//! Run: `cargo bench -p aether-store-jetstream --bench jetstream`
//! (optional env: `BENCH_ROUNDS`, default 5; `BENCH_ONLY=seq,pipe,latest,replay`).
//! Each round runs ours and the raw async-nats baseline back to back on the
//! same server and connection; the table shows median rates and the median of
//! the per-round ratios (ours / raw, higher is better).

use std::time::{Duration, Instant};

use aether_core::{ActorId, Event, EventStore, ExpectedVersion, json};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use futures::StreamExt;

const SEQUENTIAL: u64 = 2_000;
const ACTORS: usize = 1_000;
const PIPELINED_PER_ACTOR: u64 = 10;
const IN_FLIGHT: usize = 256;
const LOOKUPS: usize = 3_000;
const REPLAY: u64 = 100_000;

fn event(actor: &ActorId, version: u64) -> Event {
    // About 250 bytes encoded, like the raw figures in NATS.md.
    Event::new(
        actor.clone(),
        version,
        "Deposited",
        json!({ "amount": version, "memo": "x".repeat(40) }),
    )
}

fn payload() -> Bytes {
    let e = event(&ActorId::new("raw-1").unwrap(), 1);
    Bytes::from(e.to_json_bytes().unwrap())
}

struct Pair {
    name: &'static str,
    unit: &'static str,
    /// Per-round rates, rounds interleaved with `raw`.
    ours: Vec<f64>,
    raw: Vec<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

impl Pair {
    /// Median rates, and the median of the per-round ratios (each round runs
    /// ours and raw back to back, so its ratio shares the machine's load).
    fn summary(&self) -> (f64, f64, f64) {
        let ratios = self
            .ours
            .iter()
            .zip(&self.raw)
            .map(|(o, r)| o / r)
            .collect();
        (
            median(self.ours.clone()),
            median(self.raw.clone()),
            median(ratios),
        )
    }
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let server = NatsServer::start().await;
    let config = JetStreamConfig {
        stream_name: "BENCH".into(),
        namespace: "b".into(),
        ..Default::default()
    };
    let store = JetStreamEventStore::connect(&server.url(), config)
        .await
        .unwrap();
    // Raw runs on the store's own connection, so both sides share one socket.
    let js = async_nats::jetstream::new(store.client().clone());
    let stream = js.get_stream(store.stream_name()).await.unwrap();
    let raw_payload = payload();
    let mut pairs = Vec::new();
    // BENCH_ONLY=seq,pipe,latest,replay selects phases (all by default).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |phase: &str| only.is_empty() || only.split(',').any(|p| p == phase);

    // 1. Sequential appends to one actor.
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for round in 0..if run("seq") { rounds } else { 0 } {
        let actor = ActorId::new(format!("seq-{round}")).unwrap();
        // Events are built before timing, as the raw payload is.
        let events: Vec<Event> = (1..=SEQUENTIAL).map(|v| event(&actor, v)).collect();
        let start = Instant::now();
        for e in events {
            store.append(e).await.unwrap();
        }
        ours.push(rate(SEQUENTIAL, start.elapsed()));

        let subject = format!("{}.events.raw.seq{round}", store.stream_name());
        let mut last = 0;
        let start = Instant::now();
        for i in 0..SEQUENTIAL {
            let msg = PublishMessage::build()
                .payload(raw_payload.clone())
                .message_id(uuid_like(round as u64, i))
                .expected_last_subject_sequence(last);
            last = js
                .send_publish(subject.clone(), msg)
                .await
                .unwrap()
                .await
                .unwrap()
                .sequence;
        }
        raw.push(rate(SEQUENTIAL, start.elapsed()));
    }
    pairs.push(Pair {
        name: "sequential append, one actor",
        unit: "appends/s",
        ours,
        raw,
    });

    // 2. Pipelined appends across 1,000 actors (256 in flight).
    let actors: Vec<ActorId> = (0..ACTORS)
        .map(|i| ActorId::new(format!("pipe-{i}")).unwrap())
        .collect();
    let mut next = 0u64;
    let work = |next: &mut u64| {
        let mut batch = Vec::new();
        for _ in 0..PIPELINED_PER_ACTOR {
            *next += 1;
            for a in &actors {
                batch.push((
                    a.clone(),
                    ExpectedVersion::Exact(*next - 1),
                    vec![event(a, *next)],
                ));
            }
        }
        batch
    };
    // Warm-up: fills the version cache as a long-running process would have it.
    for r in store.append_many(work(&mut next)).await {
        r.unwrap();
    }
    let total = ACTORS as u64 * PIPELINED_PER_ACTOR;
    let (mut ours, mut raw, mut raw_occ) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..if run("pipe") { rounds } else { 0 } {
        let batch = work(&mut next);
        let start = Instant::now();
        for r in store.append_many(batch).await {
            r.unwrap();
        }
        ours.push(rate(total, start.elapsed()));

        let js = &js;
        let raw_payload = &raw_payload;
        let name = store.stream_name();

        // Raw pipelined publish: no headers, 256 in flight over 1,000 subjects.
        let start = Instant::now();
        futures::stream::iter(0..total)
            .map(|i| async move {
                let subject = format!("{name}.events.raw.p{round}x{}", i % ACTORS as u64);
                js.publish(subject, raw_payload.clone())
                    .await
                    .unwrap()
                    .await
                    .unwrap();
            })
            .buffer_unordered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        raw.push(rate(total, start.elapsed()));

        // Raw pipelined publish with the headers OCC needs (expected subject
        // sequence, message id): one at a time per subject, 256 subjects in
        // flight, as any correct optimistic writer must.
        let start = Instant::now();
        futures::stream::iter(0..ACTORS as u64)
            .map(|a| async move {
                let subject = format!("{name}.events.raw.o{round}x{a}");
                let mut last = 0;
                for i in 0..PIPELINED_PER_ACTOR {
                    let msg = PublishMessage::build()
                        .payload(raw_payload.clone())
                        .message_id(uuid_like(1000 + round as u64, a * 1000 + i))
                        .expected_last_subject_sequence(last);
                    last = js
                        .send_publish(subject.clone(), msg)
                        .await
                        .unwrap()
                        .await
                        .unwrap()
                        .sequence;
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect::<Vec<_>>()
            .await;
        raw_occ.push(rate(total, start.elapsed()));
    }
    pairs.push(Pair {
        name: "pipelined appends, 1,000 actors",
        unit: "appends/s",
        ours: ours.clone(),
        raw,
    });
    pairs.push(Pair {
        name: "  same, vs raw OCC pipelined",
        unit: "appends/s",
        ours,
        raw: raw_occ,
    });

    // 3. Uncached latest version (always asks the server).
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    let subjects: Vec<String> = actors.iter().map(|a| store.subject_for(a)).collect();
    for _ in 0..if run("latest") { rounds } else { 0 } {
        let start = Instant::now();
        for i in 0..LOOKUPS {
            let v = store.latest_version(&actors[i % ACTORS]).await.unwrap();
            assert!(v > 0);
        }
        ours.push(rate(LOOKUPS as u64, start.elapsed()));

        let start = Instant::now();
        for i in 0..LOOKUPS {
            let m = stream
                .get_last_raw_message_by_subject(&subjects[i % ACTORS])
                .await
                .unwrap();
            assert!(m.sequence > 0);
        }
        raw.push(rate(LOOKUPS as u64, start.elapsed()));
    }
    pairs.push(Pair {
        name: "latest version, uncached",
        unit: "lookups/s",
        ours,
        raw,
    });

    // 4. Replay of 100,000 events of one actor.
    let long = ActorId::new("long-1").unwrap();
    let mut v = if run("replay") { 0 } else { REPLAY };
    while v < REPLAY {
        let batch: Vec<Event> = (v + 1..=(v + 1000).min(REPLAY))
            .map(|x| event(&long, x))
            .collect();
        v = store
            .append_batch(&long, ExpectedVersion::Exact(v), batch)
            .await
            .unwrap();
    }
    let subject = store.subject_for(&long);
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..if run("replay") { rounds } else { 0 } {
        let start = Instant::now();
        let events = store.read(&long, 1).await.unwrap();
        assert_eq!(events.len() as u64, REPLAY);
        ours.push(rate(REPLAY, start.elapsed()));
        drop(events);

        let start = Instant::now();
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: subject.clone(),
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 1 },
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut n = 0u64;
        while let Some(m) = messages.next().await {
            let m = m.unwrap();
            n += 1;
            std::hint::black_box(&m.payload);
            if n == REPLAY {
                break;
            }
        }
        raw.push(rate(REPLAY, start.elapsed()));
    }
    pairs.push(Pair {
        name: "replay 100,000 events, one actor",
        unit: "events/s",
        ours,
        raw,
    });

    println!();
    println!(
        "{:<36} {:>14} {:>14} {:>8}  unit",
        "operation", "ours", "raw", "ratio"
    );
    for p in pairs.iter().filter(|p| !p.ours.is_empty()) {
        let (ours, raw, ratio) = p.summary();
        println!(
            "{:<36} {:>14.0} {:>14.0} {:>8.2}  {}",
            p.name, ours, raw, ratio, p.unit
        );
    }
    println!(
        "(nats-server {}, medians of {rounds} interleaved rounds; ratio = median of per-round ours/raw)",
        store.client().server_info().version
    );
}

/// A distinct message id per raw publish, like our event ids.
fn uuid_like(round: u64, n: u64) -> String {
    format!("raw-{round:08x}-{n:024x}-{:x}", std::process::id())
}
