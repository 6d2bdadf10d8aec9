//! Aether's JetStream store, the closest Rust event log on JetStream
//! (eventsourced-nats 0.16) and raw async-nats, side by side: one
//! nats-server, one process, rounds interleaved, each side on its own
//! connection.
//!
//! Run: `scripts/bench-peers.sh` (installs `protoc`, which the peer's build
//! needs, and nats-server when missing). Optional env: `BENCH_ROUNDS`
//! (default 5), `BENCH_ONLY=seq,latest,replay`.
//!
//! Fairness: all three sides store the same bytes per event (our `Event`'s
//! JSON, about 250 bytes) on subjects of similar length; both libraries are
//! handed the same `Event`s and encode them in the timed loop (raw sends
//! bytes encoded before timing, the floor), and they decode with the same
//! decoder (`Event::from_json_slice`) where they decode. What each
//! side stores around the bytes is its own: ours adds a message id (dedupe)
//! and its version header to the expected-sequence header optimistic
//! concurrency needs; the peer sends the expected sequence only; raw replay
//! reads header-less messages.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use aether_core::{ActorId, Event, EventStore};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use aether_testkit::bench::{cpu_ns, deposit as event, median};
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use eventsourced::event_log::EventLog;
use eventsourced_nats::{NatsEventLog, NatsEventLogConfig};
use futures::StreamExt;

const SEQUENTIAL: u64 = 2_000;
const LOOKUP_ACTORS: usize = 100;
const LOOKUPS: usize = 3_000;
const REPLAY: u64 = 20_000;
const TYPE: &str = "account";

fn encode(e: &Event) -> Bytes {
    Bytes::from(e.to_json_bytes().expect("an event encodes"))
}

/// The peer's encoder and decoder: the very bytes ours stores (`Event`'s
/// JSON, encoded in the timed loop as ours encodes it), decoded by the same
/// function.
fn to_bytes(e: &Event) -> Result<Bytes, aether_core::Error> {
    e.to_json_bytes().map(Bytes::from)
}

fn from_bytes(b: Bytes) -> Result<Event, aether_core::Error> {
    Event::from_json_slice(&b)
}

/// One operation's per-round rates for the three sides.
struct Row {
    name: &'static str,
    unit: &'static str,
    ours: Vec<f64>,
    peer: Vec<f64>,
    raw: Vec<f64>,
    /// Client CPU time per operation (this process), in microseconds.
    cpu: [Vec<f64>; 3],
}

fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x / y).collect()
}

fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    (lo, hi)
}

impl Row {
    fn ours(&mut self, (rate, cpu): (f64, f64)) {
        self.ours.push(rate);
        self.cpu[0].push(cpu);
    }

    fn peer(&mut self, (rate, cpu): (f64, f64)) {
        self.peer.push(rate);
        self.cpu[1].push(cpu);
    }

    fn raw(&mut self, (rate, cpu): (f64, f64)) {
        self.raw.push(rate);
        self.cpu[2].push(cpu);
    }

    fn new(name: &'static str, unit: &'static str) -> Self {
        Self {
            name,
            unit,
            ours: Vec::new(),
            peer: Vec::new(),
            raw: Vec::new(),
            cpu: [Vec::new(), Vec::new(), Vec::new()],
        }
    }

    fn print(&self) {
        let (o_r, p_r, o_p) = (
            ratios(&self.ours, &self.raw),
            ratios(&self.peer, &self.raw),
            ratios(&self.ours, &self.peer),
        );
        let (lo, hi) = range(&o_p);
        let cpu = |i: usize| median(self.cpu[i].clone());
        println!(
            "{:<40} {:>8.0} {:>8.0} {:>8.0} {:>9.2} {:>9.2} {:>9.2} {:>5.2}-{:<5.2} {:>5.1}/{:.1}/{:.1} {}",
            self.name,
            median(self.ours.clone()),
            median(self.peer.clone()),
            median(self.raw.clone()),
            median(o_r),
            median(p_r),
            median(o_p),
            lo,
            hi,
            cpu(0),
            cpu(1),
            cpu(2),
            self.unit
        );
    }
}

/// Runs `work` (`n` operations): its rate and this process's CPU time per
/// operation in microseconds (the server is another process).
async fn timed<T>(n: u64, work: impl std::future::Future<Output = T>) -> ((f64, f64), T) {
    let (start, cpu) = (Instant::now(), cpu_ns());
    let out = work.await;
    let cpu = cpu_ns().saturating_sub(cpu) as f64 / n as f64 / 1e3;
    ((rate(n, start.elapsed()), cpu), out)
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// The raw OCC writer: each publish expects the subject's last sequence.
async fn raw_sequential(js: &async_nats::jetstream::Context, subject: &str, payloads: &[Bytes]) {
    let mut last = 0;
    for payload in payloads {
        let msg = PublishMessage::build()
            .payload(payload.clone())
            .expected_last_subject_sequence(last);
        last = js
            .send_publish(subject.to_string(), msg)
            .await
            .expect("raw publish sent")
            .await
            .expect("raw publish acknowledged")
            .sequence;
    }
}

/// The peer's writer: `persist` with the last sequence number it returned.
async fn peer_sequential(peer: &mut NatsEventLog<String>, id: &str, events: &[Event]) {
    let id = id.to_string();
    let mut last = None;
    for event in events {
        last = Some(
            peer.persist(TYPE, &id, last, event, &to_bytes)
                .await
                .expect("the peer persists"),
        );
    }
}

/// A raw ordered consumer over `filter`'s first `REPLAY` messages, bytes
/// only or decoded like the stores decode.
async fn raw_replay(
    stream: &async_nats::jetstream::stream::Stream,
    filter: &str,
    decode: bool,
) -> Vec<Option<Event>> {
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: filter.to_string(),
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: 1 },
            ..Default::default()
        })
        .await
        .expect("an ordered consumer");
    let mut messages = consumer.messages().await.expect("its messages");
    let mut out = Vec::with_capacity(REPLAY as usize);
    while let Some(m) = messages.next().await {
        let m = m.expect("a message");
        if decode {
            out.push(Event::from_json_slice(&m.payload).ok());
        } else {
            std::hint::black_box(&m.payload);
            out.push(None);
        }
        if out.len() as u64 == REPLAY {
            break;
        }
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // In a task, where service code runs (`BENCH_THREAD=main`: on this thread).
    aether_testkit::bench::in_task(run()).await;
}

async fn run() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let run = |phase: &str| only.is_empty() || only.split(',').any(|p| p == phase);
    let server = NatsServer::start().await;
    let url = server.url();

    let store = JetStreamEventStore::connect(
        &url,
        JetStreamConfig {
            stream_name: "AETHER".into(),
            namespace: "b".into(),
            ..Default::default()
        },
    )
    .await
    .expect("our store opens");
    let mut peer: NatsEventLog<String> = NatsEventLog::new(NatsEventLogConfig {
        server_addr: url.clone(),
        event_stream_name: "PEER".into(),
        setup: true,
        ..Default::default()
    })
    .await
    .expect("the peer's log opens");
    let raw_client = async_nats::connect(&url).await.expect("raw connects");
    let js = async_nats::jetstream::new(raw_client);
    let raw_stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "RAW".into(),
            subjects: vec!["RAW.>".into()],
            allow_direct: true,
            ..Default::default()
        })
        .await
        .expect("the raw stream");
    let mut rows = Vec::new();

    // 1. Sequential appends with optimistic concurrency, one actor per round.
    let mut seq = Row::new("sequential append, one actor", "appends/s");
    for round in 0..if run("seq") { rounds } else { 0 } {
        let actor = ActorId::new(format!("account-seq-{round}")).expect("an actor id");
        let events: Vec<Event> = (1..=SEQUENTIAL).map(|v| event(&actor, v)).collect();
        let payloads: Vec<Bytes> = events.iter().map(encode).collect();
        let id = actor.as_str().to_string();
        let (r, ()) = timed(SEQUENTIAL, peer_sequential(&mut peer, &id, &events)).await;
        seq.peer(r);
        let (r, ()) = timed(SEQUENTIAL, async {
            for e in events {
                store.append(e).await.expect("our append");
            }
        })
        .await;
        seq.ours(r);
        // Raw sends bytes encoded before timing: the floor.
        let subject = format!("RAW.{TYPE}.account-seq-{round}");
        let (r, ()) = timed(SEQUENTIAL, raw_sequential(&js, &subject, &payloads)).await;
        seq.raw(r);
    }
    rows.push(seq);

    // 2. The latest version of an actor, asked of the server each time.
    let mut latest = Row::new("latest version, uncached (R1)", "lookups/s");
    if run("latest") {
        let actors: Vec<ActorId> = (0..LOOKUP_ACTORS)
            .map(|i| ActorId::new(format!("account-l-{i}")).expect("an actor id"))
            .collect();
        for a in &actors {
            let e = event(a, 1);
            let id = a.as_str().to_string();
            peer_sequential(&mut peer, &id, std::slice::from_ref(&e)).await;
            raw_sequential(&js, &format!("RAW.{TYPE}.{id}"), &[encode(&e)]).await;
            store.append(e).await.expect("our append");
        }
        let ids: Vec<String> = actors.iter().map(|a| a.as_str().to_string()).collect();
        let subjects: Vec<String> = ids.iter().map(|id| format!("RAW.{TYPE}.{id}")).collect();
        for _ in 0..rounds {
            let (r, ()) = timed(LOOKUPS as u64, async {
                for i in 0..LOOKUPS {
                    let v = store
                        .latest_version(&actors[i % LOOKUP_ACTORS])
                        .await
                        .expect("our lookup");
                    assert_eq!(v, 1);
                }
            })
            .await;
            latest.ours(r);
            let (r, ()) = timed(LOOKUPS as u64, async {
                for i in 0..LOOKUPS {
                    let s = peer
                        .last_seq_no(TYPE, &ids[i % LOOKUP_ACTORS])
                        .await
                        .expect("the peer's lookup");
                    assert!(s.is_some());
                }
            })
            .await;
            latest.peer(r);
            let (r, ()) = timed(LOOKUPS as u64, async {
                for i in 0..LOOKUPS {
                    let m = raw_stream
                        .direct_get_last_for_subject(subjects[i % LOOKUP_ACTORS].as_str())
                        .await
                        .expect("a raw direct get");
                    assert!(m.sequence > 0);
                }
            })
            .await;
            latest.raw(r);
        }
    }
    rows.push(latest);

    // 3. Replay of one actor's 20,000 events, decoded (raw: bytes only, and
    // decoded with the same function as a second line).
    let mut replay = Row::new("replay 20,000 events, decoded", "events/s");
    let mut replay_dec = Row::new("  same, raw decodes too (Event)", "events/s");
    if run("replay") {
        let actor = ActorId::new("account-long-1").expect("an actor id");
        let events: Vec<Event> = (1..=REPLAY).map(|v| event(&actor, v)).collect();
        let payloads: Vec<Bytes> = events.iter().map(encode).collect();
        // Written as each side writes (one event per append, with its
        // headers); raw's header-less messages are pipelined.
        peer_sequential(&mut peer, "account-long-1", &events).await;
        for e in events {
            store.append(e).await.expect("our append");
        }
        let mut acks = Vec::new();
        for p in &payloads {
            acks.push(
                js.publish(format!("RAW.{TYPE}.account-long-1"), p.clone())
                    .await
                    .expect("raw publish"),
            );
            if acks.len() >= 512 {
                for a in acks.drain(..) {
                    a.await.expect("raw ack");
                }
            }
        }
        for a in acks {
            a.await.expect("raw ack");
        }
        let id = "account-long-1".to_string();
        let filter = format!("RAW.{TYPE}.account-long-1");
        for _ in 0..rounds {
            let (r, kept) = timed(REPLAY, async {
                let events = store.read(&actor, 1).await.expect("our replay");
                assert_eq!(events.len() as u64, REPLAY);
                events
            })
            .await;
            drop(kept);
            replay.ours(r);
            replay_dec.ours(r);
            let (r, kept) = timed(REPLAY, async {
                let stream = peer
                    .events_by_id(TYPE, &id, NonZeroU64::MIN, from_bytes)
                    .await
                    .expect("the peer's replay");
                let events: Vec<_> = stream.take(REPLAY as usize).collect().await;
                assert!(events.iter().all(Result::is_ok));
                events
            })
            .await;
            drop(kept);
            replay.peer(r);
            replay_dec.peer(r);
            let (r, kept) = timed(REPLAY, raw_replay(&raw_stream, &filter, false)).await;
            drop(kept);
            replay.raw(r);
            let (r, kept) = timed(REPLAY, raw_replay(&raw_stream, &filter, true)).await;
            assert!(kept.iter().all(Option::is_some));
            drop(kept);
            replay_dec.raw(r);
        }
    }
    rows.push(replay);
    rows.push(replay_dec);

    println!();
    println!(
        "{:<40} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>11} {:>15} unit",
        "operation",
        "ours",
        "peer",
        "raw",
        "ours/raw",
        "peer/raw",
        "ours/peer",
        "range",
        "CPU us o/p/r"
    );
    for row in rows.iter().filter(|r| !r.ours.is_empty()) {
        row.print();
    }
    println!(
        "(nats-server {}, eventsourced-nats 0.16.0; medians of {rounds} interleaved rounds; \
         ratios are medians of per-round ratios; range is that of ours/peer)",
        store.client().server_info().version
    );
}
