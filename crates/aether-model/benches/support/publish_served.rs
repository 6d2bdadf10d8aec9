//! T5, publish → served on all 3 nodes (target p99 ≤ 1 s), beside the
//! NATS floor of the same propagation, interleaved rounds in one run.
//!
//! One nats-server (aether-testkit), three cluster members in this process,
//! each with its own NATS connection, the JetStream store and a
//! [`ModelWatcher`]; the account model (`models/account.yaml`, v3) is
//! published and one actor per node, owned by that node, is open. Then each
//! round:
//!
//! - **raw**: a KV put of a probe key in the registry's bucket
//!   (`aether-models`) from the release connection, until a watch on that
//!   key on each node's connection sees the put: the floor a pointer's
//!   propagation cannot beat;
//! - **model**: `ModelRegistry::publish` of the next version (v4, v5, …:
//!   `Deposit` emits `{'amount': command.amount, 'rev': <version>}`, so the
//!   state fingerprint is unchanged and active actors adopt it in place),
//!   until each node's own actor answers a deposit decided by the new
//!   version: its event stamped `aether.model = account@<version>` with
//!   `rev` = the version, what a caller sees. Each node polls with one ask
//!   at a time, 1 ms apart, from before the publish starts.
//!
//! Per round the figure is the slowest of the 3 nodes (from the start of
//! `publish` for the model, from the start of the put for raw); printed are
//! p50 and p99 over the rounds (with 20 rounds the p99 is the maximum),
//! the ratios, and where the time goes: when `publish()` returned, and when
//! every node's watcher had loaded the version (`ModelWatcher::version_of`,
//! read by the pollers between asks: one ask's resolution).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aether_cluster::runtime::{ActorConfig, ActorSystem};
use aether_cluster::{ClusterConfig, ClusterNode, NodeInfo, shard_for_actor};
use aether_core::{ActorId, NodeId};
use aether_model::deploy::{ModelRegistry, ModelWatcher, PublishOptions, RegistryConfig};
use aether_model::{Model, ModelBehavior, ModelCommand};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::NatsServer;
use futures::StreamExt;
use serde_json::json;
use tokio::sync::mpsc;

const NODES: usize = 3;
/// The raw probe's key: not a pointer (it has a `.`), and outside the
/// watchers' `*` filter, so the model watchers never see it.
const RAW_KEY: &str = "t5-raw.probe";
/// Longest a round may take before the bench gives up.
const ROUND_LIMIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(1);
const FIRST: u32 = 3;

/// One member: its system, its watcher, and the key of an account it owns.
struct Node {
    system: ActorSystem,
    watcher: Arc<ModelWatcher>,
    key: String,
}

/// The account model at `version`; from v4 on, `Deposit`'s event carries
/// `rev: version` (emits are outside the state fingerprint).
fn account(version: u32) -> Model {
    let mut m = Model::from_yaml(include_str!("../../models/account.yaml")).unwrap();
    assert_eq!(m.version, FIRST);
    m.version = version;
    if version > FIRST {
        let deposit = m.commands.get_mut("Deposit").unwrap();
        deposit.emit[0].data = Some(format!("{{'amount': command.amount, 'rev': {version}}}"));
    }
    m
}

fn config(cluster: &str, id: &str) -> ClusterConfig {
    let mut c = ClusterConfig {
        cluster_name: cluster.to_owned(),
        node: NodeInfo::new(NodeId::new(id).unwrap()),
        ..ClusterConfig::default()
    }
    .with_lease(Duration::from_secs(2));
    c.rebalance_debounce = Duration::from_millis(100);
    c
}

async fn member(url: &str, cluster: &str, id: &str) -> (ActorSystem, async_nats::Client) {
    let client = aether_nats::connect(url, &Default::default(), "bench-node")
        .await
        .unwrap();
    let events = JetStreamEventStore::connect(
        url,
        JetStreamConfig {
            stream_name: "MODELT5".into(),
            ..JetStreamConfig::default()
        },
    )
    .await
    .unwrap();
    let node = ClusterNode::start(client.clone(), config(cluster, id))
        .await
        .unwrap();
    let system = ActorSystem::cluster(node)
        .events(events)
        .start()
        .await
        .unwrap();
    (system, client)
}

/// Waits until every member's map names them all and every shard is served
/// by exactly one of them; the shard count.
async fn all_served(systems: &[&ActorSystem]) -> u32 {
    let start = Instant::now();
    loop {
        let maps: Vec<_> = systems
            .iter()
            .filter_map(|s| s.cluster_node().and_then(|n| n.shard_map()))
            .filter(|m| m.members.len() == systems.len())
            .collect();
        if maps.len() == systems.len() {
            let shards = maps[0].shard_count();
            let mut count = vec![0u32; shards as usize];
            for s in systems {
                for shard in s.served_shards() {
                    count[shard.0 as usize] += 1;
                }
            }
            if count.iter().all(|&c| c == 1) {
                return shards;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "shards not served"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A key whose account `system` owns.
fn local_key(system: &ActorSystem, shards: u32, node: usize) -> String {
    let served = system.served_shards();
    (0..)
        .map(|j| format!("t5n{node}k{j}"))
        .find(|key| {
            let id = ActorId::with_type("account", format!("account-{key}")).unwrap();
            served.contains(&shard_for_actor(&id, shards))
        })
        .unwrap()
}

async fn deposit(system: &ActorSystem, key: &str) -> Option<(String, Option<u64>)> {
    let outcome = system
        .actor_of::<ModelBehavior>("account", key)
        .unwrap()
        .ask(ModelCommand::new("Deposit", json!({"amount": 1})))
        .deadline(Duration::from_secs(5))
        .await
        .ok()?;
    let event = outcome.events.first()?;
    let stamp = event.metadata.model()?.to_owned();
    let rev = event
        .event
        .data
        .value()
        .ok()?
        .get("rev")
        .and_then(|r| r.as_u64());
    Some((stamp, rev))
}

/// What one node's poller saw: when its watcher had loaded the version,
/// when its actor first answered under it, and the asks that failed.
struct Seen {
    loaded: Instant,
    served: Instant,
    errors: u64,
}

/// Deposits into the node's own account, one at a time, 1 ms apart, until
/// one is decided by `version`.
async fn poll(system: ActorSystem, watcher: Arc<ModelWatcher>, key: String, version: u32) -> Seen {
    let target = format!("account@{version}");
    let start = Instant::now();
    let (mut loaded, mut errors) = (None, 0);
    loop {
        if loaded.is_none() && watcher.version_of("account").is_some_and(|v| v >= version) {
            loaded = Some(Instant::now());
        }
        match deposit(&system, &key).await {
            Some((stamp, rev)) if stamp == target => {
                let served = Instant::now();
                assert_eq!(
                    rev,
                    Some(u64::from(version)),
                    "an event stamped {stamp} carries the data of another version"
                );
                return Seen {
                    loaded: loaded.unwrap_or(served),
                    served,
                    errors,
                };
            }
            Some(_) => {}
            None => errors += 1,
        }
        assert!(
            start.elapsed() < ROUND_LIMIT,
            "{key} not served by {target} after {ROUND_LIMIT:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs T5 with `rounds` publishes and prints its lines.
pub(crate) async fn run(rounds: usize) {
    let rounds = rounds.max(1);
    let server = NatsServer::start().await;
    let url = server.url();
    let cluster = format!("t5x{}", std::process::id());
    let mut members = Vec::new();
    for i in 0..NODES {
        members.push(member(&url, &cluster, &format!("t5-{i}")).await);
    }
    let shards = all_served(&members.iter().map(|(s, _)| s).collect::<Vec<_>>()).await;

    // The release pipeline's connection: publishes, and the raw puts.
    let release = server.connect().await;
    let registry = ModelRegistry::open(release.clone(), RegistryConfig::default())
        .await
        .unwrap();
    registry
        .publish(&account(FIRST), PublishOptions::default())
        .await
        .unwrap();
    let raw = async_nats::jetstream::new(release)
        .get_key_value(RegistryConfig::default().bucket)
        .await
        .unwrap();

    // Each node: its watcher (loads v3 at start), its own open account, and
    // a raw watch of the probe key on its connection.
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let mut nodes = Vec::new();
    for (i, (system, client)) in members.into_iter().enumerate() {
        let registry = ModelRegistry::open(client.clone(), RegistryConfig::default())
            .await
            .unwrap();
        let watcher = ModelWatcher::start(registry, system.clone(), ActorConfig::default())
            .await
            .unwrap();
        assert_eq!(watcher.version_of("account"), Some(FIRST));
        let key = local_key(&system, shards, i);
        system
            .actor_of::<ModelBehavior>("account", &key)
            .unwrap()
            .ask(ModelCommand::new("Open", json!({"owner": "ann"})))
            .await
            .unwrap();
        let mut watch = async_nats::jetstream::new(client)
            .get_key_value(RegistryConfig::default().bucket)
            .await
            .unwrap()
            .watch(RAW_KEY)
            .await
            .unwrap();
        let tx = seen_tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(entry)) = watch.next().await {
                if tx.send((i, entry.revision, Instant::now())).is_err() {
                    return;
                }
            }
        });
        nodes.push(Node {
            system,
            watcher: Arc::new(watcher),
            key,
        });
    }
    for n in &nodes {
        assert!(deposit(&n.system, &n.key).await.is_some(), "v3 serves");
    }

    let (mut raw_all, mut served_all, mut returned_all, mut loaded_all) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut errors = 0;
    for round in 0..rounds {
        // Raw: one put, until all three watches see it.
        let t0 = Instant::now();
        let revision = raw
            .put(RAW_KEY, round.to_string().into_bytes().into())
            .await
            .unwrap();
        let mut seen = [None; NODES];
        while seen.iter().any(Option::is_none) {
            let (i, rev, at) = tokio::time::timeout(ROUND_LIMIT, seen_rx.recv())
                .await
                .expect("the raw watches see the put")
                .unwrap();
            if rev == revision {
                seen[i] = Some(at.saturating_duration_since(t0));
            }
        }
        raw_all.push(seen.iter().flatten().max().unwrap().as_secs_f64());

        // Model: publish the next version, until every node's actor answers
        // under it.
        let version = FIRST + 1 + u32::try_from(round).unwrap();
        let model = account(version);
        let pollers: Vec<_> = nodes
            .iter()
            .map(|n| {
                tokio::spawn(poll(
                    n.system.clone(),
                    n.watcher.clone(),
                    n.key.clone(),
                    version,
                ))
            })
            .collect();
        let t0 = Instant::now();
        let published = registry
            .publish(&model, PublishOptions::default())
            .await
            .unwrap();
        returned_all.push(t0.elapsed().as_secs_f64());
        assert!(
            published.diff.is_some_and(|d| !d.fingerprint.changed()),
            "v{version} keeps the state fingerprint (adopted in place)"
        );
        let (mut loaded, mut served) = (Duration::ZERO, Duration::ZERO);
        for p in pollers {
            let seen = p.await.unwrap();
            loaded = loaded.max(seen.loaded.saturating_duration_since(t0));
            served = served.max(seen.served.saturating_duration_since(t0));
            errors += seen.errors;
        }
        loaded_all.push(loaded.as_secs_f64());
        served_all.push(served.as_secs_f64());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let ms = |v: &[f64], p: f64| pct(v.to_vec(), p) * 1e3;
    let (s50, s99) = (ms(&served_all, 0.5), ms(&served_all, 0.99));
    let (r50, r99) = (ms(&raw_all, 0.5), ms(&raw_all, 0.99));
    println!(
        "T5 publish → served on all {NODES} nodes ({rounds} publishes, adopted in place): p50 {s50:.1} ms, p99 {s99:.1} ms (target p99 ≤ 1 s); raw KV put → {NODES} watches see it p50 {r50:.2} ms, p99 {r99:.2} ms; served/raw p50 {:.0}×, p99 {:.0}×",
        s50 / r50,
        s99 / r99
    );
    println!(
        "T5 where the time goes, p50 / p99: publish() returned {:.1} / {:.1} ms, every watcher loaded {:.1} / {:.1} ms, served {s50:.1} / {s99:.1} ms; {errors} asks failed",
        ms(&returned_all, 0.5),
        ms(&returned_all, 0.99),
        ms(&loaded_all, 0.5),
        ms(&loaded_all, 0.99),
    );

    for n in nodes {
        if let Ok(w) = Arc::try_unwrap(n.watcher) {
            w.stop().await;
        }
        let _ = n.system.shutdown().await;
    }
}
