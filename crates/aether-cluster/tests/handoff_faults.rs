//! Fault tests of warm shard handoff (issue #25; `RUNTIME.md` §6 F1, F2,
//! F6–F9), with every Aether node a separate OS process (`fault_support`),
//! a real nats-server (three for F8) and the JetStream store. Each test
//! runs a load of callers (60 actors, 8 callers, each command retried with
//! its id until `Ok`), starts planned moves (a node joining or leaving
//! gracefully: the warm handoff), breaks something in the middle of them,
//! and passes only if:
//!
//! - the history checker is clean over every answer and every actor's log:
//!   no acknowledged command lost, none applied twice, versions gapless,
//!   real-time order, claim revisions never going back along a log, no `Ok`
//!   from a node whose claim the test had seen superseded;
//! - no event was written by a node under a claim that another node held
//!   (a duplicate serving activation, as the claim history shows it);
//! - every shard ends served by exactly one live node: every claim is
//!   `serving` by the map's primary, and the nodes' own lists of served
//!   shards partition the shards.
//!
//! The test watches the claims bucket (owner and phase of every write) and
//! taps the handoff subjects (`aether.rt.<cluster>.handoff.<node>`) and the
//! acknowledgements of the chunks, so that a kill lands mid-transfer by
//! state, not by a guessed time. A node whose NATS link goes through the
//! test kit's proxy with a delay (a slow link) makes a chunk's ack take at
//! least twice that delay, which leaves a window to kill in.

mod cluster_support;
mod fault_support;
mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aether_cluster::runtime::{ActorConfig, ActorSystem, RemoteConfig};
use aether_cluster::{ClusterInspector, shard_for_actor};
use aether_core::{ActorId, EventStore};
use aether_testkit::fixtures::{Counter, Value};
use aether_testkit::history::{History, Outcome, Report};
use aether_testkit::{NatsCluster, NatsServer, TcpProxy, Wait, replicas_current};
use cluster_support::*;
use fault_support::*;
use futures::StreamExt;
use support::*;

/// Not a test: the body of every node process (see `fault_support`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_process() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        run_child(&spec).await;
    }
}

const DEADLINE: Duration = Duration::from_secs(15);
const ACTORS: usize = 60;
const CALLERS: usize = 8;
/// The delay each way of a slow node's link: a chunk it sends or receives
/// is acknowledged at least twice this later.
const SLOW: Duration = Duration::from_millis(200);

/// One write of a claim, as the test saw it.
#[derive(Debug, Clone)]
struct ClaimWrite {
    shard: u32,
    owner: String,
    phase: String,
    to: Option<String>,
    seen: Instant,
}

/// Every claim written in a cluster (owner, phase), recorded for the
/// checker's rule "no `Ok` from a superseded owner" and for the tests'
/// triggers. Stops when dropped.
struct ClaimLog {
    seen: Arc<History>,
    writes: Arc<Mutex<Vec<ClaimWrite>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ClaimLog {
    fn start(js: async_nats::jetstream::Context, cluster: &str) -> ClaimLog {
        let seen = Arc::new(History::new());
        let writes: Arc<Mutex<Vec<ClaimWrite>>> = Arc::default();
        let bucket = format!("{cluster}_claims");
        let task = tokio::spawn({
            let (seen, writes) = (seen.clone(), writes.clone());
            async move {
                // From the revision after the last one seen; watched again
                // after a failure, and after a second of silence (a watch
                // can stall without an error when a NATS server is killed
                // under it).
                let mut last = 0;
                let limit = Duration::from_secs(2);
                loop {
                    if let Ok(Ok(kv)) = tokio::time::timeout(limit, js.get_key_value(&bucket)).await
                        && let Ok(Ok(mut entries)) =
                            tokio::time::timeout(limit, kv.watch_all_from_revision(last + 1)).await
                    {
                        let silence = Duration::from_secs(1);
                        while let Ok(Some(Ok(e))) =
                            tokio::time::timeout(silence, entries.next()).await
                        {
                            if e.revision <= last {
                                continue;
                            }
                            last = e.revision;
                            if e.operation != async_nats::jetstream::kv::Operation::Put {
                                continue;
                            }
                            let shard = e.key.strip_prefix("s.").and_then(|n| n.parse().ok());
                            let claim = serde_json::from_slice::<serde_json::Value>(&e.value);
                            let (Some(shard), Ok(c)) = (shard, claim) else {
                                continue;
                            };
                            let text = |k: &str| c[k].as_str().map(str::to_owned);
                            let Some(owner) = text("owner") else {
                                continue;
                            };
                            seen.claim_seen(shard, e.revision, &owner);
                            writes.lock().unwrap_or_else(PoisonError::into_inner).push(
                                ClaimWrite {
                                    shard,
                                    owner,
                                    phase: text("phase").unwrap_or_default(),
                                    to: text("to"),
                                    seen: Instant::now(),
                                },
                            );
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        ClaimLog { seen, writes, task }
    }

    fn writes(&self) -> Vec<ClaimWrite> {
        self.writes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits for the first write (seen after `since`) that `pred` accepts.
    async fn first(
        &self,
        what: &str,
        since: Instant,
        pred: impl Fn(&ClaimWrite) -> bool,
    ) -> ClaimWrite {
        let found = Wait::new(format!("a claim write: {what}"), Duration::from_secs(30))
            .every(Duration::from_millis(5))
            .try_until(async || {
                self.writes()
                    .into_iter()
                    .find(|w| w.seen >= since && pred(w))
            })
            .await;
        match found {
            Ok(w) => w,
            Err(e) => {
                let writes = self.writes();
                let recent: Vec<_> = writes.iter().rev().take(5).collect();
                panic!("{e}; {} writes seen, the last: {recent:?}", writes.len())
            }
        }
    }
}

impl Drop for ClaimLog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A handoff chunk, as the test saw it on its way.
#[derive(Debug, Clone)]
struct ChunkSeen {
    shard: u32,
    from: String,
    to: String,
    /// The actors it carries, with their versions.
    actors: Vec<(String, u64)>,
    seen: Instant,
    /// Its acknowledgement passed the server.
    acked: Arc<AtomicBool>,
}

/// Listens to every handoff subject of a cluster and to the replies to
/// each chunk. (A listener is a subscriber: a chunk for a node that does
/// not listen yet waits for its timeout instead of failing at once.)
struct Tap {
    chunks: Arc<Mutex<Vec<ChunkSeen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Tap {
    async fn start(client: async_nats::Client, cluster: &str) -> Tap {
        let mut sub = client
            .subscribe(format!("aether.rt.{cluster}.handoff.>"))
            .await
            .unwrap();
        client.flush().await.unwrap();
        let chunks: Arc<Mutex<Vec<ChunkSeen>>> = Arc::default();
        let task = tokio::spawn({
            let chunks = chunks.clone();
            async move {
                while let Some(m) = sub.next().await {
                    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&m.payload) else {
                        continue;
                    };
                    let acked = Arc::new(AtomicBool::new(false));
                    if let Some(reply) = m.reply.clone()
                        && let Ok(mut acks) = client.subscribe(reply).await
                    {
                        let acked = acked.clone();
                        tokio::spawn(async move {
                            if acks.next().await.is_some() {
                                acked.store(true, Ordering::SeqCst);
                            }
                        });
                    }
                    chunks
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(ChunkSeen {
                            shard: v["shard"].as_u64().unwrap_or_default() as u32,
                            from: v["from"].as_str().unwrap_or_default().to_owned(),
                            to: m.subject.rsplit('.').next().unwrap_or_default().to_owned(),
                            actors: v["actors"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|a| {
                                    let s = &a["snapshot"];
                                    let id = s["actor_id"].as_str().unwrap_or_default();
                                    (id.to_owned(), s["version"].as_u64().unwrap_or_default())
                                })
                                .collect(),
                            seen: Instant::now(),
                            acked,
                        });
                }
            }
        });
        Tap { chunks, task }
    }

    fn chunks(&self) -> Vec<ChunkSeen> {
        self.chunks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until `pred` accepts what was seen so far; its answer.
    async fn until<T>(&self, what: &str, pred: impl Fn(&[ChunkSeen]) -> Option<T>) -> T {
        Wait::new(format!("handoff chunks: {what}"), Duration::from_secs(30))
            .every(Duration::from_millis(2))
            .until(async || pred(&self.chunks()))
            .await
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Nodes, a caller, and the pieces a test looks at.
struct Rig {
    /// One rig at a time in this process.
    _serial: tokio::sync::MutexGuard<'static, ()>,
    cluster: String,
    url: String,
    stream: String,
    replicas: usize,
    nodes: Vec<Node>,
    caller: ActorSystem,
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    claims: ClaimLog,
}

impl Rig {
    /// Starts node processes `ids` (each connecting to `urls[i]`, or to
    /// `url`) and waits until every shard is served.
    async fn start(tag: &str, url: &str, ids: &[&str], urls: &[String], replicas: usize) -> Rig {
        static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let serial = SERIAL.lock().await;
        init_tracing();
        let cluster = unique_cluster(tag);
        let stream = format!("RTH{}", cluster.to_uppercase());
        let js = async_nats::jetstream::new(dial(url).await);
        let mut rig = Rig {
            _serial: serial,
            cluster: cluster.clone(),
            url: url.to_owned(),
            stream,
            replicas,
            nodes: Vec::new(),
            caller: remote(url, &cluster).await,
            client: dial(url).await,
            claims: ClaimLog::start(js.clone(), &cluster),
            js,
        };
        for (i, id) in ids.iter().enumerate() {
            let url = urls.get(i).cloned().unwrap_or_else(|| url.to_owned());
            rig.spawn(id, &url);
        }
        rig.settled(ids).await;
        rig
    }

    fn spawn(&mut self, id: &str, url: &str) {
        self.nodes.push(Node::spawn(Spec {
            url: url.to_owned(),
            cluster: self.cluster.clone(),
            id: id.to_owned(),
            stream: self.stream.clone(),
            replicas: self.replicas,
        }));
    }

    /// The latest process of node `id`.
    fn node(&mut self, id: &str) -> &mut Node {
        self.nodes.iter_mut().rev().find(|n| n.id == id).unwrap()
    }

    /// Waits until the map names exactly `members` and every claim is
    /// `serving` by the map's primary; else fails with what the claims say.
    async fn settled(&self, members: &[&str]) -> aether_cluster::ShardMap {
        // (Three processes creating R3 buckets on a loaded machine can take
        // a while.)
        let limit = Duration::from_secs(60);
        match try_settled(&self.js, &self.cluster, members, limit).await {
            Ok(map) => map,
            Err(e) => {
                let v = view(&self.js, &self.cluster, 1024).await;
                let mut claims: BTreeMap<String, usize> = BTreeMap::new();
                for c in &v.claims {
                    let key = c
                        .as_ref()
                        .map_or("none".to_owned(), |(o, p)| format!("{o} {p}"));
                    *claims.entry(key).or_default() += 1;
                }
                let logs: Vec<String> = self
                    .nodes
                    .iter()
                    .map(|n| n.log.display().to_string())
                    .collect();
                panic!(
                    "{e}\nmap {:?} members {:?}; claims {claims:?}; node logs {logs:?}",
                    v.map.as_ref().map(|m| m.epoch),
                    v.map.as_ref().map(|m| m.members.clone())
                );
            }
        }
    }

    async fn tap(&self) -> Tap {
        Tap::start(self.client.clone(), &self.cluster).await
    }

    /// The leader and its term (a term above `after`).
    async fn leader(&self, after: u64) -> (String, u64) {
        let inspector = ClusterInspector::open(self.client.clone(), &self.cluster)
            .await
            .unwrap();
        Wait::new("a leader", Duration::from_secs(20))
            .every(Duration::from_millis(50))
            .until(async || {
                inspector
                    .leader()
                    .await
                    .ok()
                    .flatten()
                    .filter(|l| l.term.get() > after)
                    .map(|l| (l.node.to_string(), l.term.get()))
            })
            .await
    }

    /// Every shard is served by exactly one of the live nodes `members`,
    /// by their own account (and, first, by the claims and the map).
    async fn served_once(&mut self, members: &[&str]) {
        self.settled(members).await;
        let (client, cluster) = (self.client.clone(), self.cluster.clone());
        let nodes: Vec<&Node> = members
            .iter()
            .map(|m| self.nodes.iter().rev().find(|n| n.id == *m).unwrap())
            .collect();
        Wait::new(
            format!("every shard served by exactly one of {members:?}"),
            Duration::from_secs(20),
        )
        .every(Duration::from_millis(100))
        .until(async || {
            let mut count = vec![0u32; 1024];
            for n in &nodes {
                let served = n
                    .ask(&client, &cluster, "served", Duration::from_secs(5))
                    .await?;
                let shards: Vec<u32> = serde_json::from_str(&served).map_err(|e| e.to_string())?;
                for s in shards {
                    count[s as usize] += 1;
                }
            }
            let unserved = count.iter().filter(|&&c| c == 0).count();
            let twice = count.iter().filter(|&&c| c > 1).count();
            // (Asked one node after the other: a shard moving meanwhile
            // may count twice or not at all, until the moves are over.)
            if unserved == 0 && twice == 0 {
                Ok(())
            } else {
                Err(format!("{unserved} shards unserved, {twice} served twice"))
            }
        })
        .await
    }

    /// The actors whose whole history node `id` read (loaded them cold).
    async fn loads(&self, id: &str) -> Vec<String> {
        let node = self.nodes.iter().rev().find(|n| n.id == id).unwrap();
        let loads = node
            .ask(&self.client, &self.cluster, "loads", Duration::from_secs(5))
            .await
            .unwrap();
        serde_json::from_str(&loads).unwrap()
    }

    /// Stops the load and checks: the history against every actor's log,
    /// and every event written by the node that held the claim it names.
    async fn check(&self, load: Load, actors: &[ActorId]) -> (Report, u64) {
        let errors = load.errors.load(Ordering::Relaxed);
        let log = store_with(&self.url, &self.stream, self.replicas).await;
        let claims = self.claims.seen.claims();
        let report = load.finish_with_claims(&log, actors, &claims).await;
        let logs: Vec<String> = self
            .nodes
            .iter()
            .map(|n| n.log.display().to_string())
            .collect();
        assert!(report.is_clean(), "{report}\nnode logs: {logs:?}");
        // A write under someone else's claim: two activations served.
        let holder: HashMap<(u32, u64), &str> = claims
            .iter()
            .map(|c| ((c.shard, c.revision), c.owner.as_str()))
            .collect();
        let mut stamped = 0;
        for a in actors {
            for e in log.read(a, 1).await.unwrap() {
                let (Some(claim), Some(writer)) =
                    (e.metadata.writer_claim(), e.metadata.writer_node())
                else {
                    panic!("{a} v{}: an event without writer or claim", e.version);
                };
                let parsed = claim
                    .split_once('/')
                    .and_then(|(s, r)| Some((s.parse().ok()?, r.parse().ok()?)));
                let Some(key) = parsed else {
                    panic!("{a} v{}: claim stamp {claim:?}", e.version);
                };
                if let Some(owner) = holder.get(&key) {
                    stamped += 1;
                    assert_eq!(
                        *owner, writer,
                        "{a} v{} was written by {writer} under claim {claim} of {owner}; node logs: {logs:?}",
                        e.version
                    );
                }
            }
        }
        eprintln!(
            "{} claim writes seen; {stamped} events checked against their claim's holder",
            claims.len()
        );
        (report, errors)
    }
}

/// The shards `id` claimed `serving` after `since`, and those it released
/// (phase `released`) after `since`.
fn phases_of(writes: &[ClaimWrite], id: &str, since: Instant) -> BTreeMap<u32, String> {
    let mut last = BTreeMap::new();
    for w in writes.iter().filter(|w| w.seen >= since && w.owner == id) {
        last.insert(w.shard, w.phase.clone());
    }
    last
}

/// F1: the source of a warm handoff is SIGKILLed while a chunk it sent is
/// on its way (its ack not back yet). The new owners take its shards once
/// its lease is gone — from the `Releasing` claims it left — cold or with
/// what arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f1_the_source_killed_mid_transfer_loses_nothing() {
    let server = NatsServer::start().await;
    let proxy = TcpProxy::start(server.port()).await;
    let urls = vec![server.url(), server.url(), proxy.url()];
    let mut rig = Rig::start("h1", &server.url(), &["p1", "p2", "p3"], &urls, 1).await;
    let tap = rig.tap().await;
    let actors = counters(ACTORS, "h1");
    let load = Load::start(&[&rig.caller], &actors, CALLERS, DEADLINE);
    load.flows(100).await;
    // p3 (the source) on a slow link: an ack reaches it 200 ms after the
    // server passed it on.
    proxy.delay(SLOW, Duration::ZERO);
    let (client, cluster) = (rig.client.clone(), rig.cluster.clone());
    let since = Instant::now();
    rig.node("p3").tell(&client, &cluster, "leave").await;
    let chunk = tap
        .until("the first chunk from p3", |c| {
            c.iter().find(|c| c.from == "p3").cloned()
        })
        .await;
    rig.node("p3").kill().await;
    let killed = chunk.seen.elapsed();
    eprintln!(
        "p3 SIGKILLed {killed:?} after its first chunk (shard {}, {} actors, to {}) passed the server",
        chunk.shard,
        chunk.actors.len(),
        chunk.to
    );
    rig.served_once(&["p1", "p2"]).await;
    load.flows(100).await;
    // The shard whose chunk was on its way was never released by p3: its
    // transfer was cut by the kill, not finished.
    let p3 = phases_of(&rig.claims.writes(), "p3", since);
    assert_eq!(
        p3.get(&chunk.shard).map(String::as_str),
        Some("releasing"),
        "p3's last word on shard {} ({p3:?})",
        chunk.shard
    );
    let cut = p3.values().filter(|p| *p == "releasing").count();
    let chunks = tap.chunks();
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!(
        "F1: {cut} of p3's shards left releasing; {} chunks seen; {report}; {errors} errors retried",
        chunks.len()
    );
}

/// F2: the destination of a warm handoff is SIGKILLed once it has
/// acknowledged a chunk, while others are on their way to it. The source
/// gives up on the transfer (the rest moves cold), releases, and the
/// shards end with the survivors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_the_destination_killed_mid_transfer_loses_nothing() {
    let server = NatsServer::start().await;
    let proxy = TcpProxy::start(server.port()).await;
    let urls = vec![server.url(), proxy.url(), server.url()];
    let mut rig = Rig::start("h2", &server.url(), &["p1", "p2", "p3"], &urls, 1).await;
    let tap = rig.tap().await;
    let actors = counters(ACTORS, "h2");
    let load = Load::start(&[&rig.caller], &actors, CALLERS, DEADLINE);
    load.flows(100).await;
    // p2 (a destination) on a slow link: chunks reach it 200 ms late, its
    // acks take 200 ms more.
    proxy.delay(SLOW, Duration::ZERO);
    let (client, cluster) = (rig.client.clone(), rig.cluster.clone());
    // p3 leaves: its shards go to p1 and p2, warm.
    rig.node("p3").tell(&client, &cluster, "leave").await;
    let (acked, pending) = tap
        .until("an ack from p2", |c| {
            let to_p2: Vec<_> = c.iter().filter(|c| c.to == "p2").collect();
            let acked = to_p2
                .iter()
                .filter(|c| c.acked.load(Ordering::SeqCst))
                .count();
            (acked > 0).then(|| (acked, to_p2.len() - acked))
        })
        .await;
    rig.node("p2").kill().await;
    eprintln!("p2 SIGKILLed after acking {acked} chunks, {pending} more on their way to it");
    rig.node("p3").exited().await;
    rig.served_once(&["p1"]).await;
    load.flows(100).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("F2: {report}; {errors} errors retried");
}

/// F6: the leader is SIGKILLed once the first claims of a rebalance (a
/// fourth node joining) moved. A new leader (a higher term) finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f6_the_leader_killed_mid_rebalance_loses_nothing() {
    let server = NatsServer::start().await;
    let mut rig = Rig::start("h6", &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let actors = counters(ACTORS, "h6");
    let load = Load::start(&[&rig.caller], &actors, CALLERS, DEADLINE);
    load.flows(100).await;
    let (leader, term) = rig.leader(0).await;
    let since = Instant::now();
    let url = rig.url.clone();
    rig.spawn("p4", &url);
    let first = rig
        .claims
        .first("p4 serving a shard", since, |w| {
            w.owner == "p4" && w.phase == "serving"
        })
        .await;
    rig.node(&leader).kill().await;
    let moved = phases_of(&rig.claims.writes(), "p4", since).len();
    eprintln!(
        "leader {leader} (term {term}) SIGKILLed after p4 claimed shard {} ({moved} shards by then)",
        first.shard
    );
    let rest: Vec<&str> = ["p1", "p2", "p3", "p4"]
        .into_iter()
        .filter(|n| *n != leader)
        .collect();
    rig.served_once(&rest).await;
    let (new_leader, new_term) = rig.leader(term).await;
    assert!(new_term > term, "term {term} -> {new_term}");
    assert_ne!(new_leader, leader);
    load.flows(100).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!(
        "F6: {new_leader} leads term {new_term}; p4 ended with {} shards; {report}; {errors} errors retried",
        phases_of(&rig.claims.writes(), "p4", since)
            .values()
            .filter(|p| *p == "serving")
            .count()
    );
}

/// The shard maps published: (epoch, members, when seen).
type Maps = Arc<Mutex<Vec<(u64, Vec<String>, Instant)>>>;

/// Watches the shard map.
fn watch_maps(
    js: async_nats::jetstream::Context,
    cluster: &str,
) -> (Maps, tokio::task::JoinHandle<()>) {
    let maps: Maps = Arc::default();
    let bucket = format!("{cluster}_shards");
    let task = tokio::spawn({
        let maps = maps.clone();
        async move {
            loop {
                if let Ok(kv) = js.get_key_value(&bucket).await
                    && let Ok(mut entries) = kv.watch("map").await
                {
                    while let Some(Ok(e)) = entries.next().await {
                        if let Ok(m) = aether_cluster::ShardMap::decode(&e.value) {
                            let members = m.members.iter().map(|n| n.to_string()).collect();
                            maps.lock().unwrap_or_else(PoisonError::into_inner).push((
                                m.epoch,
                                members,
                                Instant::now(),
                            ));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    (maps, task)
}

/// F7: maps that flap. p4 joins (its shards move p1..p3 → p4), is told to
/// leave as soon as the map names it (back to p1..p3, while the first
/// handoffs are under way), and joins again at once (→ p4): A→B→A→B, each
/// move a new claim, none waiting for the previous to settle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f7_maps_that_flap_keep_one_owner_per_shard() {
    let server = NatsServer::start().await;
    let mut rig = Rig::start("h7", &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let (maps, watching) = watch_maps(rig.js.clone(), &rig.cluster);
    let actors = counters(ACTORS, "h7");
    let load = Load::start(&[&rig.caller], &actors, CALLERS, DEADLINE);
    load.flows(100).await;
    let (client, cluster) = (rig.client.clone(), rig.cluster.clone());
    let url = rig.url.clone();
    let named = |maps: &Maps, with: bool, after: u64| {
        let maps = maps.lock().unwrap_or_else(PoisonError::into_inner);
        maps.iter()
            .find(|(e, m, _)| *e > after && m.iter().any(|n| n == "p4") == with)
            .map(|(e, _, _)| *e)
    };
    let mut epoch = 0;
    for round in 0..2 {
        rig.spawn("p4", &url);
        epoch = Wait::new("a map naming p4", Duration::from_secs(20))
            .every(Duration::from_millis(2))
            .until(async || named(&maps, true, epoch))
            .await;
        // At once: the handoffs to p4 have only begun.
        rig.node("p4").tell(&client, &cluster, "leave").await;
        epoch = Wait::new("a map without p4", Duration::from_secs(20))
            .every(Duration::from_millis(2))
            .until(async || named(&maps, false, epoch))
            .await;
        rig.node("p4").exited().await;
        eprintln!("round {round}: p4 joined and left");
    }
    // And a last move to p4, which stays.
    rig.spawn("p4", &url);
    rig.served_once(&["p1", "p2", "p3", "p4"]).await;
    load.flows(100).await;
    watching.abort();
    let maps = maps.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let t0 = maps.first().map(|m| m.2).unwrap_or_else(Instant::now);
    let timeline: Vec<String> = maps
        .iter()
        .map(|(e, m, t)| format!("E{e} {m:?} at +{:?}", t.duration_since(t0)))
        .collect();
    let cold_on_p4 = rig.loads("p4").await.len();
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!(
        "F7: maps {timeline:?}; the last p4 loaded {cold_on_p4} actors cold; {report}; {errors} errors retried"
    );
}

/// F8: the NATS server leading the claims bucket is SIGKILLed while a node
/// joins (handoffs to it under way), then the one leading the event stream
/// while that node leaves (handoffs back). R3 everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f8_nats_leaders_killed_during_handoffs_lose_nothing() {
    init_tracing();
    let nats = NatsCluster::start().await;
    let all = nats.client_url().joined();
    let mut rig = Rig::start("h8", &all, &["p1", "p2", "p3"], &[], 3).await;
    let tap = rig.tap().await;
    let actors = counters(ACTORS, "h8");
    let load = Load::start(&[&rig.caller], &actors, CALLERS, DEADLINE);
    load.flows(100).await;
    let names: Vec<String> = rig
        .js
        .stream_names()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    let events = names
        .iter()
        .find(|n| n.starts_with(&rig.stream))
        .unwrap_or_else(|| panic!("no stream {}*: {names:?}", rig.stream))
        .clone();
    let claims = format!("KV_{}_claims", rig.cluster);
    let streams = [claims.clone(), events.clone()];
    let (client, cluster) = (rig.client.clone(), rig.cluster.clone());
    for (round, stream) in streams.iter().enumerate() {
        let leader = aether_testkit::stream_leader(&rig.js, stream).await;
        let i: usize = leader.trim_start_matches('n').parse::<usize>().unwrap() - 1;
        let since = Instant::now();
        // Round 0: p4 joins; round 1: p4 leaves.
        let (mover, to) = if round == 0 {
            rig.spawn("p4", &all);
            (None, Some("p4"))
        } else {
            rig.node("p4").tell(&client, &cluster, "leave").await;
            (Some("p4"), None)
        };
        // A claim on its way to or from p4, or a chunk: whichever shows first.
        Wait::new("a handoff under way", Duration::from_secs(30))
            .every(Duration::from_millis(5))
            .until(async || {
                let by_claim = rig.claims.writes().iter().any(|w| {
                    w.seen >= since
                        && w.phase != "serving"
                        && mover.is_none_or(|m| w.owner == m)
                        && to.is_none_or(|t| w.to.as_deref() == Some(t))
                });
                let by_chunk = tap.chunks().iter().any(|c| {
                    c.seen >= since
                        && mover.is_none_or(|m| c.from == m)
                        && to.is_none_or(|t| c.to == t)
                });
                by_claim || by_chunk
            })
            .await;
        eprintln!("killing {leader}, the leader of {stream}, during handoffs");
        nats.kill(i);
        // The fault: down for 3 s.
        tokio::time::sleep(Duration::from_secs(3)).await;
        nats.restart(i).await;
        for s in &streams {
            replicas_current(&rig.js, s).await;
        }
        if round == 0 {
            rig.served_once(&["p1", "p2", "p3", "p4"]).await;
        } else {
            rig.node("p4").exited().await;
            rig.served_once(&["p1", "p2", "p3"]).await;
        }
        load.flows(50).await;
    }
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("F8: {report}; {errors} errors retried");
}

/// F9: the ack of the last append before a handoff is lost. An actor on p1
/// is sent one command; p1's store lands its append but holds the answer;
/// p1 leaves (a warm handoff of all its shards); once the actor's shard is
/// `releasing` the answer comes: `Unavailable`, the outcome unknown to the
/// runtime. That actor must move cold — never shipped, loaded from the log
/// by its new owner, where the dedupe window finds the command when its
/// caller retries it — while p1's other actors move warm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f9_an_actor_whose_last_append_is_unknown_moves_cold() {
    let server = NatsServer::start().await;
    let mut rig = Rig::start("h9", &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let tap = rig.tap().await;
    let map = view(&rig.js, &rig.cluster, 1024).await.map.unwrap();
    let on = |a: &ActorId, node: &str| {
        map.primary(shard_for_actor(a, 1024)).map(|n| n.as_str()) == Some(node)
    };
    let mut actors = counters(ACTORS, "h9");
    // The actor whose append is held, called by nobody else.
    let held = (0..)
        .map(|k| ActorId::new(format!("counter-h9held{k}")).unwrap())
        .find(|a| on(a, "p1"))
        .unwrap();
    let shard = shard_for_actor(&held, 1024).0;
    // Every actor active on its node before the handoff.
    for a in actors.iter().chain([&held]) {
        rig.caller
            .get::<Counter>(a.clone())
            .unwrap()
            .ask(1)
            .await
            .unwrap();
    }
    let on_p1: Vec<ActorId> = actors.iter().filter(|a| on(a, "p1")).cloned().collect();
    let load = Load::start(&[&rig.caller], &actors, CALLERS, DEADLINE);
    load.flows(100).await;
    let (client, cluster) = (rig.client.clone(), rig.cluster.clone());
    let armed = format!("hold-ack {held}");
    rig.node("p1")
        .ask(&client, &cluster, &armed, Duration::from_secs(5))
        .await
        .unwrap();
    // One call, one attempt at a time (no retry reaches the actor while its
    // append is held), recorded in the load's history.
    let patient = patient(&rig.url, &rig.cluster).await;
    let call = tokio::spawn({
        let (history, held) = (load.history.clone(), held.clone());
        async move {
            let r = patient.get::<Counter>(held.clone()).unwrap();
            let id = aether_core::CommandId::new("held-1").unwrap();
            let mut answers = Vec::new();
            loop {
                let t = history.issue("held-1", &held);
                let res = r.ask(1).command_id(id.clone()).deadline(DEADLINE).await;
                let outcome = match &res {
                    Ok(o) => Outcome::Ok { version: o.version },
                    Err(e) if e.may_have_applied() => Outcome::Unknown,
                    Err(_) => Outcome::NotApplied,
                };
                let node = res.as_ref().ok().and_then(|o| {
                    o.events
                        .first()
                        .and_then(|e| e.metadata.writer_node().map(str::to_owned))
                });
                history.answer(t, outcome, node.as_deref());
                answers.push(format!("{res:?}").chars().take(120).collect::<String>());
                if res.is_ok() {
                    return answers;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let version: u64 = rig
        .node("p1")
        .ask(&client, &cluster, "held", Duration::from_secs(10))
        .await
        .unwrap()
        .parse()
        .unwrap();
    eprintln!("{held}'s append landed at v{version}, its answer held; p1 leaves");
    let since = Instant::now();
    rig.node("p1").tell(&client, &cluster, "leave").await;
    rig.claims
        .first("the held actor's shard releasing", since, |w| {
            w.shard == shard && w.owner == "p1" && w.phase == "releasing"
        })
        .await;
    rig.node("p1")
        .ask(&client, &cluster, "release", Duration::from_secs(5))
        .await
        .unwrap();
    rig.node("p1").exited().await;
    rig.served_once(&["p2", "p3"]).await;
    let answers = call.await.unwrap();
    load.flows(100).await;
    // Every actor of p1 is called again, so that each one is active on its
    // new owner: warm (installed) or cold (loaded from the log).
    for a in &on_p1 {
        rig.caller
            .get::<Counter>(a.clone())
            .unwrap()
            .query(Value)
            .deadline(DEADLINE)
            .await
            .unwrap();
    }
    let map = view(&rig.js, &rig.cluster, 1024).await.map.unwrap();
    let new_owner = map
        .primary(aether_cluster::ShardId(shard))
        .unwrap()
        .to_string();
    let shipped: Vec<(String, u64)> = tap
        .chunks()
        .iter()
        .flat_map(|c| c.actors.clone())
        .filter(|(a, _)| *a == held.to_string())
        .collect();
    assert!(shipped.is_empty(), "{held} was shipped: {shipped:?}");
    let mut cold = Vec::new();
    for n in ["p2", "p3"] {
        let loads = rig.loads(n).await;
        cold.extend(
            on_p1
                .iter()
                .filter(|a| loads.contains(&a.to_string()))
                .cloned(),
        );
        if n == new_owner {
            assert!(
                loads.contains(&held.to_string()),
                "{held} (its last append unknown) was loaded from the log by {n}: {loads:?}"
            );
        }
    }
    assert!(
        cold.is_empty(),
        "p1's other actors move warm: {} of {} were loaded cold: {cold:?}",
        cold.len(),
        on_p1.len()
    );
    actors.push(held.clone());
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!(
        "F9: {held} moved cold to {new_owner}; its caller saw {answers:?}; \
         {} of p1's {} other actors loaded cold ({cold:?}); {report}; {errors} errors retried",
        cold.len(),
        on_p1.len()
    );
}

/// A caller whose every attempt waits up to 10 s (no retry while an
/// attempt is open).
async fn patient(url: &str, cluster: &str) -> ActorSystem {
    ActorSystem::remote(
        dial(url).await,
        RemoteConfig {
            cluster_name: cluster.to_owned(),
            ..RemoteConfig::default()
        },
    )
    .routing(aether_cluster::runtime::RoutingConfig {
        first_attempt_timeout: Duration::from_secs(10),
        attempt_timeout: Duration::from_secs(10),
        ..Default::default()
    })
    .register::<Counter>(ActorConfig::default())
    .start()
    .await
    .unwrap()
}
