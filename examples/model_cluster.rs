//! The bank account as an executable model (`examples/models/account-v1.yaml`,
//! no Rust), published to a running 3-node cluster, called from every node,
//! then version 2 (`account-v2.yaml`) published while callers keep
//! depositing: every node adopts it between turns, active accounts reload
//! their state with the new fold, and no deposit is lost or applied twice.
//!
//! Needs a server: `nats-server -js`, then `cargo run --example
//! model_cluster` (`NATS_URL` names another server; the default is
//! `nats://127.0.0.1:4222`).
//!
//! The nodes compile no actor type: each runs a
//! [`ModelWatcher`] that follows the model registry (a KV bucket) and
//! defines every published version in its actor system. Publishing is what
//! `aether model publish account-v1.yaml --bucket …` does: the publish rules
//! (the model checks, its examples pass, version = previous + 1, nothing
//! breaking without `--breaking`), then a compare-and-set on the model's
//! pointer. Every event is stamped with the version that decided it
//! (`account@1`, `account@2`). The same actors can be called from any NATS
//! client with the wire format of `docs/wire.md` (the Python thin-client
//! test in `crates/aether-model/tests` does).

#[path = "shared/nats.rs"]
mod nats;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aether::cluster::{ClusterConfig, ClusterNode, NodeInfo};
use aether::jetstream::{JetStreamConfig, JetStreamEventStore};
use aether::prelude::*;
use aether::runtime::AskError;
use aether_model::deploy::{ModelRegistry, ModelWatcher, PublishOptions, RegistryConfig};
use aether_model::{Model, ModelBehavior, ModelCommand, ModelQuery};
use nats::BoxError;
use serde_json::json;

const V1: &str = include_str!("models/account-v1.yaml");
const V2: &str = include_str!("models/account-v2.yaml");

/// The accounts the example opens.
const ACCOUNTS: [&str; 6] = ["ann", "bob", "cy", "dee", "eve", "fay"];

/// Short leases so the example is quick (production defaults are longer).
fn config(name: &str, id: &str) -> Result<ClusterConfig, BoxError> {
    let mut c = ClusterConfig {
        cluster_name: name.to_owned(),
        node: NodeInfo::new(NodeId::new(id)?),
        ..ClusterConfig::default()
    }
    .with_lease(Duration::from_secs(2));
    c.rebalance_debounce = Duration::from_millis(100);
    Ok(c)
}

/// One node: cluster membership, an actor system with no compiled type
/// over the shared event stream, and the watcher that loads the models.
async fn node(
    url: &str,
    cluster: &str,
    stream: &str,
    registry: &RegistryConfig,
    id: &str,
) -> Result<(ActorSystem, ModelWatcher), BoxError> {
    let events = JetStreamEventStore::connect(
        url,
        JetStreamConfig {
            stream_name: stream.to_owned(),
            ..JetStreamConfig::default()
        },
    )
    .await
    .map_err(nats::explain(url))?;
    let node = ClusterNode::connect(url, config(cluster, id)?).await?;
    let client = node.client().clone();
    let system = ActorSystem::cluster(node).events(events).start().await?;
    let registry = ModelRegistry::open(client, registry.clone()).await?;
    let watcher = ModelWatcher::start(registry, system.clone(), ActorConfig::default()).await?;
    Ok((system, watcher))
}

/// Waits (20 s at most) until `ok` holds.
async fn until(what: &str, mut ok: impl FnMut() -> bool) -> Result<(), BoxError> {
    let started = Instant::now();
    while !ok() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err(format!("{what}: not within 20 s").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Every shard served by exactly one node.
fn all_served(systems: &[ActorSystem]) -> bool {
    let served: usize = systems.iter().map(|s| s.served_shards().len()).sum();
    let shards = systems[0]
        .cluster_node()
        .and_then(|n| n.shard_map())
        .map(|m| m.shard_count() as usize);
    Some(served) == shards
}

fn account(system: &ActorSystem, key: &str) -> Result<ActorRef<ModelBehavior>, BoxError> {
    Ok(system.actor_of::<ModelBehavior>("account", key)?)
}

fn cmd(name: &str, body: serde_json::Value) -> ModelCommand {
    ModelCommand::new(name, body)
}

/// Callers depositing 1 at a time into the accounts through every node,
/// each command retried with its own id until it is answered (a retry
/// after an answer that was lost is deduplicated, never applied twice).
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<Result<BTreeMap<String, u64>, String>>>,
}

impl Load {
    fn start(systems: &[ActorSystem], run: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let retries = Arc::new(AtomicU64::new(0));
        let tasks = (0..4)
            .map(|k| {
                let system = systems[k % systems.len()].clone();
                let (stop, ok, retries) = (stop.clone(), ok.clone(), retries.clone());
                let run = run.to_owned();
                tokio::spawn(async move {
                    // Deposits answered Ok, per account.
                    let mut done = BTreeMap::<String, u64>::new();
                    let mut n = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let key = ACCOUNTS[(k * 5 + n) % ACCOUNTS.len()];
                        let id = CommandId::new(format!("deposit-{run}-{k}-{n}"))
                            .map_err(|e| e.to_string())?;
                        let actor = system
                            .actor_of::<ModelBehavior>("account", key)
                            .map_err(|e| e.to_string())?;
                        let mut attempts = 0;
                        loop {
                            let answer = actor
                                .ask(cmd("Deposit", json!({"amount": 1})))
                                .command_id(id.clone())
                                .deadline(Duration::from_secs(10))
                                .await;
                            match answer {
                                Ok(_) => break,
                                Err(AskError::Rejected(r)) => {
                                    return Err(format!("a deposit into {key} was rejected: {r}"));
                                }
                                Err(e) if attempts < 50 => {
                                    // A node still loading v2 for an actor
                                    // v2 already wrote to, a moving shard:
                                    // the same command again.
                                    attempts += 1;
                                    retries.fetch_add(1, Ordering::Relaxed);
                                    let _ = e;
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                }
                                Err(e) => return Err(format!("a deposit into {key}: {e}")),
                            }
                        }
                        ok.fetch_add(1, Ordering::Relaxed);
                        *done.entry(key.to_owned()).or_default() += 1;
                    }
                    Ok(done)
                })
            })
            .collect();
        Self {
            stop,
            ok,
            retries,
            tasks,
        }
    }

    /// Waits until `more` further deposits are answered.
    async fn flows(&self, more: u64) -> Result<(), BoxError> {
        let from = self.ok.load(Ordering::Relaxed);
        until(&format!("{more} more deposits"), || {
            self.ok.load(Ordering::Relaxed) - from >= more
        })
        .await
    }

    /// Stops the callers: the deposits answered Ok, per account.
    async fn finish(self) -> Result<BTreeMap<String, u64>, BoxError> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = BTreeMap::new();
        for t in self.tasks {
            for (key, n) in t.await?? {
                *all.entry(key).or_default() += n;
            }
        }
        Ok(all)
    }
}

/// Runs the example against the server at `url`.
pub async fn run(url: &str) -> Result<(), BoxError> {
    let suffix = nats::run_suffix();
    let cluster = format!("mdl{suffix}");
    let stream = format!("EX_MODELS_{}", suffix.to_uppercase());
    // A registry bucket of this run's own (the default is `aether-models`).
    let registry_config = RegistryConfig {
        bucket: format!("ex-models-{suffix}"),
        ..RegistryConfig::default()
    };
    let mut systems = Vec::new();
    let mut watchers = Vec::new();
    for id in ["node-1", "node-2", "node-3"] {
        let (system, watcher) = node(url, &cluster, &stream, &registry_config, id).await?;
        systems.push(system);
        watchers.push(watcher);
    }
    until("every shard served", || all_served(&systems)).await?;
    println!("3 nodes serve cluster {cluster}; they run no actor type yet");

    // Publish v1: what `aether model publish models/account-v1.yaml` does.
    let client = systems[0]
        .cluster_node()
        .ok_or("a cluster node")?
        .client()
        .clone();
    let registry = ModelRegistry::open(client, registry_config.clone()).await?;
    let v1 = Model::from_yaml(V1)?;
    let published = registry.publish(&v1, PublishOptions::default()).await?;
    println!(
        "published account@{} (sha256 {}…, state fingerprint {}) to bucket {}",
        published.version,
        &published.sha256[..12],
        published.fingerprint,
        registry_config.bucket
    );
    until("every node runs account@1", || {
        watchers.iter().all(|w| w.version_of("account") == Some(1))
    })
    .await?;
    println!("every node runs account@1");

    // Called from every node like any actor: JSON commands, the model's
    // rejections, bad requests with the JSON pointer, queries.
    for (i, key) in ACCOUNTS.iter().enumerate() {
        let from = &systems[i % systems.len()];
        let opened = account(from, key)?
            .ask(cmd("Open", json!({"owner": key, "overdraft": 50})))
            .await?;
        let stamp = opened.events[0].metadata.model().unwrap_or("?").to_owned();
        let writer = opened.events[0].metadata.writer_node().unwrap_or("?");
        account(from, key)?
            .ask(cmd("Deposit", json!({"amount": 100})))
            .await?;
        println!("  account-{key:<4} opened and credited 100 by {writer} under {stamp}");
    }
    let ann = account(&systems[1], "ann")?;
    match ann.ask(cmd("Withdraw", json!({"amount": 1000}))).await {
        Err(AskError::Rejected(r)) => println!(
            "  withdraw 1000 from account-ann: rejected {} ({}), details {}",
            r.code, r.message, r.details
        ),
        other => return Err(format!("expected a rejection, got {other:?}").into()),
    }
    match ann.ask(cmd("Deposit", json!({"amount": "ten"}))).await {
        Err(AskError::Unavailable { cause, .. }) => {
            println!("  deposit \"ten\": refused, nothing written: {cause}")
        }
        other => return Err(format!("expected a bad request, got {other:?}").into()),
    }
    let balance = ann.query(ModelQuery("Balance".into())).await?;
    println!("  Balance of account-ann: {balance}");

    // v2 published while callers deposit through every node.
    let load = Load::start(&systems, &suffix);
    load.flows(40).await?;
    let v2 = Model::from_yaml(V2)?;
    let published = registry.publish(&v2, PublishOptions::default()).await?;
    println!(
        "under load ({} deposits so far): published account@{}",
        load.ok.load(Ordering::Relaxed),
        published.version
    );
    if let Some(diff) = &published.diff {
        for line in diff.to_string().lines() {
            println!("  {line}");
        }
    }
    for w in &published.warnings {
        println!("  warning: {w}");
    }
    until("every node runs account@2", || {
        watchers.iter().all(|w| w.version_of("account") == Some(2))
    })
    .await?;
    println!("every node runs account@2");
    load.flows(40).await?;
    let retries = load.retries.load(Ordering::Relaxed);
    let deposited = load.finish().await?;
    let total: u64 = deposited.values().sum();
    println!("{total} deposits answered under load ({retries} calls retried with the same id)");

    // v2's new command and query, on every account; the count of deposits
    // comes from v2's fold over the whole log, v1's events included.
    let log = JetStreamEventStore::connect(
        url,
        JetStreamConfig {
            stream_name: stream.clone(),
            ..JetStreamConfig::default()
        },
    )
    .await?;
    for (i, key) in ACCOUNTS.iter().enumerate() {
        let actor = account(&systems[(i + 1) % systems.len()], key)?;
        actor
            .ask(cmd("Rename", json!({"owner": key.to_uppercase()})))
            .await?;
        let loaded = deposited.get(*key).copied().unwrap_or(0);
        let balance = actor.query(ModelQuery("Balance".into())).await?;
        let deposits = actor.query(ModelQuery("Deposits".into())).await?;
        if balance["balance"] != json!(100 + loaded) || deposits != json!(1 + loaded) {
            return Err(format!(
                "account-{key}: balance {balance}, {deposits} deposits; expected {} and {}",
                100 + loaded,
                1 + loaded
            )
            .into());
        }
        // Each event names the version that decided it; along a log the
        // versions never go back.
        let mut stamps = BTreeMap::<String, usize>::new();
        let mut last = 0u32;
        for e in log
            .read(&ActorId::new(format!("account-{key}"))?, 1)
            .await?
        {
            let stamp = e.metadata.model().unwrap_or("none").to_owned();
            let version: u32 = stamp
                .strip_prefix("account@")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("account-{key}: event {} stamped {stamp}", e.version))?;
            if version < last {
                return Err(format!(
                    "account-{key}: event {} by v{version} after v{last}",
                    e.version
                )
                .into());
            }
            last = version;
            *stamps.entry(stamp).or_default() += 1;
        }
        println!(
            "  account-{key:<4} balance {:>3}, {deposits:>2} deposits; events {stamps:?}",
            balance["balance"]
        );
    }
    println!("every deposit answered Ok is in the log once; v2 folded v1's history too");

    for w in watchers {
        w.stop().await;
    }
    for s in &systems {
        s.shutdown().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    nats::main(|url| async move { run(&url).await }).await
}
