//! Deploying a model to a running 3-node cluster (one real nats-server,
//! the JetStream store): every member and a remote caller load the
//! published account v3 through their watchers; model actors answer from
//! any node (events, the model's rejections, bad requests, queries); a
//! compatible v4 published while callers keep sending commands is adopted
//! by every node; every actor's stamped model versions never decrease
//! along its log; no command is lost or applied twice.

#[path = "support/cluster.rs"]
mod cluster;
#[path = "support/models.rs"]
mod models;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aether_cluster::runtime::{ActorRef, ActorSystem, AskError};
use aether_core::{ActorId, CommandId, EventStore};
use aether_model::deploy::{ModelRegistry, PublishOptions, RegistryConfig};
use aether_model::{ModelBehavior, ModelCommand, ModelQuery};
use aether_testkit::{NatsServer, eventually};
use cluster::*;
use serde_json::json;

fn account(system: &ActorSystem, key: &str) -> ActorRef<ModelBehavior> {
    system.actor_of::<ModelBehavior>("account", key).unwrap()
}

fn cmd(name: &str, body: serde_json::Value) -> ModelCommand {
    ModelCommand::new(name, body)
}

/// Callers that deposit 1 into random accounts through `system`, each
/// command retried with its id until it is answered `Ok`.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    errors: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<Vec<(String, String)>>>,
}

impl Load {
    fn start(system: &ActorSystem, prefix: &str, keys: &[String], callers: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let tasks = (0..callers)
            .map(|k| {
                let (system, keys, prefix) = (system.clone(), keys.to_vec(), prefix.to_owned());
                let (stop, ok, errors) = (stop.clone(), ok.clone(), errors.clone());
                tokio::spawn(async move {
                    // (actor key, command id) of every command answered Ok.
                    let mut done = Vec::new();
                    let mut n = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let key = &keys[(k * 7919 + n * 31) % keys.len()];
                        let id = format!("load-{prefix}-{k}-{n}");
                        let actor = account(&system, key);
                        loop {
                            let res = actor
                                .ask(cmd("Deposit", json!({"amount": 1})))
                                .command_id(CommandId::new(id.as_str()).unwrap())
                                .deadline(Duration::from_secs(10))
                                .await;
                            match res {
                                Ok(_) => {
                                    ok.fetch_add(1, Ordering::Relaxed);
                                    done.push((key.clone(), id.clone()));
                                    break;
                                }
                                Err(AskError::Rejected(r)) => {
                                    panic!("a deposit into an open account was rejected: {r}")
                                }
                                Err(e) => {
                                    errors.fetch_add(1, Ordering::Relaxed);
                                    tracing::info!(%e, id, "retrying with the same id");
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                }
                            }
                        }
                    }
                    done
                })
            })
            .collect();
        Self {
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

    async fn finish(self) -> Vec<(String, String)> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in self.tasks {
            all.extend(t.await.unwrap());
        }
        all
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_published_to_three_nodes_runs_everywhere_and_v4_rolls_out_under_load() {
    let server = NatsServer::start().await;
    let url = server.url();
    let name = unique_cluster("md");
    let config = fast_config(&name);
    let (a, wa) = member(&url, &config, "a", "MDEPLOY").await;
    let (b, wb) = member(&url, &config, "b", "MDEPLOY").await;
    let (c, wc) = member(&url, &config, "c", "MDEPLOY").await;
    all_served(&[&a, &b, &c]).await;
    let (caller, wr) = remote(&url, &name).await;
    let watchers = [&wa, &wb, &wc, &wr];
    assert!(wa.loaded().is_empty(), "nothing published yet");

    let registry = ModelRegistry::open(server.connect().await, RegistryConfig::default())
        .await
        .unwrap();
    registry
        .publish(&models::v3(), PublishOptions::default())
        .await
        .unwrap();
    all_run(&watchers, "account", 3).await;
    assert!(a.types().iter().any(|t| &**t == "account"));

    // Calls from the remote caller reach the owners.
    let keys: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    for key in &keys {
        let opened = account(&caller, key)
            .ask(cmd("Open", json!({"owner": key})))
            .await
            .unwrap();
        assert_eq!(opened.version, 1);
        assert_eq!(opened.events[0].metadata.model(), Some("account@3"));
        assert_eq!(&*opened.events[0].event.event_type, "Opened");
    }
    let ann = account(&caller, "k0");
    let err = ann
        .ask(cmd("Withdraw", json!({"amount": 500})))
        .await
        .unwrap_err();
    let AskError::Rejected(r) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(r.code, "insufficient_funds");
    assert_eq!(r.details, json!({"balance": 0, "requested": 500}));
    let err = ann
        .ask(cmd("Deposit", json!({"amount": -5})))
        .await
        .unwrap_err();
    assert!(!err.may_have_applied());
    let AskError::Unavailable { cause, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(cause, aether_core::Error::InvalidInput { .. }),
        "{cause}"
    );
    assert!(cause.to_string().contains("/amount"), "{cause}");
    assert_eq!(
        ann.query(ModelQuery("Balance".into())).await.unwrap(),
        json!({"balance": 0, "status": "open"})
    );

    // Load from the caller and from a member; v4 published meanwhile.
    let loads = [
        Load::start(&caller, "r", &keys, 3),
        Load::start(&b, "b", &keys, 2),
    ];
    for l in &loads {
        l.flows(30).await;
    }
    let p4 = registry
        .publish(&models::v4(), PublishOptions::default())
        .await
        .unwrap();
    assert!(p4.diff.unwrap().fingerprint.changed(), "actors reload");
    all_run(&watchers, "account", 4).await;
    for l in &loads {
        l.flows(30).await;
    }
    let mut done = Vec::new();
    let mut errors = 0;
    for l in loads {
        errors += l.errors.load(Ordering::Relaxed);
        done.extend(l.finish().await);
    }

    // v4 serves every actor (its new command and query), from every node.
    for (i, key) in keys.iter().enumerate() {
        let from = [&a, &b, &c, &caller][i % 4];
        let noted = account(from, key)
            .ask(cmd("Note", json!({"text": "v4"})))
            .await
            .unwrap();
        assert_eq!(noted.events[0].metadata.model(), Some("account@4"));
        assert_eq!(
            account(from, key)
                .query(ModelQuery("Status".into()))
                .await
                .unwrap(),
            json!("open")
        );
    }

    // The logs: no command lost or doubled, stamps never decrease, and
    // every node wrote under v4.
    let log = store(&url, "MDEPLOY").await;
    let mut sent: HashMap<&str, Vec<&str>> = HashMap::new();
    for (key, id) in &done {
        sent.entry(key.as_str()).or_default().push(id.as_str());
    }
    let mut v4_writers = HashSet::new();
    let mut deposits = 0;
    for key in &keys {
        let actor = ActorId::new(format!("account-{key}")).unwrap();
        let events = log.read(&actor, 1).await.unwrap();
        let mut last = 0u32;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for e in &events {
            let stamp = e.metadata.model().expect("every event is stamped");
            let version: u32 = stamp.strip_prefix("account@").unwrap().parse().unwrap();
            assert!(
                version >= last,
                "{actor}: event {} stamped v{version} after v{last}",
                e.version
            );
            last = version;
            if version == 4 {
                v4_writers.insert(e.metadata.writer_node().unwrap().to_owned());
            }
            if &*e.event_type == "Deposited"
                && let Some(id) = e.metadata.causation_id()
                && id.starts_with("load-")
            {
                *seen.entry(id).or_default() += 1;
                deposits += 1;
            }
        }
        let expected: HashSet<&str> = sent
            .get(key.as_str())
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let applied: HashSet<&str> = seen.keys().copied().collect();
        assert_eq!(
            applied, expected,
            "{actor}: the commands answered Ok, each applied"
        );
        assert!(
            seen.values().all(|&n| n == 1),
            "{actor}: applied twice: {seen:?}"
        );
        let balance = account(&caller, key)
            .query(ModelQuery("Balance".into()))
            .await
            .unwrap();
        assert_eq!(balance["balance"], json!(expected.len()), "{actor}");
    }
    assert_eq!(deposits, done.len());
    let mut writers: Vec<String> = v4_writers.into_iter().collect();
    writers.sort();
    assert_eq!(writers, ["a", "b", "c"], "every node decided under v4");
    eprintln!(
        "{} deposits answered Ok across the rollout ({errors} retried calls)",
        done.len()
    );
    assert!(watchers.iter().all(|w| w.failures().is_empty()));

    for w in [wa, wb, wc, wr] {
        w.stop().await;
    }
    for s in [a, b, c] {
        s.shutdown().await.unwrap();
    }
}
