//! What a fault test's callers call: [`Workload`], and the runtime's own,
//! [`Counters`]. The fault scenarios (`scenarios`) run with either, so the
//! model actors of `aether-model/tests/model_faults.rs` go through the
//! same faults and the same checks as the typed counters.

use std::collections::HashMap;

use aether_cluster::runtime::ActorSystem;
use aether_core::aggregate::Behavior;
use aether_core::{ActorId, Event};
use aether_testkit::fixtures::Counter;

/// An actor type, the system that calls it, its actors and the command the
/// load sends them.
pub trait Workload {
    /// The actor type the callers call.
    type Actor: Behavior;

    /// A system of cluster `cluster` that serves nothing and calls
    /// [`Self::Actor`]; called before the node processes start (a workload
    /// whose node processes need something first prepares it here).
    async fn caller(url: &str, cluster: &str) -> ActorSystem;

    /// `n` actors named after `tag`, ready for [`Self::command`] (called
    /// once every shard is served).
    async fn actors(caller: &ActorSystem, n: usize, tag: &str) -> Vec<ActorId>;

    /// The command every call of the load sends (each always succeeds).
    fn command() -> <Self::Actor as Behavior>::Command;

    /// Checks of the logs after a test, beyond the history checker's.
    fn check_logs(logs: &HashMap<ActorId, Vec<Event>>) {
        let _ = logs;
    }
}

/// The test kit's `Counter`, sent `+1`: what `fault_support`'s node
/// processes serve.
pub struct Counters;

impl Workload for Counters {
    type Actor = Counter;

    async fn caller(url: &str, cluster: &str) -> ActorSystem {
        super::remote(url, cluster).await
    }

    async fn actors(_: &ActorSystem, n: usize, tag: &str) -> Vec<ActorId> {
        crate::cluster_support::counters(n, tag)
    }

    fn command() -> u64 {
        1
    }
}

/// [`Counters`] called from a member of the cluster that serves nothing (it
/// joins draining, so no map places a shard on it): its calls go to the
/// owners many to a message (`RoutingConfig::batch_calls`), where a remote
/// caller's each go alone to the actor's subject.
pub struct MemberCallers;

impl Workload for MemberCallers {
    type Actor = Counter;

    async fn caller(url: &str, cluster: &str) -> ActorSystem {
        use aether_cluster::runtime::ActorConfig;
        use aether_cluster::{ClusterConfig, ClusterNode, DRAINING, NodeInfo};
        use aether_core::NodeId;
        let config = ClusterConfig {
            node: NodeInfo::new(NodeId::new("caller").unwrap()).with_metadata(DRAINING, "true"),
            ..super::config(cluster, 1)
        };
        let node = ClusterNode::start(super::dial(url).await, config)
            .await
            .unwrap();
        ActorSystem::cluster(node)
            // Never written: the member serves no shard.
            .events(aether_store_memory::InMemoryEventStore::new())
            .register::<Counter>(ActorConfig::default())
            .start()
            .await
            .unwrap()
    }

    async fn actors(_: &ActorSystem, n: usize, tag: &str) -> Vec<ActorId> {
        crate::cluster_support::counters(n, tag)
    }

    fn command() -> u64 {
        1
    }
}
