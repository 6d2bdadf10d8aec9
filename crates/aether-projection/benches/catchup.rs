//! Projection catch-up and live lag against raw async-nats, in one run.
//!
//! `cargo bench -p aether-projection --bench catchup` (env: `BENCH_EVENTS`,
//! default 1,000,000 events of 1,000 actors; `BENCH_ROUNDS`, default 3).
//!
//! - catch-up: a runner with a counting projection reads the whole log
//!   (decoded into `Event`s, filtered, handled) against a raw ordered
//!   consumer over the same stream reading bytes only, and the same plus
//!   `serde_json::Value` decoding of each payload; as context, a raw pull
//!   consumer with the log subscription's settings and window, bytes only;
//! - live lag: append → handler call, one event at a time, against raw
//!   publish ack → ordered consumer delivery.

use std::time::{Duration, Instant};

use aether_core::{ActorId, Event, EventStore, ExpectedVersion, LogPosition, Result, json};
use aether_projection::{MemoryCheckpoints, Projection, ProjectionRunner};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore, PULL_BATCH};
use aether_testkit::{NatsServer, bench};
use async_nats::jetstream::consumer::pull::{self, OrderedConfig};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy};
use futures::StreamExt;
use tokio::sync::mpsc;

struct Count {
    seen: u64,
    tell: Option<mpsc::UnboundedSender<Instant>>,
}

impl Projection for Count {
    fn name(&self) -> &str {
        "bench"
    }
    async fn handle(&mut self, event: &Event, _at: LogPosition) -> Result<()> {
        self.seen += event.version.min(1);
        if let Some(t) = &self.tell {
            let _ = t.send(Instant::now());
        }
        Ok(())
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let actors = 1_000u64;
    let server = NatsServer::start().await;
    let store = JetStreamEventStore::connect(
        &server.url(),
        JetStreamConfig {
            namespace: "bench".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let started = Instant::now();
    let per_actor = events / actors;
    for v in 1..=per_actor {
        let work: Vec<_> = (0..actors)
            .map(|n| {
                let a = ActorId::new(format!("acct-{n}")).unwrap();
                let e = Event::new(
                    a.clone(),
                    v,
                    "Deposited",
                    json!({"cents": 100, "memo": "a bench deposit of a typical size"}),
                );
                (a, ExpectedVersion::Exact(v - 1), vec![e])
            })
            .collect();
        for r in store.append_many(work).await {
            r.unwrap();
        }
        if v % 100 == 0 {
            eprintln!("  setup: {} of {events} events", v * actors);
        }
    }
    let total = per_actor * actors;
    println!(
        "(setup: {total} events of {actors} actors in {:.1?})",
        started.elapsed()
    );
    let js = async_nats::jetstream::new(store.client().clone());
    let stream = js.get_stream(store.stream_name()).await.unwrap();
    let filter = format!("{}.events.>", store.stream_name());

    let raw = |decode: bool| {
        let (stream, filter) = (&stream, filter.clone());
        async move {
            let t = Instant::now();
            let consumer = stream
                .create_consumer(OrderedConfig {
                    filter_subject: filter,
                    deliver_policy: DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut messages = consumer.messages().await.unwrap();
            let mut n = 0;
            let mut ok = 0u64;
            while let Some(m) = messages.next().await {
                let m = m.unwrap();
                if decode {
                    ok +=
                        u64::from(serde_json::from_slice::<serde_json::Value>(&m.payload).is_ok());
                } else {
                    std::hint::black_box(&m.payload);
                }
                n += 1;
                if n == total {
                    break;
                }
            }
            std::hint::black_box(ok);
            total as f64 / t.elapsed().as_secs_f64()
        }
    };
    let server_pid = server.pid().expect("the server runs");
    // CPU per event of the client (this process) and of the server.
    let cpu = || (bench::cpu_ns(), bench::process_cpu_ns(server_pid));
    let per_event = |before: (u64, u64)| {
        let after = cpu();
        (
            (after.0 - before.0) as f64 / total as f64 / 1e3,
            (after.1 - before.1) as f64 / total as f64 / 1e3,
        )
    };
    // Context: a raw pull consumer configured as the log subscription's
    // (the ordered consumer's settings, a 2,000-message pull window).
    let raw_window = || {
        let (stream, filter) = (&stream, filter.clone());
        async move {
            let t = Instant::now();
            let consumer = stream
                .create_consumer(pull::Config {
                    filter_subject: filter,
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::None,
                    memory_storage: true,
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut messages = consumer
                .stream()
                .max_messages_per_batch(PULL_BATCH)
                .messages()
                .await
                .unwrap();
            let mut n = 0;
            while let Some(m) = messages.next().await {
                std::hint::black_box(&m.unwrap().payload);
                n += 1;
                if n == total {
                    break;
                }
            }
            total as f64 / t.elapsed().as_secs_f64()
        }
    };
    let (mut ours, mut bytes, mut values, mut window) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut ours_cpu, mut bytes_cpu, mut values_cpu) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let before = cpu();
        let t = Instant::now();
        let mut running = ProjectionRunner::new(
            store.clone(),
            Count {
                seen: 0,
                tell: None,
            },
            MemoryCheckpoints::new(),
        )
        .start();
        running.wait_for(|s| s.handled == total).await;
        let rate = total as f64 / t.elapsed().as_secs_f64();
        let (p, _) = running.stop().await.unwrap();
        assert_eq!(p.seen, total);
        ours.push(rate);
        ours_cpu.push(per_event(before));
        eprintln!("  round {round}: ours {rate:.0}/s");
        let before = cpu();
        bytes.push(raw(false).await);
        bytes_cpu.push(per_event(before));
        eprintln!("  round {round}: raw bytes only {:.0}/s", bytes[round - 1]);
        let before = cpu();
        values.push(raw(true).await);
        values_cpu.push(per_event(before));
        eprintln!("  round {round}: raw + Value {:.0}/s", values[round - 1]);
        window.push(raw_window().await);
        eprintln!(
            "  round {round}: raw pull, {PULL_BATCH}-message window {:.0}/s",
            window[round - 1]
        );
    }
    let cpu_text = |v: &[(f64, f64)]| {
        format!(
            "CPU/event: client {:.2} us, server {:.2} us",
            bench::median(v.iter().map(|c| c.0).collect()),
            bench::median(v.iter().map(|c| c.1).collect())
        )
    };
    let ratio = |a: &[f64], b: &[f64]| bench::median(a.iter().zip(b).map(|(x, y)| x / y).collect());
    println!();
    println!("catch-up of {total} events, {rounds} interleaved rounds (medians):");
    println!(
        "  ours (runner, decoded + handled): {:>9.0} events/s             {}",
        bench::median(ours.clone()),
        cpu_text(&ours_cpu)
    );
    println!(
        "  raw ordered consumer, bytes only: {:>9.0} msgs/s  ratio {:.2}  {}",
        bench::median(bytes.clone()),
        ratio(&ours, &bytes),
        cpu_text(&bytes_cpu)
    );
    println!(
        "  raw ordered consumer + Value:     {:>9.0} msgs/s  ratio {:.2}  {}",
        bench::median(values.clone()),
        ratio(&ours, &values),
        cpu_text(&values_cpu)
    );

    println!(
        "  (context) raw pull consumer, {PULL_BATCH}-message window, bytes only: {:>9.0} msgs/s  ratio {:.2}",
        bench::median(window.clone()),
        ratio(&ours, &window)
    );

    // Live lag.
    const LIVE: usize = 2_000;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut running = ProjectionRunner::new(
        store.clone(),
        Count {
            seen: 0,
            tell: Some(tx),
        },
        MemoryCheckpoints::new(),
    )
    .start();
    running.wait_for(|s| s.handled == total).await;
    while rx.try_recv().is_ok() {}
    let a = ActorId::new("live-1").unwrap();
    let mut ours_lag = Vec::new();
    for v in 1..=LIVE as u64 {
        store
            .append(Event::new(a.clone(), v, "Deposited", json!({"cents": 1})))
            .await
            .unwrap();
        let acked = Instant::now();
        let seen = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        ours_lag.push(seen.saturating_duration_since(acked).as_secs_f64() * 1e6);
    }
    running.stop().await.unwrap();
    let live_subject = format!("{}.events.raw.live-1", store.stream_name());
    let consumer = stream
        .create_consumer(OrderedConfig {
            filter_subject: live_subject.clone(),
            deliver_policy: DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut raw_lag = Vec::new();
    for _ in 0..LIVE {
        js.publish(live_subject.clone(), "{\"cents\":1}".into())
            .await
            .unwrap()
            .await
            .unwrap();
        let acked = Instant::now();
        messages.next().await.unwrap().unwrap();
        raw_lag.push(acked.elapsed().as_secs_f64() * 1e6);
    }
    println!(
        "live lag, append ack -> handler ({LIVE} events): ours p50 {:.0} us, p99 {:.0} us; raw ack -> consumer p50 {:.0} us, p99 {:.0} us",
        percentile(&mut ours_lag, 0.5),
        percentile(&mut ours_lag, 0.99),
        percentile(&mut raw_lag, 0.5),
        percentile(&mut raw_lag, 0.99)
    );
}
