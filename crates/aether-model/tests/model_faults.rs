//! A fault test with model actors: three Aether nodes as separate OS
//! processes (the cluster runtime's fault harness, `aether-cluster/tests/
//! fault_support`), each running the account *model* read from the model
//! registry (no compiled actor type), a real nats-server and the JetStream
//! store. Callers in the test process deposit into model accounts through
//! a system that serves nothing; one owner is killed with SIGKILL under
//! load; the test kit's history checker then holds the recorded history
//! against every account's log: every `Ok` in the log exactly once at its
//! version, nothing applied twice, versions gapless, real-time order, claim
//! revisions never going back, no `Ok` from a superseded owner — the same
//! checks as the typed counters of `runtime_faults.rs`.

#[path = "../../aether-cluster/tests/cluster_support/mod.rs"]
mod cluster_support;
#[path = "../../aether-cluster/tests/fault_support/mod.rs"]
mod fault_support;
#[path = "support/models.rs"]
mod models;
#[path = "../../aether-cluster/tests/support.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aether_cluster::runtime::{ActorConfig, ActorSystem, AskError, RemoteConfig};
use aether_cluster::{ClusterNode, NodeInfo, shard_for_actor};
use aether_core::{ActorId, CommandId, EventStore, NodeId};
use aether_model::deploy::{ModelRegistry, PublishOptions, RegistryConfig};
use aether_model::{Deployed, ModelBehavior, ModelCommand, check};
use aether_testkit::NatsServer;
use aether_testkit::eventually;
use aether_testkit::history::{History, Outcome, Report, check_with_claims};
use fault_support::{CHILD_ENV, ClaimWatch, Node, Spec, config, dial, settled, view};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(15);

/// The account model as the registry holds it now, deployed.
async fn published(client: async_nats::Client) -> Deployed {
    let registry = ModelRegistry::open_existing(client, RegistryConfig::default())
        .await
        .unwrap();
    let shown = registry.show("account", None).await.unwrap();
    Deployed::new(check(&shown.model).unwrap())
}

/// Not a test: the body of every node process. A cluster member over the
/// JetStream store whose only actor type is the model published in the
/// registry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    support::init_tracing();
    let v: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_owned();
    let (url, cluster, id, stream) = (s("url"), s("cluster"), s("id"), s("stream"));
    let replicas = v["replicas"].as_u64().unwrap() as usize;
    let events = cluster_support::store_with(&url, &stream, replicas).await;
    let client = dial(&url).await;
    let model = published(client.clone()).await;
    let node = ClusterNode::start(
        client,
        aether_cluster::ClusterConfig {
            node: NodeInfo::new(NodeId::new(id.as_str()).unwrap()),
            ..config(&cluster, replicas)
        },
    )
    .await
    .unwrap();
    let _system = ActorSystem::cluster(node)
        .events(events)
        .define::<ModelBehavior>(model, ActorConfig::default())
        .start()
        .await
        .unwrap();
    tracing::info!(%id, "model node process serving");
    // Killed by the test; never outlive it for long.
    tokio::time::sleep(Duration::from_secs(180)).await;
    panic!("node process {id} was not stopped within 180 s");
}

/// Callers depositing 1 into random accounts through `system`, each command
/// retried with its id until it is answered, every send and answer recorded.
struct Load {
    history: Arc<History>,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(system: &ActorSystem, actors: &[ActorId], callers: usize) -> Self {
        let history = Arc::new(History::new());
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let tasks = (0..callers)
            .map(|k| {
                let (system, actors) = (system.clone(), actors.to_vec());
                let (history, stop, ok, errors) =
                    (history.clone(), stop.clone(), ok.clone(), errors.clone());
                tokio::spawn(async move {
                    let mut n = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let actor = &actors[(k * 104_729 + n * 31) % actors.len()];
                        let cmd = format!("k{k}-n{n}");
                        let command_id = CommandId::new(cmd.as_str()).unwrap();
                        let r = system.get::<ModelBehavior>(actor.clone()).unwrap();
                        loop {
                            let t = history.issue(&cmd, actor);
                            let res = r
                                .ask(ModelCommand::new("Deposit", json!({"amount": 1})))
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
                                Err(AskError::Rejected(r)) => {
                                    panic!("a deposit into an open account was rejected: {r}")
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
                })
            })
            .collect();
        Self {
            history,
            stop,
            ok,
            errors,
            tasks,
        }
    }

    async fn flows(&self, more: u64) {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_model_actor_owner_under_load_loses_nothing_and_applies_nothing_twice() {
    support::init_tracing();
    let server = NatsServer::start().await;
    let url = server.url();
    let client = dial(&url).await;
    ModelRegistry::open(client.clone(), RegistryConfig::default())
        .await
        .unwrap()
        .publish(&models::v3(), PublishOptions::default())
        .await
        .unwrap();

    let cluster = support::unique_cluster("mfk");
    let stream = format!("MF{}", cluster.to_uppercase());
    let js = async_nats::jetstream::new(client.clone());
    let claims = ClaimWatch::start(js.clone(), &cluster);
    let mut nodes: Vec<Node> = ["p1", "p2", "p3"]
        .iter()
        .map(|id| {
            Node::spawn(Spec {
                url: url.clone(),
                cluster: cluster.clone(),
                id: (*id).to_owned(),
                stream: stream.clone(),
                replicas: 1,
            })
        })
        .collect();
    settled(&js, &cluster, &["p1", "p2", "p3"], Duration::from_secs(30)).await;
    let caller = ActorSystem::remote(
        client.clone(),
        RemoteConfig {
            cluster_name: cluster.clone(),
            ..RemoteConfig::default()
        },
    )
    .define::<ModelBehavior>(published(client.clone()).await, ActorConfig::default())
    .start()
    .await
    .unwrap();

    // 60 open accounts, then deposits into them from 8 callers.
    let actors: Vec<ActorId> = (0..60)
        .map(|i| ActorId::new(format!("account-mfk{i}")).unwrap())
        .collect();
    for a in &actors {
        caller
            .get::<ModelBehavior>(a.clone())
            .unwrap()
            .ask(ModelCommand::new("Open", json!({"owner": a.as_str()})))
            .deadline(DEADLINE)
            .await
            .unwrap();
    }
    let load = Load::start(&caller, &actors, 8);
    load.flows(50).await;

    // SIGKILL the owner of one of the accounts.
    let map = view(&js, &cluster, 1024).await.map.unwrap();
    let moved = actors
        .iter()
        .find(|a| map.primary(shard_for_actor(a, 1024)).map(|n| n.as_str()) == Some("p1"))
        .cloned()
        .expect("an account on p1");
    let t = Instant::now();
    nodes[0].kill().await;
    caller
        .get::<ModelBehavior>(moved)
        .unwrap()
        .ask(ModelCommand::new("Deposit", json!({"amount": 1})))
        .deadline(DEADLINE)
        .await
        .unwrap();
    let first_ok = t.elapsed();
    settled(&js, &cluster, &["p2", "p3"], Duration::from_secs(30)).await;
    load.flows(50).await;

    // The history against every account's log.
    load.stop.store(true, Ordering::Relaxed);
    for task in load.tasks {
        task.await.unwrap();
    }
    let log = cluster_support::store_with(&url, &stream, 1).await;
    let mut logs = std::collections::HashMap::new();
    let mut stamped = 0usize;
    for a in &actors {
        let events = log.read(a, 1).await.unwrap();
        stamped += events
            .iter()
            .filter(|e| e.metadata.model() == Some("account@3"))
            .count();
        logs.insert(a.clone(), events);
    }
    let total: usize = logs.values().map(Vec::len).sum();
    assert_eq!(stamped, total, "every event decided by account@3");
    let report: Report = check_with_claims(&load.history.ops(), &claims.claims(), &logs);
    let node_logs: Vec<String> = nodes.iter().map(|n| n.log.display().to_string()).collect();
    assert!(report.is_clean(), "{report}\nnode logs: {node_logs:?}");
    let errors = load.errors.load(Ordering::Relaxed);
    eprintln!(
        "SIGKILL -> first Ok on a moved account after {first_ok:?}; {report}; {errors} errors"
    );
    assert_eq!(errors, 0, "callers saw latency, not errors");
    for n in &mut nodes[1..] {
        n.kill().await;
    }
    caller.shutdown().await.unwrap();
}
