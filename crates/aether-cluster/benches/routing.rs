//! The runtime across nodes, each figure beside its raw async-nats baseline
//! in the same run.
//!
//! `cargo bench -p aether-cluster --bench routing`
//! (env `ROUTING_BENCH=stamps,anatomy,memory,jetstream,throughput` to pick parts)
//!
//! 1. **cross-node ask, memory store, 256-byte command**: sequential asks
//!    from node A to an actor whose shard node B serves, against raw
//!    request–reply between the same two connections (B's subscriber answers
//!    at once);
//! 2. **cross-node ask, JetStream store**: the same ask, against raw
//!    request–reply whose responder makes one raw OCC append (publish with
//!    the expected last subject sequence, wait for the ack) before it
//!    answers;
//! 3. **cluster throughput, 3 nodes, 10,000 actors, JetStream**: callers on
//!    every node sending `+1` to actors spread over all shards (two in three
//!    owned elsewhere), against raw pipelined OCC appends over 10,000
//!    subjects with as many in flight as there are callers, the same appends
//!    routed per call with bare async-nats (the routing floor), and routed
//!    with the calls between two connections batched (the floor of the
//!    batching docs/architecture.md designs);
//!
//! 4. **anatomy**: raw request–reply with the serving side's task per
//!    request, hop into an actor task, and wire headers added one at a time;
//! 5. **writer stamps**: the bytes and encoding time `aether.node` and
//!    `aether.claim` add to an event.
//!
//! The three nodes are three connections in one process, so they share its
//! two cores with nats-server: the cluster figure is a floor.

mod common;

use common::{pct, raw_occ_append, raw_stream, synced, us};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aether_cluster::runtime::{ActorConfig, ActorSystem, RoutingConfig};
use aether_cluster::{ClusterConfig, ClusterNode, NodeInfo};
use aether_core::aggregate::{Aggregate, DomainEvent, Queryable, SnapshotPolicy};
use aether_core::{ActorId, Event, EventStore, NodeId, json};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_store_memory::InMemoryEventStore;
use aether_testkit::fixtures::Counter;
use aether_testkit::{NatsServer, bench};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

/// A command of 256 bytes on the wire (a JSON string of 254 characters).
const TEXT: usize = 254;

/// An actor that keeps notes: one event per note.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Notes {
    count: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum NoteEvent {
    Noted { len: usize },
}

impl DomainEvent for NoteEvent {
    fn event_type(&self) -> &'static str {
        "Noted"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("empty note")]
struct Empty;

impl Aggregate for Notes {
    const TYPE: &'static str = "notes";
    type Command = String;
    type Event = NoteEvent;
    type Error = Empty;

    fn handle(&self, text: &String) -> Result<Vec<NoteEvent>, Empty> {
        if text.is_empty() {
            return Err(Empty);
        }
        Ok(vec![NoteEvent::Noted { len: text.len() }])
    }

    fn apply(&mut self, _: &NoteEvent) {
        self.count += 1;
    }

    fn snapshot_policy() -> SnapshotPolicy {
        SnapshotPolicy::Never
    }
}

impl Queryable for Notes {
    type Query = ();
    type Answer = u64;

    fn query(&self, _: &()) -> u64 {
        self.count
    }
}

fn cluster_config(cluster: &str, id: &str) -> ClusterConfig {
    let mut c = ClusterConfig {
        cluster_name: cluster.to_owned(),
        node: NodeInfo::new(NodeId::new(id).unwrap()),
        ..ClusterConfig::default()
    };
    c.rebalance_debounce = Duration::from_millis(100);
    c
}

/// A member system on `events` serving `Notes` and `Counter`.
async fn member(
    url: &str,
    cluster: &str,
    id: &str,
    events: impl EventStore + 'static,
) -> ActorSystem {
    member_with(url, cluster, id, events, RoutingConfig::default()).await
}

async fn member_with(
    url: &str,
    cluster: &str,
    id: &str,
    events: impl EventStore + 'static,
    routing: RoutingConfig,
) -> ActorSystem {
    let client = aether_nats::connect(url, &Default::default(), "bench-node")
        .await
        .unwrap();
    let node = ClusterNode::start(client, cluster_config(cluster, id))
        .await
        .unwrap();
    ActorSystem::cluster(node)
        .events(events)
        .register::<Notes>(ActorConfig::default())
        .register::<Counter>(ActorConfig::default())
        .routing(routing)
        .start()
        .await
        .unwrap()
}

/// Waits until every node's map names all of `systems`, every shard is
/// served by exactly one of them, and the leader has published no new map
/// for a rebalance interval (a join arrives in rounds of
/// `rebalance_max_moves`: a figure taken mid-rounds would time handoffs).
async fn all_served(systems: &[&ActorSystem]) {
    let start = Instant::now();
    let settle = ClusterConfig::default().rebalance_interval + Duration::from_millis(500);
    let mut epoch = (0, Instant::now());
    loop {
        let map = |s: &ActorSystem| s.cluster_node().and_then(|n| n.shard_map());
        let now_epoch = map(systems[0]).map_or(0, |m| m.epoch);
        if now_epoch != epoch.0 {
            epoch = (now_epoch, Instant::now());
        }
        let planned = systems
            .iter()
            .all(|s| map(s).is_some_and(|m| m.members.len() == systems.len()));
        let mut count = vec![0u32; 1024];
        for s in systems {
            for shard in s.served_shards() {
                count[shard.0 as usize] += 1;
            }
        }
        if planned && count.iter().all(|&c| c == 1) && epoch.1.elapsed() >= settle {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "shards not served"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An actor of `prefix` whose shard `owner` serves.
fn owned_by(owner: &ActorSystem, prefix: &str) -> ActorId {
    let node = owner.cluster_node().unwrap();
    (0..)
        .map(|i| ActorId::new(format!("{prefix}-{i}")).unwrap())
        .find(|id| node.place(id).as_ref() == Some(node.id()))
        .unwrap()
}

/// Sequential cross-node asks against raw request–reply on the same two
/// connections; `append` makes the raw responder append first.
async fn cross_node(store_name: &str, a: &ActorSystem, b: &ActorSystem, append: bool) {
    const N: usize = 5_000;
    let id = owned_by(b, "notes");
    let text = "x".repeat(TEXT);
    assert_eq!(serde_json::to_vec(&text).unwrap().len(), 256);
    let actor = a.get::<Notes>(id.clone()).unwrap();

    // The raw responder lives on B's connection, the requester on A's.
    let b_client = b.cluster_node().unwrap().client().clone();
    let a_client = a.cluster_node().unwrap().client().clone();
    let subject = format!("rawrr.{store_name}");
    let mut sub = b_client.subscribe(subject.clone()).await.unwrap();
    let js = async_nats::jetstream::new(b_client.clone());
    if append {
        js.get_or_create_stream(async_nats::jetstream::stream::Config {
            name: "RAWRR".into(),
            subjects: vec!["rawrr-log.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let sample = Event::new(id.clone(), 1, "Noted", json!({"Noted": {"len": TEXT}}));
    let event = Bytes::from(sample.to_json_bytes().unwrap());
    let responder = tokio::spawn(async move {
        let mut seq = 0;
        while let Some(msg) = sub.next().await {
            if append {
                seq = raw_occ_append(&js, "rawrr-log.a", &event, seq).await;
            }
            if let Some(reply) = msg.reply {
                b_client.publish(reply, event.clone()).await.unwrap();
            }
        }
    });
    synced(b.cluster_node().unwrap().client()).await;
    let payload = Bytes::from(serde_json::to_vec(&text).unwrap());

    let (ours, raw) = tokio::spawn(async move {
        for _ in 0..500 {
            actor.ask(text.clone()).await.unwrap();
            a_client
                .request(subject.clone(), payload.clone())
                .await
                .unwrap();
        }
        let (mut ours, mut raw) = (Vec::with_capacity(N), Vec::with_capacity(N));
        for _ in 0..N {
            let t = Instant::now();
            actor.ask(text.clone()).await.unwrap();
            ours.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            a_client
                .request(subject.clone(), payload.clone())
                .await
                .unwrap();
            raw.push(t.elapsed().as_secs_f64());
        }
        (ours, raw)
    })
    .await
    .unwrap();
    responder.abort();
    let (o50, o99, r50, r99) = (
        pct(ours.clone(), 0.5),
        pct(ours, 0.99),
        pct(raw.clone(), 0.5),
        pct(raw, 0.99),
    );
    let baseline = if append {
        "raw request–reply + raw OCC append"
    } else {
        "raw request–reply"
    };
    println!("| | p50 | p99 |");
    println!("|---|---|---|");
    println!(
        "| cross-node ask ({store_name}) | {} | {} |",
        us(o50),
        us(o99)
    );
    println!("| {baseline} | {} | {} |", us(r50), us(r99));
    println!(
        "ratio: p50 {:.2}x, p99 {:.2}x ({N} asks, one after another)",
        o50 / r50,
        o99 / r99
    );
}

async fn memory(url: &str) {
    println!("\n## cross-node ask, memory store, 256-byte command");
    let store = InMemoryEventStore::new();
    let a = member(url, "rbm", "a", store.clone()).await;
    let b = member(url, "rbm", "b", store.clone()).await;
    all_served(&[&a, &b]).await;
    cross_node("memory", &a, &b, false).await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

async fn js_store(url: &str, stream: &str) -> JetStreamEventStore {
    let config = JetStreamConfig {
        stream_name: stream.to_owned(),
        ..Default::default()
    };
    JetStreamEventStore::connect(url, config).await.unwrap()
}

async fn jetstream(url: &str) {
    println!("\n## cross-node ask, JetStream store (R1 file), 256-byte command");
    let a = member(url, "rbj", "a", js_store(url, "RBJ").await).await;
    let b = member(url, "rbj", "b", js_store(url, "RBJ").await).await;
    all_served(&[&a, &b]).await;
    cross_node("JetStream", &a, &b, true).await;
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

async fn throughput(url: &str, server_pid: u32) {
    const ACTORS: usize = 10_000;
    const CALLERS: usize = 128; // per node
    // Asks per actor after the first touch (`ROUTING_ROUNDS`, default 3;
    // more for a profile).
    let rounds: usize = std::env::var("ROUTING_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    // CPU µs per command of this process and of nats-server, and this
    // process's allocations per command, since `from`.
    let cpu = move || {
        (
            bench::cpu_ns(),
            bench::process_cpu_ns(server_pid),
            ALLOCATOR.stats().allocations as u64,
        )
    };
    let per_cmd = move |from: (u64, u64, u64), n: usize| {
        let (c, s, a) = cpu();
        (
            (c - from.0) as f64 / 1e3 / n as f64,
            (s - from.1) as f64 / 1e3 / n as f64,
            (a - from.2) as f64 / n as f64,
        )
    };
    println!(
        "\n## cluster throughput, 3 nodes, {ACTORS} actors, JetStream R1 file, {} callers",
        3 * CALLERS
    );
    let ids: Arc<Vec<ActorId>> = Arc::new(
        (0..ACTORS)
            .map(|i| ActorId::new(format!("counter-{i}")).unwrap())
            .collect(),
    );
    // Ours four times, each on a cluster and stream of its own, in the
    // order ABBA against the machine's drift: calls between members batched
    // (the default), each sent alone, alone, batched.
    let mut ours_runs = Vec::new();
    for (k, batch_calls) in [true, false, false, true].into_iter().enumerate() {
        let routing = RoutingConfig {
            batch_calls,
            ..RoutingConfig::default()
        };
        let (cluster, stream) = (format!("rbt{k}"), format!("RBT{k}"));
        let (cluster, stream) = (cluster.as_str(), stream.as_str());
        let mut systems = Vec::new();
        for id in ["a", "b", "c"] {
            let store = js_store(url, stream).await;
            systems.push(member_with(url, cluster, id, store, routing.clone()).await);
        }
        let refs: Vec<&ActorSystem> = systems.iter().collect();
        all_served(&refs).await;

        // Every caller owns a disjoint slice of the actors and walks it.
        let run = |touches: usize| {
            let tasks: Vec<_> = systems
                .iter()
                .enumerate()
                .flat_map(|(s, system)| {
                    let ids = ids.clone();
                    (0..CALLERS).map(move |k| {
                        let (system, ids) = (system.clone(), ids.clone());
                        tokio::spawn(async move {
                            let caller = s * CALLERS + k;
                            for _ in 0..touches {
                                for i in (caller..ACTORS).step_by(3 * CALLERS) {
                                    let r = system.get::<Counter>(ids[i].clone()).unwrap();
                                    r.ask(1).await.unwrap();
                                }
                            }
                        })
                    })
                })
                .collect();
            async move {
                for t in tasks {
                    t.await.unwrap();
                }
            }
        };
        eprintln!("first touch (batch_calls: {batch_calls})");
        let (t, c) = (Instant::now(), cpu());
        run(1).await;
        let first = ACTORS as f64 / t.elapsed().as_secs_f64();
        let first_cpu = per_cmd(c, ACTORS);
        eprintln!("warm asks: {rounds} rounds");
        // The frames between members, counted on the wire (batched run).
        let tap = if batch_calls {
            Some(Wiretap::start(url, cluster).await)
        } else {
            None
        };
        let (t, c) = (Instant::now(), cpu());
        run(rounds).await;
        let ours = (ACTORS * rounds) as f64 / t.elapsed().as_secs_f64();
        let ours_cpu = per_cmd(c, ACTORS * rounds);
        if let Some(tap) = tap {
            let (calls, answers) = tap.stop();
            println!(
                "frames between members during the warm asks: {calls} of calls, {answers} of answers, for {} commands (two in three cross-node: {:.1} calls per frame)",
                ACTORS * rounds,
                (ACTORS * rounds) as f64 * 2.0 / 3.0 / calls.max(1) as f64
            );
        }
        for s in &systems {
            s.shutdown().await.unwrap();
        }
        println!(
            "run {k} (batch_calls: {batch_calls}): first touch {first:.0}/s, warm {ours:.0}/s ({:.1} µs, {:.1} µs)",
            ours_cpu.0, ours_cpu.1
        );
        ours_runs.push((batch_calls, (first, first_cpu, ours, ours_cpu)));
    }
    // The mean of the two runs of each mode.
    type Run = (f64, (f64, f64, f64), f64, (f64, f64, f64));
    let mean = |mode: bool| {
        let runs: Vec<_> = ours_runs
            .iter()
            .filter(|r| r.0 == mode)
            .map(|r| r.1)
            .collect();
        let n = runs.len() as f64;
        let avg = |f: &dyn Fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / n;
        (
            avg(&|r| r.0),
            (avg(&|r| r.1.0), avg(&|r| r.1.1), avg(&|r| r.1.2)),
            avg(&|r| r.2),
            (avg(&|r| r.3.0), avg(&|r| r.3.1), avg(&|r| r.3.2)),
        )
    };
    let (first, first_cpu, ours, ours_cpu) = mean(true);
    let (first_one, first_one_cpu, one, one_cpu) = mean(false);

    // Raw: the same number in flight, each writer owning its subjects,
    // one OCC append after another per subject, on three connections.
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(async_nats::connect(url).await.unwrap());
    }
    raw_stream(&clients[0], "RBTRAW", "rbtraw").await;
    let sample = Event::new(ids[0].clone(), 1, "Added", json!({"Added": {"by": 1}}));
    let payload = Bytes::from(sample.to_json_bytes().unwrap());
    eprintln!("raw appends");
    let (t, c) = (Instant::now(), cpu());
    let tasks: Vec<_> = (0..3 * CALLERS)
        .map(|caller| {
            let js = async_nats::jetstream::new(clients[caller % 3].clone());
            let payload = payload.clone();
            tokio::spawn(async move {
                let mine: Vec<usize> = (caller..ACTORS).step_by(3 * CALLERS).collect();
                let mut seqs = vec![0u64; mine.len()];
                for _ in 0..=rounds {
                    for (j, i) in mine.iter().enumerate() {
                        seqs[j] =
                            raw_occ_append(&js, &format!("rbtraw.{i}"), &payload, seqs[j]).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let raw = (ACTORS * (rounds + 1)) as f64 / t.elapsed().as_secs_f64();
    let raw_cpu = per_cmd(c, ACTORS * (rounds + 1));

    eprintln!("raw routed appends");
    let (t, c) = (Instant::now(), cpu());
    raw_routed(&clients, &payload, ACTORS, 3 * CALLERS, rounds + 1).await;
    let routed = (ACTORS * (rounds + 1)) as f64 / t.elapsed().as_secs_f64();
    let routed_cpu = per_cmd(c, ACTORS * (rounds + 1));

    eprintln!("raw routed appends, batched between connections");
    let (t, c) = (Instant::now(), cpu());
    raw_routed_batched(&clients, &payload, ACTORS, 3 * CALLERS, rounds + 1).await;
    let batched = (ACTORS * (rounds + 1)) as f64 / t.elapsed().as_secs_f64();
    let batched_cpu = per_cmd(c, ACTORS * (rounds + 1));
    println!(
        "| | commands/s | CPU µs per command: this process, nats-server | allocations per command |"
    );
    println!("|---|---|---|---|");
    let row = |what: &str, rate: f64, (c, s, a): (f64, f64, f64)| {
        println!("| {what} | {rate:.0} | {c:.1}, {s:.1} | {a:.1} |");
    };
    row(
        "first touch (activation + ask), mean of two runs",
        first,
        first_cpu,
    );
    row(
        "warm asks, two in three cross-node, mean of two runs",
        ours,
        ours_cpu,
    );
    row(
        "first touch, calls between members each sent alone (`batch_calls: false`)",
        first_one,
        first_one_cpu,
    );
    row(
        "warm asks, calls between members each sent alone",
        one,
        one_cpu,
    );
    row(
        &format!("raw pipelined OCC appends over {ACTORS} subjects"),
        raw,
        raw_cpu,
    );
    row(
        "raw routed: the same appends, two in three made by the owner's connection on request",
        routed,
        routed_cpu,
    );
    row(
        "raw routed, batched: the same, the requests and replies between two connections carried many to a message",
        batched,
        batched_cpu,
    );
    println!(
        "ratio: warm {:.2}x raw appends (target ≥ 0.6x), {:.2}x raw routed batched appends; each call alone {:.2}x raw appends, {:.2}x raw routed appends; batched / alone {:.2}x; raw routed {:.2}x and raw routed batched {:.2}x raw appends",
        ours / raw,
        ours / batched,
        one / raw,
        one / routed,
        ours / one,
        routed / raw,
        batched / raw
    );
}

/// Counts the messages on the subjects of batched calls between members
/// (`aether.rt.<cluster>.n.>`: frames of calls; `.r.>`: frames of answers).
struct Wiretap {
    counts: Arc<[AtomicU64; 2]>,
    task: tokio::task::JoinHandle<()>,
}

impl Wiretap {
    async fn start(url: &str, cluster: &str) -> Self {
        let client = async_nats::connect(url).await.unwrap();
        let mut calls = client
            .subscribe(format!("aether.rt.{cluster}.n.>"))
            .await
            .unwrap();
        let mut answers = client
            .subscribe(format!("aether.rt.{cluster}.r.>"))
            .await
            .unwrap();
        synced(&client).await;
        let counts: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
        let c = counts.clone();
        let task = tokio::spawn(async move {
            let _client = client;
            loop {
                let i = tokio::select! {
                    Some(_) = calls.next() => 0,
                    Some(_) = answers.next() => 1,
                    else => return,
                };
                c[i].fetch_add(1, Ordering::Relaxed);
            }
        });
        Self { counts, task }
    }

    /// The frames of calls and of answers seen.
    fn stop(self) -> (u64, u64) {
        self.task.abort();
        (
            self.counts[0].load(Ordering::Relaxed),
            self.counts[1].load(Ordering::Relaxed),
        )
    }
}

/// The actors' expected sequences on one stream, each kept by its owner
/// (one writer per actor at a time: its caller waits for each append, as an
/// actor keeps its version), and the event appended.
struct Appends {
    seqs: Vec<AtomicU64>,
    prefix: &'static str,
    payload: Bytes,
}

impl Appends {
    async fn new(
        client: &async_nats::Client,
        stream: &str,
        prefix: &'static str,
        actors: usize,
        payload: &Bytes,
    ) -> Arc<Self> {
        raw_stream(client, stream, prefix).await;
        Arc::new(Self {
            seqs: (0..actors).map(|_| AtomicU64::new(0)).collect(),
            prefix,
            payload: payload.clone(),
        })
    }

    /// One OCC append to actor `i`; its stream sequence.
    async fn append(&self, js: &async_nats::jetstream::Context, i: usize) -> u64 {
        let seq = self.seqs[i].load(Ordering::Acquire);
        let subject = format!("{}.{i}", self.prefix);
        let next = raw_occ_append(js, &subject, &self.payload, seq).await;
        self.seqs[i].store(next, Ordering::Release);
        next
    }
}

/// `callers` callers in three blocks, one per connection (as the nodes'
/// callers), each walking its own actors `rounds` times: actor `i` is owned
/// by connection `i % 3`; a caller appends to its own connection's actors
/// itself and has `remote(node, i)` do the others.
async fn walk<F, Fut>(
    clients: &[async_nats::Client],
    appends: &Arc<Appends>,
    callers: usize,
    rounds: usize,
    remote: F,
) where
    F: Fn(usize, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let actors = appends.seqs.len();
    let tasks: Vec<_> = (0..callers)
        .map(|caller| {
            let node = caller / callers.div_ceil(3);
            let js = async_nats::jetstream::new(clients[node].clone());
            let (appends, remote) = (appends.clone(), remote.clone());
            tokio::spawn(async move {
                for _ in 0..rounds {
                    for i in (caller..actors).step_by(callers) {
                        if i % 3 == node {
                            appends.append(&js, i).await;
                        } else {
                            remote(node, i).await;
                        }
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// The floor of routed appends with bare async-nats ([`walk`]): the owner's
/// responder appends for each request (one task per request) and answers
/// with the sequence.
async fn raw_routed(
    clients: &[async_nats::Client],
    payload: &Bytes,
    actors: usize,
    callers: usize,
    rounds: usize,
) {
    let appends = Appends::new(&clients[0], "RBTROUTED", "rbtrouted", actors, payload).await;
    let mut responders = Vec::new();
    for (node, client) in clients.iter().enumerate() {
        let mut sub = client.subscribe(format!("rbtreq.{node}.*")).await.unwrap();
        let (client, appends) = (client.clone(), appends.clone());
        responders.push(tokio::spawn(async move {
            let js = async_nats::jetstream::new(client.clone());
            while let Some(m) = sub.next().await {
                let (client, js, appends) = (client.clone(), js.clone(), appends.clone());
                tokio::spawn(async move {
                    let i: usize = m.subject.rsplit('.').next().unwrap().parse().unwrap();
                    let seq = appends.append(&js, i).await;
                    let reply = m.reply.unwrap();
                    client.publish(reply, seq.to_string().into()).await.unwrap();
                });
            }
        }));
    }
    for client in clients {
        synced(client).await;
    }
    let unanswered = Arc::new(AtomicU64::new(0));
    let (clients_, unanswered_) = (clients.to_vec(), unanswered.clone());
    walk(clients, &appends, callers, rounds, move |node, i| {
        let (client, unanswered) = (clients_[node].clone(), unanswered_.clone());
        async move {
            let subject = format!("rbtreq.{}.{i}", i % 3);
            // "No responders" (seen once in a full run: a connection
            // reconnecting) is asked again, as the runtime would.
            loop {
                match client.request(subject.clone(), Bytes::new()).await {
                    Ok(_) => break,
                    Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                        unanswered.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    Err(e) => panic!("raw routed request: {e}"),
                }
            }
        }
    })
    .await;
    for r in responders {
        r.abort();
    }
    let unanswered = unanswered.load(Ordering::Relaxed);
    if unanswered > 0 {
        eprintln!("raw routed: {unanswered} requests found no responder and were sent again");
    }
}

/// [`raw_routed`] with the requests and replies between two connections
/// batched, as docs/architecture.md designs it for the runtime ("Next:
/// batching routed calls between nodes"): a caller puts a call for another
/// connection's actor in that pair's outbox; one task per pair drains
/// everything queued into one message (`token:actor,…`); the owner appends
/// for each entry (a task per entry) and its reply task drains the finished
/// entries into one message per caller connection (`token:sequence,…`).
/// No timer: an idle outbox sends a single call at once.
async fn raw_routed_batched(
    clients: &[async_nats::Client],
    payload: &Bytes,
    actors: usize,
    callers: usize,
    rounds: usize,
) {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use tokio::sync::{mpsc, oneshot};

    type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<u64>>>>;
    const MAX: usize = 256;
    /// Drains what is queued behind `first` (at most `MAX`) as `a:b,…`.
    fn drain<T: std::fmt::Display, U: std::fmt::Display>(
        first: (T, U),
        rx: &mut mpsc::UnboundedReceiver<(T, U)>,
    ) -> String {
        let mut text = format!("{}:{}", first.0, first.1);
        for _ in 1..MAX {
            let Ok((a, b)) = rx.try_recv() else { break };
            text.push_str(&format!(",{a}:{b}"));
        }
        text
    }
    /// Ends the bench on a status message (a "no responders": a frame
    /// lost, whose callers would wait for ever) rather than hang.
    fn loud_if_status(m: &async_nats::Message) {
        if m.status.is_some() || m.payload.is_empty() {
            eprintln!(
                "raw routed, batched: a status message ({:?}) on {}",
                m.status, m.subject
            );
            std::process::exit(1);
        }
    }
    fn pairs(text: &[u8]) -> impl Iterator<Item = (u64, u64)> + '_ {
        std::str::from_utf8(text).unwrap().split(',').map(|e| {
            let (a, b) = e.split_once(':').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
    }
    let appends = Appends::new(&clients[0], "RBTBATCHED", "rbtbatched", actors, payload).await;
    let mut tasks = Vec::new();
    // Each connection as an owner: a batch in, an append per entry, the
    // finished entries out, batched per caller connection.
    for (node, client) in clients.iter().enumerate() {
        let mut sub = client.subscribe(format!("rbtbatch.{node}")).await.unwrap();
        let mut outs: HashMap<String, mpsc::UnboundedSender<(u64, u64)>> = HashMap::new();
        let (client, appends) = (client.clone(), appends.clone());
        tasks.push(tokio::spawn(async move {
            let js = async_nats::jetstream::new(client.clone());
            while let Some(m) = sub.next().await {
                loud_if_status(&m);
                let reply = m.reply.unwrap().to_string();
                let out = outs.entry(reply.clone()).or_insert_with(|| {
                    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, u64)>();
                    let client = client.clone();
                    tokio::spawn(async move {
                        while let Some(first) = rx.recv().await {
                            let text = drain(first, &mut rx);
                            client.publish(reply.clone(), text.into()).await.unwrap();
                        }
                    });
                    tx
                });
                for (token, i) in pairs(&m.payload) {
                    let (js, appends, out) = (js.clone(), appends.clone(), out.clone());
                    tokio::spawn(async move {
                        let seq = appends.append(&js, i as usize).await;
                        let _ = out.send((token, seq));
                    });
                }
            }
        }));
    }
    // Each connection as a caller: its replies in, an outbox per owner.
    let mut outboxes = Vec::new();
    let mut pendings = Vec::new();
    for (node, client) in clients.iter().enumerate() {
        let pending: Pending = Arc::default();
        let mut replies = client.subscribe(format!("rbtbrep.{node}")).await.unwrap();
        let p = pending.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(m) = replies.next().await {
                loud_if_status(&m);
                let mut p = p.lock().unwrap();
                for (token, seq) in pairs(&m.payload) {
                    if let Some(tx) = p.remove(&token) {
                        let _ = tx.send(seq);
                    }
                }
            }
        }));
        let mut to_owner = Vec::new();
        for owner in 0..clients.len() {
            let (tx, mut rx) = mpsc::unbounded_channel::<(u64, usize)>();
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(first) = rx.recv().await {
                    let text = drain(first, &mut rx);
                    client
                        .publish_with_reply(
                            format!("rbtbatch.{owner}"),
                            format!("rbtbrep.{node}"),
                            text.into(),
                        )
                        .await
                        .unwrap();
                }
            }));
            to_owner.push(tx);
        }
        outboxes.push(to_owner);
        pendings.push(pending);
    }
    for client in clients {
        synced(client).await;
    }
    let (outboxes, pendings) = (Arc::new(outboxes), Arc::new(pendings));
    let tokens = Arc::new(AtomicU64::new(0));
    walk(clients, &appends, callers, rounds, move |node, i| {
        let (outboxes, pendings, tokens) = (outboxes.clone(), pendings.clone(), tokens.clone());
        async move {
            let token = tokens.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = oneshot::channel();
            pendings[node].lock().unwrap().insert(token, tx);
            outboxes[node][i % 3].send((token, i)).unwrap();
            rx.await.unwrap();
        }
    })
    .await;
    for t in tasks {
        t.abort();
    }
}

/// Where a cross-node ask's time goes: raw request–reply with, one at a
/// time, what the runtime adds on the serving side (a task per request, a
/// hop into an actor task and back, the headers of the wire format).
async fn anatomy(url: &str) {
    const N: usize = 5_000;
    println!("\n## anatomy: raw request–reply with the runtime's serving-side hops added");
    let responder = async_nats::connect(url).await.unwrap();
    let caller = async_nats::connect(url).await.unwrap();
    let payload = Bytes::from(vec![b'x'; 256]);
    let body = Bytes::from(vec![b'y'; 300]);
    // An "actor": one task taking requests from a channel, answering each
    // through a oneshot.
    let (to_actor, mut inbox) =
        tokio::sync::mpsc::channel::<(Bytes, tokio::sync::oneshot::Sender<Bytes>)>(1024);
    tokio::spawn(async move {
        while let Some((b, tx)) = inbox.recv().await {
            let _ = tx.send(b);
        }
    });
    let mut results = Vec::new();
    for (name, spawn, actor, headers) in [
        ("inline reply (the raw baseline)", false, false, false),
        ("+ a task per request", true, false, false),
        ("+ a hop into an actor task and back", true, true, false),
        (
            "+ the wire headers (5 on the request, 2 on the reply)",
            true,
            true,
            true,
        ),
    ] {
        let subject = format!("anatomy.{}", results.len());
        let mut sub = responder.subscribe(subject.clone()).await.unwrap();
        synced(&responder).await;
        let (client, to_actor, body) = (responder.clone(), to_actor.clone(), body.clone());
        let task = tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                let (client, to_actor, body) = (client.clone(), to_actor.clone(), body.clone());
                let work = async move {
                    let Some(reply) = m.reply else { return };
                    let out = if actor {
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        to_actor.send((body, tx)).await.unwrap();
                        rx.await.unwrap()
                    } else {
                        body
                    };
                    if headers {
                        let mut h = async_nats::HeaderMap::new();
                        h.insert("Aether-Status", "ok");
                        h.insert("Aether-Epoch", "7");
                        client.publish_with_headers(reply, h, out).await.unwrap();
                    } else {
                        client.publish(reply, out).await.unwrap();
                    }
                };
                if spawn {
                    tokio::spawn(work);
                } else {
                    work.await;
                }
            }
        });
        let (caller, payload) = (caller.clone(), payload.clone());
        let lat = tokio::spawn(async move {
            let mut lat = Vec::with_capacity(N);
            for i in 0..N + 500 {
                let t = Instant::now();
                if headers {
                    let mut h = async_nats::HeaderMap::new();
                    h.insert("Aether-Kind", "cmd");
                    h.insert("Aether-Cmd-Id", format!("0194d2b6-{i:08}").as_str());
                    h.insert("Aether-Timeout", "1000");
                    h.insert("Aether-Corr", "order-7");
                    h.insert("Aether-Epoch", "7");
                    caller
                        .request_with_headers(subject.clone(), h, payload.clone())
                        .await
                        .unwrap();
                } else {
                    caller
                        .request(subject.clone(), payload.clone())
                        .await
                        .unwrap();
                }
                if i >= 500 {
                    lat.push(t.elapsed().as_secs_f64());
                }
            }
            lat
        })
        .await
        .unwrap();
        task.abort();
        let p50 = pct(lat, 0.5);
        results.push(p50);
        println!(
            "| {name} | p50 {} | {:.2}x the baseline |",
            us(p50),
            p50 / results[0]
        );
    }
}

/// What the writer stamps (`aether.node`, `aether.claim`) cost each event:
/// stored bytes, and encoding time against the same event without them.
fn stamps() {
    const N: usize = 200_000;
    println!("\n## writer stamps in event metadata");
    let id = ActorId::new("counter-1").unwrap();
    let plain = Event::new(id, 7, "Added", json!({"Added": {"by": 1}}));
    let stamped = plain.clone().with_metadata(
        aether_core::Metadata::new()
            .with_writer_node("node-1")
            .with_writer_claim("114/20931"),
    );
    let (p, s) = (
        plain.to_json_bytes().unwrap().len(),
        stamped.to_json_bytes().unwrap().len(),
    );
    let time = |e: &Event| {
        let t = Instant::now();
        for _ in 0..N {
            std::hint::black_box(e.to_json_bytes().unwrap());
        }
        t.elapsed().as_secs_f64() / N as f64
    };
    let (tp, ts) = (time(&plain), time(&stamped));
    println!(
        "stored size {p} B -> {s} B (+{} B); encode {} -> {} ({:.2}x)",
        s - p,
        us(tp),
        us(ts),
        ts / tp
    );
}

/// Counts allocations (per command in the throughput part).
#[global_allocator]
static ALLOCATOR: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let parts = std::env::var("ROUTING_BENCH")
        .unwrap_or_else(|_| "stamps,anatomy,memory,jetstream,throughput".into());
    let server = NatsServer::start().await;
    let url = server.url();
    println!("# routing bench: one nats-server on 127.0.0.1, the nodes in one process");
    for part in parts.split(',') {
        match part.trim() {
            "memory" => memory(&url).await,
            "jetstream" => jetstream(&url).await,
            "throughput" => throughput(&url, server.pid().unwrap_or(0)).await,
            "stamps" => stamps(),
            "anatomy" => anatomy(&url).await,
            other => eprintln!("unknown part {other:?}"),
        }
    }
}
