//! What the cluster runtime tests share: member systems over the JetStream
//! store, waiting for every shard to be served, a load of callers that
//! record a history, and the check of that history against the log.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aether_cluster::runtime::{ActorConfig, ActorSystem, AskError, RoutingConfig};
use aether_cluster::{ClusterConfig, ClusterErrorKind, ClusterNode, NodeInfo};
use aether_core::aggregate::Behavior;
use aether_core::{ActorId, CommandId, EventStore, NodeId};
use aether_store_jetstream::{JetStreamConfig, JetStreamEventStore};
use aether_testkit::fixtures::Counter;
use aether_testkit::history::{ClaimSeen, History, Outcome, Report, check_with_claims};
use aether_testkit::{Wait, eventually};

pub async fn store(url: &str, stream: &str) -> JetStreamEventStore {
    store_with(url, stream, 1).await
}

/// The environment variable that runs these tests on a partitioned event
/// log: `AETHER_TEST_PARTITIONS=4 cargo nextest run -p aether-cluster --test
/// runtime_faults -j 1` creates every test's namespace with 4 partition
/// streams (default 1: one stream). Node processes inherit it.
pub const PARTITIONS_ENV: &str = "AETHER_TEST_PARTITIONS";

/// The partitions a test namespace is created with ([`PARTITIONS_ENV`]).
pub fn test_partitions() -> u32 {
    match std::env::var(PARTITIONS_ENV) {
        Ok(k) => k
            .parse()
            .unwrap_or_else(|_| panic!("{PARTITIONS_ENV}={k:?} is not a number")),
        Err(_) => 1,
    }
}

/// The JetStream store of `stream` with `replicas` (3 on a 3-server NATS),
/// created with [`test_partitions`] partitions.
pub async fn store_with(url: &str, stream: &str, replicas: usize) -> JetStreamEventStore {
    let config = JetStreamConfig {
        stream_name: stream.to_owned(),
        replicas,
        partitions: test_partitions(),
        ..JetStreamConfig::default()
    };
    let store = JetStreamEventStore::connect(url, config).await.unwrap();
    assert_eq!(
        u32::from(store.partitions()),
        test_partitions(),
        "{PARTITIONS_ENV} asks for this many partitions"
    );
    store
}

/// A member system running `Counter` on node `id`.
pub async fn member(url: &str, config: &ClusterConfig, id: &str, stream: &str) -> ActorSystem {
    member_with(url, config, id, store(url, stream).await).await
}

/// A member system running `Counter` on node `id` over `events`.
pub async fn member_with(
    url: &str,
    config: &ClusterConfig,
    id: &str,
    events: impl EventStore + 'static,
) -> ActorSystem {
    member_routing(url, config, id, events, RoutingConfig::default()).await
}

/// [`member_with`], routing with `routing`.
pub async fn member_routing(
    url: &str,
    config: &ClusterConfig,
    id: &str,
    events: impl EventStore + 'static,
    routing: RoutingConfig,
) -> ActorSystem {
    let client = aether_nats::connect(url, &Default::default(), "test-node")
        .await
        .unwrap();
    let config = ClusterConfig {
        node: NodeInfo::new(NodeId::new(id).unwrap()),
        ..config.clone()
    };
    // A node started again under the id of one that just left: its entry
    // may outlive it for up to a lease when the leave's delete did not get
    // through (a loaded machine), as an operator restarting it would see.
    let until = Instant::now() + config.membership.lease * 3;
    let node = loop {
        match ClusterNode::start(client.clone(), config.clone()).await {
            Err(e) if e.kind() == ClusterErrorKind::NodeIdTaken && Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => break other.unwrap(),
        }
    };
    ActorSystem::cluster(node)
        .events(events)
        .routing(routing)
        .register::<Counter>(ActorConfig::default())
        .start()
        .await
        .unwrap()
}

/// Waits until every shard is served by exactly one of `systems`.
pub async fn all_served(systems: &[&ActorSystem], shards: u32, limit: Duration) {
    eventually(
        "every shard served by exactly one system",
        limit,
        async || {
            let mut count = vec![0u32; shards as usize];
            for s in systems {
                for shard in s.served_shards() {
                    count[shard.0 as usize] += 1;
                }
            }
            if count.iter().all(|&c| c == 1) {
                return Ok(());
            }
            Err(format!(
                "{} unserved, {} twice",
                count.iter().filter(|&&c| c == 0).count(),
                count.iter().filter(|&&c| c > 1).count()
            ))
        },
    )
    .await
}

pub fn counters(n: usize, prefix: &str) -> Vec<ActorId> {
    (0..n)
        .map(|i| ActorId::new(format!("counter-{prefix}{i}")).unwrap())
        .collect()
}

/// Callers that keep sending `+1` (or another command) to random actors
/// through `systems`, each command retried with its id until it gets a final
/// answer, every send and answer recorded.
pub struct Load {
    pub history: Arc<History>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Calls that returned an error (each retried).
    pub errors: Arc<AtomicU64>,
    pub sent: Arc<AtomicU64>,
    /// Commands answered `Ok`.
    pub ok: Arc<AtomicU64>,
}

impl Load {
    pub fn start(
        systems: &[&ActorSystem],
        actors: &[ActorId],
        callers_per_system: usize,
        deadline: Duration,
    ) -> Self {
        Self::start_with::<Counter>(systems, actors, callers_per_system, deadline, || 1)
    }

    /// [`start`](Self::start), calling actors of type `A` with `command`
    /// (a model actor, say) instead of `Counter` with `+1`.
    pub fn start_with<A: Behavior>(
        systems: &[&ActorSystem],
        actors: &[ActorId],
        callers_per_system: usize,
        deadline: Duration,
        command: fn() -> A::Command,
    ) -> Self {
        let history = Arc::new(History::new());
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let sent = Arc::new(AtomicU64::new(0));
        let ok = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for (si, system) in systems.iter().enumerate() {
            for k in 0..callers_per_system {
                let system = (*system).clone();
                let actors = actors.to_vec();
                let (history, stop, errors, sent, ok) = (
                    history.clone(),
                    stop.clone(),
                    errors.clone(),
                    sent.clone(),
                    ok.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let actor = &actors[((si * 7919 + k * 104729) as u64 + n * 31) as usize % actors.len()];
                        let cmd = format!("s{si}-k{k}-n{n}");
                        let command_id = CommandId::new(cmd.as_str()).unwrap();
                        let r = system.get::<A>(actor.clone()).unwrap();
                        sent.fetch_add(1, Ordering::Relaxed);
                        loop {
                            let t = history.issue(&cmd, actor);
                            let res = r.ask(command()).command_id(command_id.clone()).deadline(deadline).await;
                            let (outcome, node) = match &res {
                                Ok(o) => (
                                    Outcome::Ok { version: o.version },
                                    o.events.first().and_then(|e| e.metadata.writer_node().map(str::to_owned)),
                                ),
                                Err(AskError::Rejected(_)) => (Outcome::Rejected, None),
                                Err(e) if e.may_have_applied() => (Outcome::Unknown, None),
                                Err(_) => (Outcome::NotApplied, None),
                            };
                            history.answer(t, outcome, node.as_deref());
                            match res {
                                Ok(_) => {
                                    ok.fetch_add(1, Ordering::Relaxed);
                                    break;
                                }
                                Err(e) => {
                                    errors.fetch_add(1, Ordering::Relaxed);
                                    tracing::info!(%e, cmd, "ask failed; retrying with the same id");
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                }
                            }
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }));
            }
        }
        Self {
            history,
            stop,
            tasks,
            errors,
            sent,
            ok,
        }
    }

    /// Waits until the callers got `more` further `Ok` answers: the load
    /// flows (through whatever state the cluster is in now).
    pub async fn flows(&self, more: u64) {
        let from = self.ok.load(Ordering::Relaxed);
        eventually(
            format!("{more} more Ok answers"),
            Duration::from_secs(30),
            async || {
                let n = self.ok.load(Ordering::Relaxed) - from;
                if n >= more {
                    Ok(())
                } else {
                    Err(format!("{n} so far"))
                }
            },
        )
        .await
    }

    /// Waits until `node` wrote the events of a command first sent after
    /// `since`, answered `Ok`: it serves again.
    pub async fn served_by(&self, node: &str, since: Instant) {
        Wait::new(format!("an Ok from {node}"), Duration::from_secs(30))
            .every(Duration::from_millis(50))
            .until(async || {
                let ops = self.history.ops();
                let mut first_sent: HashMap<&str, Instant> = HashMap::new();
                for op in &ops {
                    let t = first_sent
                        .entry(op.command_id.as_str())
                        .or_insert(op.issued);
                    *t = (*t).min(op.issued);
                }
                let fresh_from_node = ops.iter().any(|op| {
                    matches!(op.outcome, Outcome::Ok { .. })
                        && op.node.as_deref() == Some(node)
                        && first_sent[op.command_id.as_str()] > since
                });
                fresh_from_node.then_some(())
            })
            .await
    }

    /// Stops the callers (each finishes its command) and checks the history
    /// against the log of every actor.
    pub async fn finish(self, log: &JetStreamEventStore, actors: &[ActorId]) -> Report {
        self.finish_with_claims(log, actors, &[]).await
    }

    /// [`finish`](Self::finish), with the shard claims the test saw written
    /// (the checker's rule "no `Ok` from a superseded owner").
    pub async fn finish_with_claims(
        self,
        log: &JetStreamEventStore,
        actors: &[ActorId],
        claims: &[ClaimSeen],
    ) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        let mut logs = HashMap::new();
        for a in actors {
            logs.insert(a.clone(), log.read(a, 1).await.unwrap());
        }
        check_with_claims(&self.history.ops(), claims, &logs)
    }
}
