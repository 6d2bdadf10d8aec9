//! Fault tests with model actors: three Aether nodes as separate OS
//! processes (the cluster runtime's fault harness, `aether-cluster/tests/
//! fault_support`), each running the account *model* read from the model
//! registry (no compiled actor type), a real nats-server (or three) and the
//! JetStream store. Callers in the test process deposit into model accounts
//! through a system that serves nothing; something breaks under load (an
//! owner SIGKILLed or paused, a node cut off, the NATS servers leading the
//! stream and the claims killed, a retry storm after a kill); the test
//! kit's history checker then holds the recorded history against every
//! account's log: every `Ok` in the log exactly once at its version,
//! nothing applied twice, versions gapless, real-time order, claim
//! revisions never going back, no `Ok` from a superseded owner — the same
//! checks as the typed counters of `runtime_faults.rs`, and every event is
//! stamped with the model version that decided it. All but the SIGKILL are
//! the very scenarios of `runtime_faults.rs` (`fault_support::scenarios`),
//! run with the [`Accounts`] workload.

#[path = "../../aether-cluster/tests/cluster_support/mod.rs"]
mod cluster_support;
#[path = "../../aether-cluster/tests/fault_support/mod.rs"]
mod fault_support;
#[path = "support/models.rs"]
mod models;
#[path = "../../aether-cluster/tests/support.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use aether_cluster::runtime::{ActorConfig, ActorSystem, RemoteConfig};
use aether_cluster::{ClusterNode, NodeInfo};
use aether_core::{ActorId, Event, NodeId};
use aether_model::deploy::{ModelRegistry, PublishOptions, RegistryConfig};
use aether_model::{Deployed, ModelBehavior, ModelCommand, check};
use fault_support::{CHILD_ENV, DEADLINE, Workload, config, dial, scenarios};
use serde_json::json;

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

/// The account model as a fault-test workload: the caller publishes
/// version 3 to the registry first (the node processes read it when they
/// start), the accounts are opened, and every call deposits 1.
struct Accounts;

impl Workload for Accounts {
    type Actor = ModelBehavior;

    async fn caller(url: &str, cluster: &str) -> ActorSystem {
        let client = dial(url).await;
        ModelRegistry::open(client.clone(), RegistryConfig::default())
            .await
            .unwrap()
            .publish(&models::v3(), PublishOptions::default())
            .await
            .unwrap();
        ActorSystem::remote(
            client.clone(),
            RemoteConfig {
                cluster_name: cluster.to_owned(),
                ..RemoteConfig::default()
            },
        )
        .define::<ModelBehavior>(published(client).await, ActorConfig::default())
        .start()
        .await
        .unwrap()
    }

    async fn actors(caller: &ActorSystem, n: usize, tag: &str) -> Vec<ActorId> {
        let actors: Vec<ActorId> = (0..n)
            .map(|i| ActorId::new(format!("account-{tag}{i}")).unwrap())
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
        actors
    }

    fn command() -> ModelCommand {
        ModelCommand::new("Deposit", json!({"amount": 1}))
    }

    /// Every event was decided by the published model, `account@3`.
    fn check_logs(logs: &HashMap<ActorId, Vec<Event>>) {
        for (actor, events) in logs {
            for e in events {
                assert_eq!(
                    e.metadata.model(),
                    Some("account@3"),
                    "{actor} v{}: not decided by account@3",
                    e.version
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_a_model_actor_owner_under_load_loses_nothing_and_applies_nothing_twice() {
    scenarios::a_sigkill_of_an_owner_under_load::<Accounts>("mfk").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_actor_owner_paused_for_twice_its_lease_serves_nothing_stale_when_it_wakes() {
    scenarios::an_owner_paused_for_twice_its_lease::<Accounts>("mfs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_of_model_actors_cut_off_for_three_leases_stops_before_others_take_over_and_rejoins()
{
    scenarios::a_node_cut_off_for_three_leases::<Accounts>("mfp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_nats_servers_that_lead_the_stream_and_the_claims_loses_no_model_command() {
    scenarios::killing_the_nats_servers_that_lead_the_stream_and_the_claims::<Accounts>("mfn")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_storm_on_model_actors_after_a_kill_applies_each_command_id_once() {
    scenarios::a_retry_storm_after_a_kill::<Accounts>("mfr").await;
}
