//! Fault tests of the runtime across nodes, with every Aether node a
//! separate OS process (`fault_support`), a real nats-server (or three),
//! and the JetStream store. Each test runs a load of callers (a system in
//! the test process that serves nothing and routes every call), records
//! every send and answer, breaks something, and ends with the test kit's
//! history checker over the history and every actor's log: every `Ok` in
//! the log exactly once at its version, no command applied twice, versions
//! gapless, real-time order, claim revisions never going back along a log,
//! no `Ok` from a node whose claim the test had seen superseded (the claims
//! bucket is watched throughout). Callers retry with the same command id
//! after an error; with deadlines longer than the lease plus a second, they
//! should not see errors at all.
//!
//! The tests wait for states (the map settled and every claim served, the
//! load flowing, a node serving again, replicas current), never for a
//! guessed time; the sleeps left are the faults themselves (a pause, a cut
//! or a slow link of a given length) or an observation window.

mod cluster_support;
mod fault_support;
mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aether_cluster::runtime::ActorSystem;
use aether_cluster::shard_for_actor;
use aether_core::{ActorId, CommandId, EventStore};
use aether_testkit::fixtures::Counter;
use aether_testkit::history::{History, Outcome, Report, check_with_claims};
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

/// Nodes, a caller, and the pieces a test looks at.
struct Rig {
    /// One rig at a time in this process (under `cargo test`; nextest runs
    /// each test in its own process, one at a time by its test group).
    _serial: tokio::sync::MutexGuard<'static, ()>,
    cluster: String,
    url: String,
    stream: String,
    replicas: usize,
    nodes: Vec<Node>,
    caller: ActorSystem,
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    /// Every shard claim written, as seen by the test.
    claims: ClaimWatch,
}

impl Rig {
    /// Starts node processes `ids` (each connecting to `urls[i]`, or to
    /// `url`) and waits until every shard is served.
    async fn start(tag: &str, url: &str, ids: &[&str], urls: &[String], replicas: usize) -> Rig {
        static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let serial = SERIAL.lock().await;
        init_tracing();
        let cluster = unique_cluster(tag);
        let stream = format!("RTF{}", cluster.to_uppercase());
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
            claims: ClaimWatch::start(js.clone(), &cluster),
            js,
        };
        for (i, id) in ids.iter().enumerate() {
            let url = urls.get(i).cloned().unwrap_or_else(|| url.to_owned());
            rig.spawn(id, &url);
        }
        settled(&rig.js, &cluster, ids, Duration::from_secs(30)).await;
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

    fn node(&mut self, id: &str) -> &mut Node {
        self.nodes.iter_mut().find(|n| n.id == id).unwrap()
    }

    async fn settled(&self, members: &[&str]) -> aether_cluster::ShardMap {
        settled(&self.js, &self.cluster, members, Duration::from_secs(30)).await
    }

    /// An actor whose shard `owner` serves now.
    async fn actor_of(&self, actors: &[ActorId], owner: &str) -> ActorId {
        let map = view(&self.js, &self.cluster, 1024).await.map.unwrap();
        actors
            .iter()
            .find(|a| map.primary(shard_for_actor(a, 1024)).map(|n| n.as_str()) == Some(owner))
            .cloned()
            .expect("some actor on the node")
    }

    async fn check(&self, load: Load, actors: &[ActorId]) -> (Report, u64) {
        let errors = load.errors.clone();
        let log = store_with(&self.url, &self.stream, self.replicas).await;
        let claims = self.claims.claims();
        let report = load.finish_with_claims(&log, actors, &claims).await;
        eprintln!("{} claim writes seen", claims.len());
        let logs: Vec<String> = self
            .nodes
            .iter()
            .map(|n| n.log.display().to_string())
            .collect();
        assert!(report.is_clean(), "{report}\nnode logs: {logs:?}");
        (report, errors.load(Ordering::Relaxed))
    }
}

fn lease() -> Duration {
    config("x", 1).membership.lease
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_an_owner_under_load_loses_nothing_and_applies_nothing_twice() {
    let server = NatsServer::start().await;
    let mut rig = Rig::start("fk", &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let actors = counters(60, "fk");
    let load = Load::start(&[&rig.caller], &actors, 8, DEADLINE);
    load.flows(50).await;
    let moved = rig.actor_of(&actors, "p1").await;
    let t = Instant::now();
    rig.node("p1").kill().await;
    // The first call that succeeds on one of p1's actors after the kill.
    rig.caller
        .get::<Counter>(moved)
        .unwrap()
        .ask(1)
        .deadline(DEADLINE)
        .await
        .unwrap();
    let first_ok = t.elapsed();
    rig.settled(&["p2", "p3"]).await;
    load.flows(50).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!(
        "SIGKILL -> first Ok on a moved actor after {first_ok:?} (lease {:?}); {report}",
        lease()
    );
    assert_eq!(errors, 0, "callers saw latency, not errors");
    assert!(
        first_ok > lease() / 2,
        "nobody serves p1's shards before its lease ran out"
    );
    assert!(
        first_ok < lease() * 4,
        "taken over within a few leases: {first_ok:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joining_and_one_leaving_gracefully_under_load_cost_callers_nothing() {
    let server = NatsServer::start().await;
    let mut rig = Rig::start("fj", &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let actors = counters(60, "fj");
    let load = Load::start(&[&rig.caller], &actors, 8, DEADLINE);
    // Enough answers before and after the moves for the count asserted below.
    load.flows(100).await;
    let url = rig.url.clone();
    let joined = Instant::now();
    rig.spawn("p4", &url);
    rig.settled(&["p1", "p2", "p3", "p4"]).await;
    load.served_by("p4", joined).await;
    let (client, cluster) = (rig.client.clone(), rig.cluster.clone());
    rig.node("p2").leave(&client, &cluster).await;
    rig.settled(&["p1", "p3", "p4"]).await;
    load.flows(100).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("join + graceful leave: {report}");
    assert_eq!(errors, 0, "planned moves: latency, never errors");
    assert!(report.ok > 200, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_paused_for_twice_its_lease_serves_nothing_stale_when_it_wakes() {
    let server = NatsServer::start().await;
    let mut rig = Rig::start("fs", &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let actors = counters(60, "fs");
    let load = Load::start(&[&rig.caller], &actors, 8, DEADLINE);
    load.flows(50).await;
    rig.node("p1").pause();
    // The fault: frozen for two leases.
    tokio::time::sleep(lease() * 2).await;
    rig.node("p1").resume();
    let woke = Instant::now();
    // It wakes with a lapsed lease, comes back as a member and gets shards
    // again, under new claims, and serves them.
    rig.settled(&["p1", "p2", "p3"]).await;
    load.served_by("p1", woke).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("SIGSTOP for 2 leases: {report}; {errors} errors retried");
    assert_eq!(errors, 0, "callers saw latency, not errors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_for_three_leases_stops_before_others_take_over_and_rejoins() {
    let server = NatsServer::start().await;
    let proxy = TcpProxy::start(server.port()).await;
    let urls = vec![proxy.url()];
    let rig = Rig::start("fp", &server.url(), &["p1", "p2", "p3"], &urls, 1).await;
    let actors = counters(60, "fp");
    let load = Load::start(&[&rig.caller], &actors, 8, DEADLINE);
    load.flows(50).await;
    proxy.blackhole();
    // The others take p1's shards once its lease expired.
    rig.settled(&["p2", "p3"]).await;
    // The fault goes on: cut off for three more leases.
    tokio::time::sleep(lease() * 3).await;
    proxy.heal();
    let healed = Instant::now();
    rig.settled(&["p1", "p2", "p3"]).await;
    load.served_by("p1", healed).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("partition for 3 leases: {report}; {errors} errors retried");
    assert_eq!(errors, 0, "callers saw latency, not errors");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_node_costs_latency_not_errors_and_no_map_flapping() {
    let server = NatsServer::start().await;
    let proxy = TcpProxy::start(server.port()).await;
    let urls = vec![proxy.url()];
    let rig = Rig::start("fw", &server.url(), &["p1", "p2", "p3"], &urls, 1).await;
    let epoch = view(&rig.js, &rig.cluster, 1024).await.map.unwrap().epoch;
    let actors = counters(60, "fw");
    let load = Load::start(&[&rig.caller], &actors, 8, DEADLINE);
    proxy.delay(Duration::from_millis(200), Duration::from_millis(100));
    // The fault: slow for 6 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    proxy.heal();
    // An observation window: a map change the slow period caused late would
    // show by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    load.flows(50).await;
    let after = view(&rig.js, &rig.cluster, 1024).await.map.unwrap().epoch;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("slow node (200 ± 100 ms each way): {report}; map epochs {epoch} -> {after}");
    assert_eq!(errors, 0, "latency, not errors");
    assert!(
        after <= epoch + 1,
        "at most one map change: {epoch} -> {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_nats_servers_that_lead_the_stream_and_the_claims_loses_nothing() {
    init_tracing();
    let nats = NatsCluster::start().await;
    let all = nats.client_url().joined();
    let rig = Rig::start("fn", &all, &["p1", "p2", "p3"], &[], 3).await;
    let actors = counters(60, "fn");
    let load = Load::start(&[&rig.caller], &actors, 8, DEADLINE);
    load.flows(50).await;
    // The store's stream is named after its config, with a suffix.
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
    let streams = [events, format!("KV_{}_claims", rig.cluster)];
    for stream in &streams {
        // After the previous kill the test's own connection may still be
        // reconnecting, or the JetStream meta layer electing: ask again.
        let leader = Wait::new(format!("the leader of {stream}"), Duration::from_secs(20))
            .every(Duration::from_millis(250))
            .until(async || {
                let info = match rig.js.get_stream(stream).await {
                    Ok(mut handle) => handle.info().await.cloned().map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }?;
                info.cluster
                    .and_then(|c| c.leader)
                    .ok_or_else(|| "no leader".to_owned())
            })
            .await;
        let i: usize = leader.trim_start_matches('n').parse::<usize>().unwrap() - 1;
        eprintln!("killing {leader}, the leader of {stream}");
        nats.kill(i);
        // The fault: down for 3 s.
        tokio::time::sleep(Duration::from_secs(3)).await;
        nats.restart(i).await;
        // Back in both streams' groups, and the callers served, before the
        // next kill (two servers down would be no quorum).
        for s in &streams {
            replicas_current(&rig.js, s).await;
        }
        load.flows(50).await;
    }
    rig.settled(&["p1", "p2", "p3"]).await;
    let (report, errors) = rig.check(load, &actors).await;
    eprintln!("stream and claims leaders killed: {report}; {errors} errors retried");
    assert!(report.ok > 100, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_storm_after_a_kill_applies_each_command_id_once() {
    let server = NatsServer::start().await;
    let mut rig = Rig::start("fr", &server.url(), &["p1", "p2", "p3"], &[], 1).await;
    let actors = counters(100, "fr");
    rig.node("p1").kill().await;
    // 10,000 callers: 1,000 command ids, each sent by 10 callers at once.
    let caller = Arc::new(rig.caller.clone());
    let done = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let errors = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let progress = {
        let (done, errors) = (done.clone(), errors.clone());
        tokio::spawn(async move {
            let start = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                eprintln!(
                    "storm {:>3} s: {} of 10,000 answered, {} errors retried",
                    start.elapsed().as_secs(),
                    done.load(Ordering::Relaxed),
                    errors.load(Ordering::Relaxed)
                );
            }
        })
    };
    let history = Arc::new(History::new());
    let calls: Vec<_> = (0..10_000u32)
        .map(|i| {
            let (caller, done, errors) = (caller.clone(), done.clone(), errors.clone());
            let history = history.clone();
            let id = i % 1000;
            let actor = actors[(id % 100) as usize].clone();
            tokio::spawn(async move {
                let r = caller.get::<Counter>(actor.clone()).unwrap();
                let cmd = format!("storm-{id}");
                let command_id = CommandId::new(cmd.as_str()).unwrap();
                loop {
                    let t = history.issue(&cmd, &actor);
                    let res = r
                        .ask(1)
                        .command_id(command_id.clone())
                        .deadline(DEADLINE)
                        .await;
                    let (outcome, node) = match &res {
                        Ok(o) => (
                            Outcome::Ok { version: o.version },
                            o.events
                                .first()
                                .and_then(|e| e.metadata.writer_node().map(str::to_owned)),
                        ),
                        Err(e) if e.is_rejected() => (Outcome::Rejected, None),
                        Err(e) if e.may_have_applied() => (Outcome::Unknown, None),
                        Err(_) => (Outcome::NotApplied, None),
                    };
                    history.answer(t, outcome, node.as_deref());
                    match res {
                        Ok(o) => {
                            done.fetch_add(1, Ordering::Relaxed);
                            return (id, o.deduplicated);
                        }
                        Err(e) if e.is_rejected() => panic!("{e}"),
                        Err(e) => {
                            if errors.fetch_add(1, Ordering::Relaxed) < 5 {
                                eprintln!("storm: {e}");
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await
                        }
                    }
                }
            })
        })
        .collect();
    let mut dedup = 0;
    for c in calls {
        let (_, d) = c.await.unwrap();
        dedup += d as u32;
    }
    progress.abort();
    let log = store(&rig.url, &rig.stream).await;
    let mut logs = HashMap::new();
    for a in &actors {
        logs.insert(a.clone(), log.read(a, 1).await.unwrap());
    }
    let report = check_with_claims(&history.ops(), &rig.claims.claims(), &logs);
    eprintln!("retry storm history: {report}");
    assert!(report.is_clean(), "{report}");
    let mut per_id: HashMap<String, u32> = HashMap::new();
    let mut events = 0;
    for a in &actors {
        for e in log.read(a, 1).await.unwrap() {
            events += 1;
            *per_id
                .entry(e.metadata.causation_id().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    eprintln!(
        "retry storm: {events} events for 1,000 ids from 10,000 callers; {dedup} answered from the dedupe window"
    );
    assert_eq!(per_id.len(), 1000);
    assert!(per_id.values().all(|&n| n == 1), "each id applied once");
    assert_eq!(events, 1000);
    assert!(
        dedup >= 9000 - 1000,
        "most callers got the recorded outcome: {dedup}"
    );
}
