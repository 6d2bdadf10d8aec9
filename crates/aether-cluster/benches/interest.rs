//! RUNTIME.md §8 item 2: do per-shard subjects work on a 3-server NATS
//! cluster? A responder connected to server 1 subscribes to (and later
//! unsubscribes from) a subject; a caller connected to server 3 sends
//! requests to it. Measured:
//!
//! - subscribe → the first request answered from the other server;
//! - unsubscribe → the first "no responders" from the other server, and how
//!   many requests in between timed out instead (what a caller would wait);
//! - 1,024 subjects subscribed (one rebalance's worth on one node) →
//!   all reachable from the other server; and unsubscribed → all answered
//!   "no responders".
//! - the same on one server, for reference.
//!
//! Run: `cargo bench -p aether-cluster --bench interest`.

use std::time::{Duration, Instant};

use aether_testkit::{NatsCluster, NatsServer};
use async_nats::{Client, RequestErrorKind};
use futures::StreamExt;

const ROUNDS: usize = 20;
const PROBE_TIMEOUT: Duration = Duration::from_millis(50);

#[derive(Debug, PartialEq)]
enum Probe {
    Answered,
    NoResponders,
    TimedOut,
}

async fn probe(client: &Client, subject: &str) -> Probe {
    let request = async_nats::Request::new()
        .payload("ping".into())
        .timeout(Some(PROBE_TIMEOUT));
    match client.send_request(subject.to_owned(), request).await {
        Ok(_) => Probe::Answered,
        Err(e) if e.kind() == RequestErrorKind::NoResponders => Probe::NoResponders,
        Err(e) if e.kind() == RequestErrorKind::TimedOut => Probe::TimedOut,
        Err(e) => panic!("request failed: {e}"),
    }
}

/// Answers every request on `subject` until unsubscribed; returns the
/// handle's unsubscribe.
async fn respond(client: &Client, subject: String) -> tokio::task::JoinHandle<()> {
    let mut sub = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    let c = client.clone();
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            if let Some(reply) = m.reply {
                let _ = c.publish(reply, "pong".into()).await;
            }
        }
    })
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn ms(s: f64) -> String {
    format!("{:.2} ms", s * 1e3)
}

struct Figures {
    up: Vec<f64>,
    down: Vec<f64>,
    timeouts_down: usize,
    timeouts_up: usize,
    bulk_up: Vec<f64>,
    bulk_down: Vec<f64>,
    bulk_timeouts: usize,
}

async fn measure(responder: Client, caller: Client, tag: &str) -> Figures {
    let mut f = Figures {
        up: Vec::new(),
        down: Vec::new(),
        timeouts_down: 0,
        timeouts_up: 0,
        bulk_up: Vec::new(),
        bulk_down: Vec::new(),
        bulk_timeouts: 0,
    };
    for round in 0..ROUNDS {
        let subject = format!("aether.rt.{tag}.s.{round}.counter.c-1");
        assert_eq!(probe(&caller, &subject).await, Probe::NoResponders);
        // Subscribe: until the first answer from the other side.
        let t = Instant::now();
        let task = respond(&responder, format!("aether.rt.{tag}.s.{round}.>")).await;
        loop {
            match probe(&caller, &subject).await {
                Probe::Answered => break,
                Probe::TimedOut => f.timeouts_up += 1,
                Probe::NoResponders => {}
            }
        }
        f.up.push(t.elapsed().as_secs_f64());
        // Unsubscribe (the responder's task ends with its subscription).
        let t = Instant::now();
        task.abort();
        let _ = task.await;
        responder.flush().await.unwrap();
        loop {
            match probe(&caller, &subject).await {
                Probe::NoResponders => break,
                Probe::TimedOut => f.timeouts_down += 1,
                Probe::Answered => {}
            }
        }
        f.down.push(t.elapsed().as_secs_f64());
    }
    // 1,024 subjects at once.
    for round in 0..3 {
        let subjects: Vec<String> = (0..1024)
            .map(|s| format!("aether.rt.{tag}.b{round}.s.{s}.>"))
            .collect();
        let t = Instant::now();
        let mut tasks = Vec::new();
        for s in &subjects {
            tasks.push(respond(&responder, s.clone()).await);
        }
        for s in (0..1024).rev() {
            let subject = format!("aether.rt.{tag}.b{round}.s.{s}.counter.c-1");
            loop {
                match probe(&caller, &subject).await {
                    Probe::Answered => break,
                    Probe::TimedOut => f.bulk_timeouts += 1,
                    Probe::NoResponders => {}
                }
            }
        }
        f.bulk_up.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        responder.flush().await.unwrap();
        for s in (0..1024).rev() {
            let subject = format!("aether.rt.{tag}.b{round}.s.{s}.counter.c-1");
            loop {
                match probe(&caller, &subject).await {
                    Probe::NoResponders => break,
                    Probe::TimedOut => f.bulk_timeouts += 1,
                    Probe::Answered => {}
                }
            }
        }
        f.bulk_down.push(t.elapsed().as_secs_f64());
    }
    f
}

fn print(name: &str, f: &Figures) {
    println!("\n## {name}");
    println!(
        "subscribe → first answer from the caller's side:   p50 {}  max {}  ({} probes timed out on the way, over {ROUNDS} rounds)",
        ms(pct(f.up.clone(), 0.5)),
        ms(pct(f.up.clone(), 1.0)),
        f.timeouts_up
    );
    println!(
        "unsubscribe → first no-responders:                 p50 {}  max {}  ({} probes timed out ({PROBE_TIMEOUT:?} each) instead of no-responders)",
        ms(pct(f.down.clone(), 0.5)),
        ms(pct(f.down.clone(), 1.0)),
        f.timeouts_down
    );
    println!(
        "1,024 subscriptions → all reachable: {}; unsubscribed → all no-responders: {} (3 rounds, p50; {} probes timed out)",
        ms(pct(f.bulk_up.clone(), 0.5)),
        ms(pct(f.bulk_down.clone(), 0.5)),
        f.bulk_timeouts
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cluster = NatsCluster::start().await;
    let responder = async_nats::connect(cluster.url(0)).await.unwrap();
    let caller = async_nats::connect(cluster.url(2)).await.unwrap();
    // Raw request–reply across servers, for scale.
    let task = respond(&responder, "aether.rt.scale".into()).await;
    while probe(&caller, "aether.rt.scale").await != Probe::Answered {}
    let mut rtt = Vec::new();
    for _ in 0..500 {
        let t = Instant::now();
        assert_eq!(probe(&caller, "aether.rt.scale").await, Probe::Answered);
        rtt.push(t.elapsed().as_secs_f64());
    }
    task.abort();
    println!(
        "3-server NATS cluster (responder on server 1, caller on server 3); request–reply p50 {}",
        ms(pct(rtt, 0.5))
    );
    let cross = measure(responder, caller, "x").await;
    print(
        "across servers (responder on server 1, caller on server 3)",
        &cross,
    );

    let single = NatsServer::start().await;
    let responder = async_nats::connect(single.url()).await.unwrap();
    let caller = async_nats::connect(single.url()).await.unwrap();
    let one = measure(responder, caller, "one").await;
    print("one server (reference)", &one);
}
