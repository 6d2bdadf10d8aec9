//! Our JetStream store against raw async-nats, on one server in one run.
//!
//! Run: `cargo bench -p aether-store-jetstream --bench jetstream`
//! (optional env: `BENCH_ROUNDS`, default 5; `BENCH_ONLY=seq,pipe,latest,latest3,replay`).
//! `scripts/bench-separate-cores.sh -p aether-store-jetstream --bench jetstream`
//! runs it with nats-server and this process on separate CPUs (so neither
//! side's client work takes CPU time from the server).
//! Each round runs ours and the raw async-nats baselines back to back on the
//! same server and connection; the table shows median rates, the median and
//! range of the per-round ratios (ours / raw, higher is better) and the
//! client CPU time per operation of each side (this process only; the server
//! is a separate process sharing the machine). Everything runs in a task on
//! a runtime worker, where service code runs (`BENCH_THREAD=main`: on the
//! thread blocked in `main`, as this bench did until December 2026; see
//! `aether_testkit::bench::in_task`). In the sequential phase the side that
//! goes first rotates from round to round.
//!
//! Fairness: the raw publishers send the very bytes our store encodes (built
//! before timing), on subjects of the same length, through the same
//! connection, with the same number in flight, and with the one header ours
//! sends (the expected subject sequence); a second sequential baseline
//! encodes each event in its loop, as ours must. Pipelined appends are compared
//! with three raw publishers: bare publishes (no headers, several in flight
//! per subject), the header OCC needs (one in flight per subject, as any
//! correct optimistic writer must: exactly our message), and that plus a
//! message id (fresh ids as long as our event ids: reused ids would be
//! answered as duplicates without being stored), as the store wrote until
//! December 2026.

use std::time::{Duration, Instant};

use aether_core::{ActorId, Event, EventId, EventStore, ExpectedVersion};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use aether_testkit::bench::{cpu_ns, deposit as event, median};
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

/// The encoded events, as our store will send them.
fn encoded(events: &[Event]) -> Vec<Bytes> {
    events
        .iter()
        .map(|e| Bytes::from(e.to_json_bytes().unwrap()))
        .collect()
}

/// `n` fresh message ids, as long as our event ids (hyphenated UUIDs).
fn fresh_ids(n: usize) -> Vec<String> {
    (0..n).map(|_| EventId::new().to_string()).collect()
}

/// One measured operation: ours and a raw baseline, round by round.
struct Pair {
    name: &'static str,
    unit: &'static str,
    /// Per-round rates, rounds interleaved with `raw`.
    ours: Vec<f64>,
    raw: Vec<f64>,
    /// Per-round CPU time of this process (the client; the server is another
    /// process) per operation, in microseconds.
    ours_cpu: Vec<f64>,
    raw_cpu: Vec<f64>,
}

impl Pair {
    fn new(name: &'static str, unit: &'static str) -> Self {
        Self {
            name,
            unit,
            ours: Vec::new(),
            raw: Vec::new(),
            ours_cpu: Vec::new(),
            raw_cpu: Vec::new(),
        }
    }

    fn push_ours(&mut self, (rate, cpu): (f64, f64)) {
        self.ours.push(rate);
        self.ours_cpu.push(cpu);
    }

    fn push_raw(&mut self, (rate, cpu): (f64, f64)) {
        self.raw.push(rate);
        self.raw_cpu.push(cpu);
    }

    /// The per-round ratios ours / raw (each round runs ours and raw back to
    /// back, so its ratio shares the machine's load).
    fn ratios(&self) -> Vec<f64> {
        self.ours
            .iter()
            .zip(&self.raw)
            .map(|(o, r)| o / r)
            .collect()
    }
}

/// Runs `work` (`n` operations): its rate, and this process's CPU time per
/// operation in microseconds.
async fn measure(n: u64, work: impl std::future::Future<Output = ()>) -> (f64, f64) {
    measure_keep(n, work).await.0
}

/// [`measure`], handing back what `work` returns so that dropping it is not
/// timed.
async fn measure_keep<T>(n: u64, work: impl std::future::Future<Output = T>) -> ((f64, f64), T) {
    let (start, cpu) = (Instant::now(), cpu_ns());
    let out = work.await;
    let elapsed = start.elapsed();
    let cpu = cpu_ns().saturating_sub(cpu) as f64 / n as f64 / 1e3;
    ((rate(n, elapsed), cpu), out)
}

/// Raw sequential appends to `subject`: each message published with the
/// expected subject sequence added, its ack awaited before the next.
async fn raw_sequential(
    js: &async_nats::jetstream::Context,
    subject: String,
    messages: impl IntoIterator<Item = PublishMessage>,
) {
    let mut last = 0;
    for msg in messages {
        let msg = msg.expected_last_subject_sequence(last);
        last = js
            .send_publish(subject.clone(), msg)
            .await
            .unwrap()
            .await
            .unwrap()
            .sequence;
    }
}

/// One measurement not yet run: its future, boxed so that different ones
/// share a type.
type Measurement<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = (f64, f64)> + Send + 'a>>;

/// Runs the measurements one after another, the first one being number
/// `round % N`, and returns their results in the given order.
async fn rotated<const N: usize>(round: usize, mut work: [Measurement<'_>; N]) -> [(f64, f64); N] {
    let mut out = [(0.0, 0.0); N];
    for k in 0..N {
        let i = (round + k) % N;
        out[i] = work[i].as_mut().await;
    }
    out
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// `LOOKUPS` uncached latest-version reads through the store.
async fn latest_lookups(store: &JetStreamEventStore, actors: &[ActorId]) -> (f64, f64) {
    measure(LOOKUPS as u64, async {
        for i in 0..LOOKUPS {
            let v = store.latest_version(&actors[i % ACTORS]).await.unwrap();
            assert!(v > 0);
        }
    })
    .await
}

/// `LOOKUPS` raw direct gets of a subject's last message.
async fn raw_direct_gets(
    stream: &async_nats::jetstream::stream::Stream,
    subjects: &[String],
) -> (f64, f64) {
    measure(LOOKUPS as u64, async {
        for i in 0..LOOKUPS {
            let m = stream
                .direct_get_last_for_subject(subjects[i % ACTORS].as_str())
                .await
                .unwrap();
            assert!(m.sequence > 0);
        }
    })
    .await
}

/// `LOOKUPS` raw last-message gets through the stream leader's API.
async fn raw_leader_gets(
    stream: &async_nats::jetstream::stream::Stream,
    subjects: &[String],
) -> (f64, f64) {
    measure(LOOKUPS as u64, async {
        for i in 0..LOOKUPS {
            let m = stream
                .get_last_raw_message_by_subject(&subjects[i % ACTORS])
                .await
                .unwrap();
            assert!(m.sequence > 0);
        }
    })
    .await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    aether_testkit::bench::in_task(run()).await;
}

async fn run() {
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
    // Same pipeline depth on both sides.
    assert_eq!(store.config().pipeline_depth, IN_FLIGHT);
    // Raw runs on the store's own connection, so both sides share one socket.
    let js = async_nats::jetstream::new(store.client().clone());
    let stream = js.get_stream(store.stream_name()).await.unwrap();
    let js = &js;
    let mut pairs = Vec::new();
    // BENCH_ONLY=seq,pipe,latest,latest3,replay selects phases (all by default).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |phase: &str| only.is_empty() || only.split(',').any(|p| p == phase);
    let name = store.stream_name();

    // 1. Sequential appends to one actor.
    let mut seq = Pair::new("sequential append, one actor", "appends/s");
    let mut seq_encoding = Pair::new("  same, vs raw encoding in the loop", "appends/s");
    for round in 0..if run("seq") { rounds } else { 0 } {
        let actor = ActorId::new(format!("seq-{round}")).unwrap();
        // Events are built before timing; raw sends the same encoded bytes
        // (same sizes) under fresh ids of the same length.
        let events: Vec<Event> = (1..=SEQUENTIAL).map(|v| event(&actor, v)).collect();
        let payloads = encoded(&events);
        let ours = measure(SEQUENTIAL, async {
            for e in events {
                store.append(e).await.unwrap();
            }
        });

        // Raw: publish with the expected subject sequence (the one header
        // ours sends), each ack awaited. The subject has the same length as
        // ours.
        let subject = format!("{name}.events.seq.raq-{round}");
        let messages = payloads
            .into_iter()
            .map(|p| PublishMessage::build().payload(p));
        let raw = measure(SEQUENTIAL, raw_sequential(js, subject, messages));
        // Raw, encoding each event in the loop (and dropping it) as ours
        // must: what any writer of JSON events pays on top of the publish.
        let subject = format!("{name}.events.seq.rae-{round}");
        let to_encode: Vec<Event> = (1..=SEQUENTIAL).map(|v| event(&actor, v)).collect();
        let encoding = to_encode
            .into_iter()
            .map(|e| PublishMessage::build().payload(Bytes::from(e.to_json_bytes().unwrap())));
        let raw_encoding = measure(SEQUENTIAL, raw_sequential(js, subject, encoding));
        // Who goes first rotates, so that no side always runs on the
        // stream (and machine) another one just warmed or loaded.
        let [ours, raw, raw_encoding] = rotated(
            round,
            [Box::pin(ours), Box::pin(raw), Box::pin(raw_encoding)],
        )
        .await;
        seq.push_ours(ours);
        seq.push_raw(raw);
        seq_encoding.push_ours(ours);
        seq_encoding.push_raw(raw_encoding);
    }
    pairs.push(seq);
    pairs.push(seq_encoding);

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
    let mut bare = Pair::new("pipelined appends, 1,000 actors", "appends/s");
    let mut occ = Pair::new("  same, vs raw OCC pipelined", "appends/s");
    let mut same = Pair::new("  same, vs raw OCC + message id", "appends/s");
    for round in 0..if run("pipe") { rounds } else { 0 } {
        let batch = work(&mut next);
        // The raw publishers send the very bytes ours will encode, per actor
        // in version order, under fresh message ids (ids seen before would be
        // answered as duplicates without being stored).
        let mut payloads: Vec<Vec<Bytes>> = vec![Vec::new(); ACTORS];
        for (i, (_, _, events)) in batch.iter().enumerate() {
            payloads[i % ACTORS].extend(encoded(events));
        }
        let payloads = &payloads;
        let ids = &fresh_ids(total as usize);

        let (r, c) = measure(total, async {
            for r in store.append_many(batch).await {
                r.unwrap();
            }
        })
        .await;
        for p in [&mut bare, &mut occ, &mut same] {
            p.push_ours((r, c));
        }

        // Raw pipelined publish: no headers, 256 in flight over 1,000
        // subjects (several in flight per subject).
        let (r, c) = measure(total, async {
            futures::stream::iter(0..total as usize)
                .map(|i| async move {
                    let (a, k) = (i % ACTORS, i / ACTORS);
                    let subject = format!("{name}.events.pipe.rp{round}-{a}");
                    js.publish(subject, payloads[a][k].clone())
                        .await
                        .unwrap()
                        .await
                        .unwrap();
                })
                .buffer_unordered(IN_FLIGHT)
                .collect::<Vec<_>>()
                .await;
        })
        .await;
        bare.push_raw((r, c));

        // Raw pipelined publish with the header OCC needs (the expected
        // subject sequence: exactly what ours sends): one at a time per
        // subject, 256 subjects in flight, as any correct optimistic writer
        // must.
        let (r, c) = measure(total, async {
            futures::stream::iter(0..ACTORS)
                .map(|a| async move {
                    let subject = format!("{name}.events.pipe.ro{round}-{a}");
                    // Collected: a borrowing iterator held across awaits
                    // would not be `Send`.
                    let messages: Vec<_> = payloads[a]
                        .iter()
                        .map(|p| PublishMessage::build().payload(p.clone()))
                        .collect();
                    raw_sequential(js, subject, messages).await;
                })
                .buffer_unordered(IN_FLIGHT)
                .collect::<Vec<_>>()
                .await;
        })
        .await;
        occ.push_raw((r, c));

        // The same plus a message id (server dedupe), as the store wrote
        // until December 2026 and a raw writer wanting dedupe would.
        let (r, c) = measure(total, async {
            futures::stream::iter(0..ACTORS)
                .map(|a| async move {
                    let subject = format!("{name}.events.pipe.rh{round}-{a}");
                    let messages: Vec<_> = payloads[a]
                        .iter()
                        .enumerate()
                        .map(|(k, p)| {
                            PublishMessage::build()
                                .payload(p.clone())
                                .message_id(&ids[a * PIPELINED_PER_ACTOR as usize + k])
                        })
                        .collect();
                    raw_sequential(js, subject, messages).await;
                })
                .buffer_unordered(IN_FLIGHT)
                .collect::<Vec<_>>()
                .await;
        })
        .await;
        same.push_raw((r, c));
    }
    pairs.extend([bare, occ, same]);

    // 3. Uncached latest version (always asks the server). On this R1
    // stream the store reads the tip by direct get; the leader's message get
    // is shown as context.
    let mut latest = Pair::new("latest version, uncached, R1", "lookups/s");
    let mut latest_leader = Pair::new("  same, vs raw leader message get", "lookups/s");
    let subjects: Vec<String> = actors.iter().map(|a| store.subject_for(a)).collect();
    for _ in 0..if run("latest") { rounds } else { 0 } {
        let ours = latest_lookups(&store, &actors).await;
        latest.push_ours(ours);
        latest_leader.push_ours(ours);
        latest.push_raw(raw_direct_gets(&stream, &subjects).await);
        latest_leader.push_raw(raw_leader_gets(&stream, &subjects).await);
    }
    pairs.extend([latest, latest_leader]);

    // 3b. The same on an R3 stream of a 3-server cluster, where the store
    // asks the leader (a follower answering a direct get may lag).
    let mut latest3 = Pair::new("latest version, uncached, R3", "lookups/s");
    let mut latest3_direct = Pair::new("  same, vs raw direct get (any replica)", "lookups/s");
    if run("latest3") {
        let cluster = aether_testkit::NatsCluster::start().await;
        let store3 = JetStreamEventStore::connect(
            cluster.client_url(),
            JetStreamConfig {
                stream_name: "BENCH".into(),
                namespace: "r3".into(),
                replicas: 3,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let batch: Vec<_> = actors
            .iter()
            .map(|a| (a.clone(), ExpectedVersion::Exact(0), vec![event(a, 1)]))
            .collect();
        for r in store3.append_many(batch).await {
            r.unwrap();
        }
        let js3 = async_nats::jetstream::new(store3.client().clone());
        let stream3 = js3.get_stream(store3.stream_name()).await.unwrap();
        let subjects3: Vec<String> = actors.iter().map(|a| store3.subject_for(a)).collect();
        for _ in 0..rounds {
            let ours = latest_lookups(&store3, &actors).await;
            latest3.push_ours(ours);
            latest3_direct.push_ours(ours);
            latest3.push_raw(raw_leader_gets(&stream3, &subjects3).await);
            latest3_direct.push_raw(raw_direct_gets(&stream3, &subjects3).await);
        }
    }
    pairs.extend([latest3, latest3_direct]);

    // 4. Replay of 100,000 events of one actor, one event per message (as
    // appended one at a time). Built with pipelined raw publishes of our exact
    // messages (the store's format and header), to save setup time.
    let long = ActorId::new("long-1").unwrap();
    let subject = store.subject_for(&long);
    let plain = format!("{name}.events.plain.lon-1");
    let mut replay = Pair::new("replay 100,000 events, one actor", "events/s");
    let mut replay_value = Pair::new("  same, vs raw consumer + Value decode", "events/s");
    let mut replay_own = Pair::new("  same, vs raw consumer over our messages", "events/s");
    if run("replay") {
        let mut acks = Vec::new();
        let mut size = 0;
        // Our messages carry what the store writes: the expected subject
        // sequence (nothing else). Publishes from this one connection are
        // stored in order, ours and plain alternating, so each of ours
        // expects the sequence two before its own.
        let mut next_seq = stream.clone().info().await.unwrap().state.last_sequence + 1;
        let mut ours_last = 0u64;
        for v in 1..=REPLAY {
            let e = event(&long, v);
            let payload = Bytes::from(e.to_json_bytes().unwrap());
            size = payload.len();
            let mut h = async_nats::HeaderMap::new();
            h.insert(
                async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                ours_last.to_string().as_str(),
            );
            acks.push(
                js.publish_with_headers(subject.clone(), h, payload)
                    .await
                    .unwrap(),
            );
            ours_last = next_seq;
            // The raw side: plain messages of the same payload size, no headers.
            acks.push(
                js.publish(plain.clone(), Bytes::from(vec![b'x'; size]))
                    .await
                    .unwrap(),
            );
            next_seq += 2;
            if acks.len() >= 512 {
                for a in acks.drain(..) {
                    a.await.unwrap();
                }
            }
        }
        for a in acks {
            a.await.unwrap();
        }
        println!("(replay: {REPLAY} messages of {size} bytes each side)");
    }
    let raw_consume = |filter: String, decode: bool| {
        let stream = &stream;
        async move {
            let consumer = stream
                .create_consumer(OrderedConfig {
                    filter_subject: filter,
                    deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 1 },
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut messages = consumer.messages().await.unwrap();
            let mut n = 0u64;
            let mut values = Vec::new();
            while let Some(m) = messages.next().await {
                let m = m.unwrap();
                n += 1;
                if decode {
                    values.push(serde_json::from_slice::<serde_json::Value>(&m.payload).ok());
                } else {
                    std::hint::black_box(&m.payload);
                }
                if n == REPLAY {
                    break;
                }
            }
            (messages, values)
        }
    };
    for _ in 0..if run("replay") { rounds } else { 0 } {
        // What each side read is dropped after timing.
        let (r, events) = measure_keep(REPLAY, async {
            let events = store.read(&long, 1).await.unwrap();
            assert_eq!(events.len() as u64, REPLAY);
            events
        })
        .await;
        replay.push_ours(r);
        replay_value.push_ours(r);
        replay_own.push_ours(r);
        drop(events);
        let (r, kept) = measure_keep(REPLAY, raw_consume(plain.clone(), false)).await;
        replay.push_raw(r);
        drop(kept);
        // The floor of any JSON decoder: our events' bytes into `Value`s.
        let (r, kept) = measure_keep(REPLAY, raw_consume(subject.clone(), true)).await;
        replay_value.push_raw(r);
        drop(kept);
        let (r, kept) = measure_keep(REPLAY, raw_consume(subject.clone(), false)).await;
        replay_own.push_raw(r);
        drop(kept);
    }
    pairs.push(replay);
    pairs.push(replay_value);
    pairs.push(replay_own);

    println!();
    println!(
        "{:<34} {:>9} {:>9} {:>6} {:>11}  {:>13}  unit",
        "operation", "ours", "raw", "ratio", "ratio range", "CPU us ours/raw"
    );
    for p in pairs.iter().filter(|p| !p.ours.is_empty()) {
        let ratios = p.ratios();
        let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ratios.iter().copied().fold(0.0, f64::max);
        println!(
            "{:<34} {:>9.0} {:>9.0} {:>6.2} {:>5.2}-{:<5.2}  {:>6.1}/{:<6.1}  {}",
            p.name,
            median(p.ours.clone()),
            median(p.raw.clone()),
            median(ratios),
            lo,
            hi,
            median(p.ours_cpu.clone()),
            median(p.raw_cpu.clone()),
            p.unit
        );
    }
    println!(
        "(nats-server {}, medians of {rounds} interleaved rounds; ratio = median of per-round \
         ours/raw; CPU = this process's CPU time per operation, the server not included)",
        store.client().server_info().version
    );
}
