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
