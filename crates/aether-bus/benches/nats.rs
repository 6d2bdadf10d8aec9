//! Cross-node benchmark: `NatsEventBus` publish→receive between two
//! connections vs raw async-nats publish→subscribe of the same bytes, in one
//! run against one nats-server started by the test kit.
//!
//! Run: `cargo bench -p aether-bus --bench nats`
//! (`BUS_BENCH_ROUNDS=n` changes the number of rounds, default 5.)
//!
//! Three pipelines, each a publisher task and a subscriber task on two
//! connections, the same number of events, run interleaved round by round:
//! 1. raw: async-nats publishes the already-encoded JSON bytes; the
//!    subscriber counts messages (also run with payloads cut to the size of
//!    an event in the bus's binary format);
//! 2. raw + JSON: the same, but the publisher encodes each `Event` with
//!    serde_json and the subscriber decodes it (`Event::from_json_slice`) into
//!    an `Arc<Event>`: the floor for any bus with a JSON wire format;
//! 3. ours: `NatsEventBus::publish` → `EventSubscription::recv` (the bus's
//!    binary wire format with `data` as JSON, origin and sequence in the reply
//!    subject, namespace checks, gap detection, subscription queue), with the
//!    default configuration: events that queue up in the outbox share NATS
//!    messages;
//! 4. ours with `max_batch_bytes = 0`: one event per NATS message, like the
//!    raw pipelines.
//!
//! Every pipeline counts its own losses (raw: messages that never arrived
//! within a timeout; ours: lag reported by the bus). Median and best of the
//! rounds are printed for each, with the ratios.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_bus::{BusItem, Filter, NatsBusConfig, NatsEventBus, OverflowPolicy, SubscribeOptions};
use aether_core::{ActorId, Event, json};
use aether_testkit::NatsServer;
use futures::StreamExt;

const EVENTS: u64 = 100_000;

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

/// Returns (elapsed, events lost and reported as lag, events lost at the very
/// end of the stream, which no later message could reveal).
async fn ours(
    url: &str,
    events: &[Arc<Event>],
    round: usize,
    max_batch_bytes: usize,
) -> (Duration, u64, u64) {
    let config = NatsBusConfig {
        max_batch_bytes,
        ..NatsBusConfig::default()
    };
    let publisher = NatsEventBus::connect(url, config).await.unwrap();
    let subscriber = NatsEventBus::connect(url, NatsBusConfig::default())
        .await
        .unwrap();
    let ns = format!("bench.r{round}.b{max_batch_bytes}");
    let mut sub = subscriber
        .subscribe_with(
            &ns,
            Filter::new(),
            SubscribeOptions::new(8192, OverflowPolicy::DropOldest),
        )
        .await
        .unwrap();
    let events = events.to_vec();
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
    let producer = tokio::spawn(async move {
        for i in 0..EVENTS as usize {
            publisher
                .publish(&ns, events[i % events.len()].clone())
                .await
                .unwrap();
        }
        publisher.flush().await.unwrap();
        publisher
    });
    let publisher = producer.await.unwrap();
    if std::env::var("BUS_BENCH_VERBOSE").is_ok() {
        println!("  ours: publish loop done after {:?}", start.elapsed());
    }
    let (got, lost) = consumer.await.unwrap();
    let elapsed = start.elapsed();
    publisher.shutdown().await.unwrap();
    subscriber.shutdown().await.unwrap();
    (elapsed, lost, EVENTS - got - lost)
}

/// An event's fields as borrowed strings, payload and metadata skipped: what
/// scanning the JSON costs without building a `serde_json::Value`, owned
/// strings, or validating.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Skeleton<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    event_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    actor_id: std::borrow::Cow<'a, str>,
    version: u64,
    data: serde::de::IgnoredAny,
    #[serde(default)]
    metadata: serde::de::IgnoredAny,
    #[serde(borrow)]
    timestamp: std::borrow::Cow<'a, str>,
}

/// The size of `event` in the bus's wire format: one publication, captured
/// by a plain subscriber.
async fn wire_size(url: &str, event: &Arc<Event>) -> usize {
    let bus = NatsEventBus::connect(url, NatsBusConfig::default())
        .await
        .unwrap();
    let client = async_nats::connect(url).await.unwrap();
    let mut sub = client.subscribe("aether.bus.ev.size").await.unwrap();
    let _ = client.request("raw.ping", bytes::Bytes::new()).await;
    bus.publish("size", event.clone()).await.unwrap();
    bus.flush().await.unwrap();
    let len = sub.next().await.unwrap().payload.len();
    bus.shutdown().await.unwrap();
    len
}

/// How the raw pipelines treat each message.
#[derive(Clone, Copy, PartialEq)]
enum Raw {
    /// Publish pre-encoded bytes, count received messages.
    Bytes,
    /// Encode each event with serde_json, decode each received one.
    Json,
    /// Like `Json`, plus a header like the bus's (experiment).
    JsonHeader,
}

/// Returns (elapsed, messages that never arrived).
async fn raw(
    url: &str,
    events: &[Arc<Event>],
    payloads: &[bytes::Bytes],
    round: usize,
    mode: Raw,
) -> (Duration, u64) {
    let publisher = async_nats::connect(url).await.unwrap();
    let subscriber = async_nats::connect(url).await.unwrap();
    let subject = format!("raw.bench.r{round}.{}", mode as u8);
    let mut sub = subscriber.subscribe(subject.clone()).await.unwrap();
    // Make sure the subscription is in place (same check the bus does).
    let _ = subscriber.request("raw.ping", bytes::Bytes::new()).await;
    let (events, payloads) = (events.to_vec(), payloads.to_vec());
    let start = Instant::now();
    let consumer = tokio::spawn(async move {
        let mut got = 0u64;
        while got < EVENTS {
            match tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
                Ok(Some(m)) => {
                    if mode != Raw::Bytes {
                        black_box(Arc::new(Event::from_json_slice(&m.payload).unwrap()));
                    } else {
                        black_box(m);
                    }
                    got += 1;
                }
                _ => break,
            }
        }
        got
    });
    let producer = tokio::spawn(async move {
        for i in 0..EVENTS as usize {
            let payload = if mode != Raw::Bytes {
                let mut buf = Vec::with_capacity(512);
                serde_json::to_writer(&mut buf, &*events[i % events.len()]).unwrap();
                bytes::Bytes::from(buf)
            } else {
                payloads[i % payloads.len()].clone()
            };
            if mode == Raw::JsonHeader {
                let mut h = async_nats::HeaderMap::new();
                h.insert(
                    "Aether-Pub",
                    format!("abcdefabcdefabcdefabcdefabcdef12/{i}").as_str(),
                );
                publisher
                    .publish_with_headers(subject.clone(), h, payload)
                    .await
                    .unwrap();
            } else {
                publisher.publish(subject.clone(), payload).await.unwrap();
            }
        }
        publisher.flush().await.unwrap();
    });
    producer.await.unwrap();
    if std::env::var("BUS_BENCH_VERBOSE").is_ok() {
        println!(
            "  raw {}: publish loop done after {:?}",
            mode as u8,
            start.elapsed()
        );
    }
    let got = consumer.await.unwrap();
    (start.elapsed(), EVENTS - got)
}

/// Results of one pipeline over all rounds.
#[derive(Default)]
struct Series {
    rates: Vec<f64>,
    lost: u64,
    /// Ours only: lost at the end of a stream (undetectable by sequence).
    lost_tail: u64,
}

impl Series {
    fn add(&mut self, (d, lost): (Duration, u64)) {
        self.rates.push(EVENTS as f64 / d.as_secs_f64());
        self.lost += lost;
    }
    fn median(&self) -> f64 {
        let mut r = self.rates.clone();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    }
    fn best(&self) -> f64 {
        self.rates.iter().copied().fold(0.0, f64::max)
    }
}

fn main() {
    let rounds: usize = std::env::var("BUS_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
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
        // What one event costs on the bus's wire (binary format), captured
        // from a bus publication.
        let ours_len = wire_size(&url, &events[0]).await;
        // Raw payloads of that size (raw subscribers only count messages).
        let small: Vec<bytes::Bytes> = payloads.iter().map(|p| p.slice(..ours_len)).collect();
        println!(
            "== cross-node publish -> receive, {EVENTS} events of ~{} bytes as JSON ({ours_len} \
             bytes in the bus's binary format), 2 connections, publisher task + subscriber \
             task, {rounds} interleaved rounds",
            payloads[0].len()
        );
        let (mut raw_s, mut json_s, mut ours_s, mut single_s, mut small_s) = (
            Series::default(),
            Series::default(),
            Series::default(),
            Series::default(),
            Series::default(),
        );
        let default_batch = NatsBusConfig::default().max_batch_bytes;
        // `BUS_BENCH=ours` runs only the bus (for profiling).
        let only_ours = std::env::var("BUS_BENCH").is_ok_and(|v| v == "ours");
        for round in 0..rounds {
            if !only_ours {
                raw_s.add(raw(&url, &events, &payloads, round, Raw::Bytes).await);
                small_s.add(raw(&url, &events, &small, round, Raw::Bytes).await);
                json_s.add(raw(&url, &events, &payloads, round, Raw::Json).await);
                if std::env::var("BUS_BENCH_HDR").is_ok() {
                    let (d, _) = raw(&url, &events, &payloads, round, Raw::JsonHeader).await;
                    println!(
                        "  raw+JSON+header: {:.0} msgs/s",
                        EVENTS as f64 / d.as_secs_f64()
                    );
                }
            }
            let (d, lost, tail) = ours(&url, &events, round, default_batch).await;
            ours_s.add((d, lost));
            ours_s.lost_tail += tail;
            if !only_ours {
                let (d, lost, tail) = ours(&url, &events, round, 0).await;
                single_s.add((d, lost));
                single_s.lost_tail += tail;
            }
        }
        if only_ours {
            println!("NatsEventBus: median {:.0} msgs/s", ours_s.median());
            return;
        }
        // Where the JSON pipelines spend their extra time: the codec.
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
        println!(
            "JSON encode {enc:.0} ns/event, decode+validate {dec:.0} ns/event (single thread)"
        );
        // Breakdown for the codec's owners: the payload (`data`) parsed
        // into a `serde_json::Value` alone, and the event's fields as
        // borrowed strings with `data` and `metadata` skipped.
        let datas: Vec<&[u8]> = events.iter().map(|e| e.data.as_str().as_bytes()).collect();
        let t = Instant::now();
        for d in datas.iter().cycle().take(EVENTS as usize) {
            black_box(serde_json::from_slice::<serde_json::Value>(d).unwrap());
        }
        let data_dec = t.elapsed().as_nanos() as f64 / EVENTS as f64;
        let t = Instant::now();
        for p in payloads.iter().cycle().take(EVENTS as usize) {
            black_box(serde_json::from_slice::<Skeleton<'_>>(p).unwrap());
        }
        let skel = t.elapsed().as_nanos() as f64 / EVENTS as f64;
        println!(
            "  of which: `data` as serde_json::Value alone {data_dec:.0} ns; all fields as \
             borrowed strings, `data` and `metadata` skipped unparsed {skel:.0} ns"
        );
        println!("                        median        best   (msgs/s)");
        for (name, s, what) in [
            ("raw async-nats     ", &raw_s, "never arrived"),
            ("  same, ours' size ", &small_s, "never arrived"),
            ("raw + JSON codec   ", &json_s, "never arrived"),
            ("NatsEventBus       ", &ours_s, "reported as lag"),
            ("  same, unbatched  ", &single_s, "reported as lag"),
        ] {
            println!(
                "{name}: {:>10.0}  {:>10.0}   (lost, {what}: {}{})",
                s.median(),
                s.best(),
                s.lost,
                if s.lost_tail > 0 {
                    format!(", lost at a stream's end, undetectable: {}", s.lost_tail)
                } else {
                    String::new()
                }
            );
        }
        println!(
            "ratio ours/raw        : median {:.2}x  best {:.2}x  (target >= 0.7x)",
            ours_s.median() / raw_s.median(),
            ours_s.best() / raw_s.best()
        );
        println!(
            "ratio ours/raw of our size: median {:.2}x  best {:.2}x  (raw payloads as long as \
             our binary events)",
            ours_s.median() / small_s.median(),
            ours_s.best() / small_s.best()
        );
        println!(
            "ratio unbatched/raw   : median {:.2}x  best {:.2}x  (max_batch_bytes = 0: one \
             event per NATS message, as the raw pipelines send)",
            single_s.median() / raw_s.median(),
            single_s.best() / raw_s.best()
        );
        println!(
            "ratio raw+JSON/raw    : median {:.2}x  best {:.2}x  (the JSON floor)",
            json_s.median() / raw_s.median(),
            json_s.best() / raw_s.best()
        );
        println!(
            "ratio ours/(raw+JSON) : median {:.2}x  best {:.2}x",
            ours_s.median() / json_s.median(),
            ours_s.best() / json_s.best()
        );
    });
}
