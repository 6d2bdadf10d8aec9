//! The actor runtime on one node, each figure beside its raw baseline in the
//! same run.
//!
//! `cargo bench -p aether-cluster --bench runtime`
//! (env `RUNTIME_BENCH=local,throughput,activation,passivation` to pick parts)
//!
//! 1. **local ask** on the in-memory store: latency of sequential asks on one
//!    actor (p50, p99) against `Repository::execute_loaded` on the same store
//!    (the same decide + append + apply, called directly, no actor);
//! 2. **per-actor throughput** on JetStream (R1 file): 64 concurrent callers
//!    on one actor against raw async-nats sequential OCC appends (publish with
//!    the expected last subject sequence, wait for the ack, next); and the
//!    latency of a lone ask against one raw OCC append;
//! 3. **cold activation** on JetStream of an actor with 10,000 events and a
//!    snapshot 100 events behind: the first query after passivation (load +
//!    turn), against raw async-nats fetching the same (the snapshot's last
//!    message, then an ordered consumer over the 100-event tail);
//! 4. **passivation**: 1,000,000 distinct actors touched with a 10,000 limit
//!    on the memory store: resident actors at most, and the memory an idle
//!    active actor costs (resident set size per actor).

mod common;

use common::{pct, raw_occ_append, raw_stream, us};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_cluster::runtime::{ActorConfig, ActorSystem, GroupCommit, Passivation, RuntimeConfig};
use aether_core::aggregate::{Loaded, Repository};
use aether_core::{ActorId, Event, EventStore, ExpectedVersion, Snapshot, SnapshotStore, json};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_store_memory::InMemoryEventStore;
use aether_testkit::NatsServer;
use aether_testkit::fixtures::{Counter, Value};
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use bytes::Bytes;
use futures::StreamExt;

fn counter_id(i: u64) -> ActorId {
    ActorId::new(format!("counter-{i}")).unwrap()
}

async fn local() {
    const N: usize = 50_000;
    println!("\n## local ask, memory store, one actor, {N} sequential asks");
    let store = InMemoryEventStore::new();
    let sys = ActorSystem::builder()
        .events(store.clone())
        .register::<Counter>(ActorConfig::default())
        .start()
        .await
        .unwrap();
    let actor = sys.get::<Counter>(counter_id(1)).unwrap();
    let repo = Repository::<Counter, _>::new(store.clone());
    let raw_id = counter_id(2);
    let mut loaded: Loaded<Counter> = Loaded::default();
    for _ in 0..2_000 {
        actor.ask(1).await.unwrap();
        repo.execute_loaded(&raw_id, &mut loaded, 1).await.unwrap();
    }
    // The caller is a task, as in a server (not the main thread).
    let (ours, raw) = tokio::spawn(async move {
        let (mut ours, mut raw) = (Vec::with_capacity(N), Vec::with_capacity(N));
        for _ in 0..N {
            let t = Instant::now();
            actor.ask(1).await.unwrap();
            ours.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            repo.execute_loaded(&raw_id, &mut loaded, 1).await.unwrap();
            raw.push(t.elapsed().as_secs_f64());
        }
        (ours, raw)
    })
    .await
    .unwrap();
    let (o50, o99, r50, r99) = (
        pct(ours.clone(), 0.5),
        pct(ours, 0.99),
        pct(raw.clone(), 0.5),
        pct(raw, 0.99),
    );
    println!("| | p50 | p99 |");
    println!("|---|---|---|");
    println!("| ask through the runtime | {} | {} |", us(o50), us(o99));
    println!(
        "| `execute_loaded` (no actor) | {} | {} |",
        us(r50),
        us(r99)
    );
    println!(
        "ask p50 {} (target ≤ 20 µs); the runtime's cost over execute_loaded: {:.1}× at p50, +{} per ask",
        us(o50),
        o50 / r50,
        us(o50 - r50)
    );
    sys.shutdown().await.unwrap();
}

async fn throughput(url: &str) {
    const CALLERS: usize = 64;
    const PER_CALLER: usize = 200;
    const RAW: usize = 2_000;
    println!(
        "\n## per-actor throughput, JetStream R1 file: {CALLERS} callers x {PER_CALLER} asks on one actor"
    );
    let config = JetStreamConfig {
        stream_name: "RTBENCH".into(),
        ..Default::default()
    };
    let store = JetStreamEventStore::connect(url, config).await.unwrap();
    let sys = ActorSystem::builder()
        .events(store.clone())
        .register::<Counter>(ActorConfig {
            group_commit: GroupCommit::default(),
            ..ActorConfig::default()
        })
        .start()
        .await
        .unwrap();
    let client = store.client().clone();
    raw_stream(&client, "RTRAW", "rtraw").await;
    let js = async_nats::jetstream::new(client.clone());
    let sample = Event::new(counter_id(0), 1, "Added", json!({"by": 1}));
    let payload = Bytes::from(sample.to_json_bytes().unwrap());

    for round in 0..3 {
        // Raw: one writer, sequential OCC appends on one subject; then ours,
        // a lone caller (latency). Both callers are tasks, as in a server.
        let (raw_rate, lone_raw, lone_ours) = {
            let (js, payload) = (js.clone(), payload.clone());
            let lone = sys.get::<Counter>(counter_id(1000 + round)).unwrap();
            tokio::spawn(async move {
                let subject = format!("rtraw.a{round}");
                let mut seq = 0;
                let t = Instant::now();
                for _ in 0..RAW {
                    seq = raw_occ_append(&js, &subject, &payload, seq).await;
                }
                let raw_rate = RAW as f64 / t.elapsed().as_secs_f64();
                // Latency: a raw append and a lone ask, alternately.
                lone.ask(1).await.unwrap();
                let (mut lone_raw, mut lone_ours) = (Vec::new(), Vec::new());
                for _ in 0..1_000 {
                    let s = Instant::now();
                    seq = raw_occ_append(&js, &subject, &payload, seq).await;
                    lone_raw.push(s.elapsed().as_secs_f64());
                    let s = Instant::now();
                    lone.ask(1).await.unwrap();
                    lone_ours.push(s.elapsed().as_secs_f64());
                }
                (raw_rate, lone_raw, lone_ours)
            })
            .await
            .unwrap()
        };
        let hot = sys.get::<Counter>(counter_id(2000 + round)).unwrap();
        hot.ask(1).await.unwrap();
        let t = Instant::now();
        let tasks: Vec<_> = (0..CALLERS)
            .map(|_| {
                let hot = hot.clone();
                tokio::spawn(async move {
                    for _ in 0..PER_CALLER {
                        hot.ask(1).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let ours_rate = (CALLERS * PER_CALLER) as f64 / t.elapsed().as_secs_f64();
        assert_eq!(
            hot.query(Value).await.unwrap(),
            (CALLERS * PER_CALLER + 1) as u64
        );
        let (l_ours, l_raw) = (pct(lone_ours, 0.5), pct(lone_raw, 0.5));
        println!(
            "round {round}: 64 callers {:.0} commands/s vs raw sequential OCC append {:.0}/s = {:.2}x (target ≥ 5x); \
             lone ask p50 {} vs raw append p50 {} = {:.2}x (target ≤ 1.2x)",
            ours_rate,
            raw_rate,
            ours_rate / raw_rate,
            us(l_ours),
            us(l_raw),
            l_ours / l_raw
        );
    }
    sys.shutdown().await.unwrap();
}

async fn activation(url: &str) {
    const ACTORS: u64 = 20;
    const HISTORY: u64 = 10_000;
    const TAIL: u64 = 100;
    println!(
        "\n## cold activation, JetStream R1 file: {ACTORS} actors of {HISTORY} events, snapshot {TAIL} events behind"
    );
    let config = JetStreamConfig {
        stream_name: "RTACT".into(),
        ..Default::default()
    };
    let store = JetStreamEventStore::connect(url, config).await.unwrap();
    let snaps = store.open_snapshot_store().await.unwrap();
    for a in 0..ACTORS {
        let id = counter_id(a);
        let mut v = 0;
        // The bulk in atomic appends of 100, the tail one event at a time
        // (as a lightly loaded actor writes it).
        while v < HISTORY - TAIL {
            let batch: Vec<Event> = (v + 1..=v + 100)
                .map(|x| Event::new(id.clone(), x, "Added", json!({"by": 1})))
                .collect();
            v = store
                .append_batch(&id, ExpectedVersion::Exact(v), batch)
                .await
                .unwrap();
        }
        snaps
            .save_snapshot(
                Snapshot::new(id.clone(), v, json!({"value": v, "adds": v})).with_schema_version(1),
            )
            .await
            .unwrap();
        while v < HISTORY {
            v = store
                .append(Event::new(id.clone(), v + 1, "Added", json!({"by": 1})))
                .await
                .unwrap();
        }
    }
    let sys = ActorSystem::builder()
        .events(store.clone())
        .snapshots(snaps.clone())
        .register::<Counter>(ActorConfig {
            passivation: Passivation {
                snapshot_after: 0,
                ..Passivation::default()
            },
            ..ActorConfig::default()
        })
        .start()
        .await
        .unwrap();
    let js = async_nats::jetstream::new(store.client().clone());
    let events_stream = js.get_stream(store.stream_name()).await.unwrap();
    let snap_stream = js
        .get_stream(store.config().snapshot_stream_name().unwrap())
        .await
        .unwrap();
    let js = async_nats::jetstream::new(store.client().clone());
    if std::env::var("RUNTIME_BENCH_PARTS").is_ok() {
        let id = counter_id(0);
        for _ in 0..5 {
            let t = Instant::now();
            let s = snaps.latest_snapshot(&id).await.unwrap().unwrap();
            let t1 = t.elapsed();
            let t = Instant::now();
            let tail = store.read(&id, s.version + 1).await.unwrap();
            let t2 = t.elapsed();
            let t = Instant::now();
            store.latest_version(&id).await.unwrap();
            let t3 = t.elapsed();
            println!(
                "snapshot {t1:?}, read tail of {} {t2:?}, latest {t3:?}",
                tail.len()
            );
            // Raw batched direct get of the same 100 messages.
            let client = store.client().clone();
            let inbox = client.new_inbox();
            let mut sub = client.subscribe(inbox.clone()).await.unwrap();
            let t = Instant::now();
            let req = serde_json::json!({"seq": 190, "next_by_subj": store.subject_for(&id), "batch": 11, "up_to_seq": 199});
            client
                .publish_with_reply(
                    format!("$JS.API.DIRECT.GET.{}", store.stream_name()),
                    inbox,
                    serde_json::to_vec(&req).unwrap().into(),
                )
                .await
                .unwrap();
            let mut n = 0;
            while let Some(m) = sub.next().await {
                if m.status.is_some() && m.status != Some(async_nats::StatusCode::OK) {
                    break;
                }
                n += 1;
            }
            println!("raw direct batch of {n}: {:?}", t.elapsed());
            let t = Instant::now();
            let consumer = js
                .get_stream(store.stream_name())
                .await
                .unwrap()
                .create_consumer(OrderedConfig {
                    filter_subject: store.subject_for(&id),
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: 190,
                    },
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut msgs = consumer.messages().await.unwrap();
            let mut n = 0;
            while let Some(m) = msgs.next().await {
                let m = m.unwrap();
                n += 1;
                if m.info().unwrap().stream_sequence >= 199 {
                    break;
                }
            }
            println!("raw consumer of {n}: {:?}", t.elapsed());
        }
    }
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for round in 0..10 {
        for a in 0..ACTORS {
            let id = counter_id(a);
            let actor = sys.get::<Counter>(id.clone()).unwrap();
            let t = Instant::now();
            let value = actor.query(Value).await.unwrap();
            ours.push(t.elapsed().as_secs_f64());
            assert_eq!(value, HISTORY);
            actor.passivate();
            while actor.is_active() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // Raw: the snapshot's message, then the tail with an ordered consumer.
            let t = Instant::now();
            let snap_subject = format!("{}.snapshots.counter.counter-{a}", store.stream_name());
            let snap = snap_stream
                .get_last_raw_message_by_subject(&snap_subject)
                .await
                .unwrap();
            let _state: serde_json::Value = serde_json::from_slice(&snap.payload).unwrap();
            let last = events_stream
                .get_last_raw_message_by_subject(&store.subject_for(&id))
                .await
                .unwrap();
            let consumer = events_stream
                .create_consumer(OrderedConfig {
                    filter_subject: store.subject_for(&id),
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: last.sequence - (TAIL - 1) * ACTORS.min(1),
                    },
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut messages = consumer.messages().await.unwrap();
            let mut n = 0;
            while let Some(m) = messages.next().await {
                let m = m.unwrap();
                n += 1;
                if m.info().unwrap().stream_sequence >= last.sequence {
                    break;
                }
            }
            raw.push(t.elapsed().as_secs_f64());
            let _ = (n, round);
        }
    }
    println!(
        "first query after passivation: p50 {} p99 {} (target p99 ≤ 2 ms); raw snapshot get + ordered consumer over the tail: p50 {} p99 {}; ratio p99 {:.2}x",
        us(pct(ours.clone(), 0.5)),
        us(pct(ours.clone(), 0.99)),
        us(pct(raw.clone(), 0.5)),
        us(pct(raw.clone(), 0.99)),
        pct(ours, 0.99) / pct(raw, 0.99)
    );
    sys.shutdown().await.unwrap();
}

/// Counts allocations, for the memory an actor costs.
#[global_allocator]
static ALLOCATOR: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

/// Bytes allocated and not yet freed.
fn live_bytes() -> i64 {
    let s = ALLOCATOR.stats();
    s.bytes_allocated as i64 + s.bytes_reallocated as i64 - s.bytes_deallocated as i64
}

async fn passivation() {
    const TOUCHED: u64 = 1_000_000;
    const LIMIT: usize = 10_000;
    const CONCURRENT: u64 = 500;
    println!("\n## passivation: {TOUCHED} distinct actors touched, limit {LIMIT}, memory store");
    let store = InMemoryEventStore::new();
    let sys = ActorSystem::builder()
        .events(store.clone())
        .config(RuntimeConfig {
            max_active: LIMIT,
            ..RuntimeConfig::default()
        })
        .register::<Counter>(ActorConfig::default())
        .start()
        .await
        .unwrap();
    let sys = Arc::new(sys);
    let before = live_bytes();
    let events_before = store.event_count();
    // Memory of idle active actors: activate LIMIT of them and measure.
    for chunk in 0..(LIMIT as u64 / CONCURRENT) {
        let tasks: Vec<_> = (0..CONCURRENT)
            .map(|i| {
                let a = sys
                    .get::<Counter>(counter_id(chunk * CONCURRENT + i))
                    .unwrap();
                tokio::spawn(async move { a.ask(1).await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }
    let per_actor = (live_bytes() - before) as f64 / LIMIT as f64;
    // What the memory store keeps for the one event of each (not the runtime's).
    let store_share = {
        let probe = InMemoryEventStore::new();
        let b = live_bytes();
        for i in 0..1000 {
            probe
                .append(Event::new(counter_id(i), 1, "Added", json!({"by": 1})))
                .await
                .unwrap();
        }
        (live_bytes() - b) as f64 / 1000.0
    };
    let _ = events_before;
    let t = Instant::now();
    let mut peak = 0;
    let mut touched = LIMIT as u64;
    while touched < TOUCHED {
        let tasks: Vec<_> = (0..CONCURRENT)
            .map(|i| {
                let a = sys.get::<Counter>(counter_id(touched + i)).unwrap();
                tokio::spawn(async move { a.ask(1).await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        touched += CONCURRENT;
        peak = peak.max(sys.running_tasks());
    }
    let took = t.elapsed();
    println!(
        "resident actors at most {peak} (limit {LIMIT}, target ≤ {}: {}), {:.0} activations/s; \
         memory per idle active actor {:.0} bytes allocated, of which the memory store's copy of its \
         event {:.0} bytes: the runtime's own {:.0} bytes (state: a 16-byte counter)",
        LIMIT + LIMIT / 100,
        if peak <= LIMIT + LIMIT / 100 {
            "met"
        } else {
            "not met"
        },
        (TOUCHED - LIMIT as u64) as f64 / took.as_secs_f64(),
        per_actor,
        store_share,
        per_actor - store_share
    );
    sys.shutdown().await.unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let parts = std::env::var("RUNTIME_BENCH")
        .unwrap_or_else(|_| "local,throughput,activation,passivation".into());
    if parts.contains("local") {
        local().await;
    }
    if parts.contains("throughput") || parts.contains("activation") {
        let server = NatsServer::start().await;
        if parts.contains("throughput") {
            throughput(&server.url()).await;
        }
        if parts.contains("activation") {
            activation(&server.url()).await;
        }
    }
    if parts.contains("passivation") {
        passivation().await;
    }
}
