//! [`Host`]: one registered actor type on one node: its stores, its
//! settings and its table of active actors ([`Cell`]s). Messages reach an
//! actor through `cell::dispatch`.

use std::sync::Arc;

use aether_core::aggregate::{Aggregate, SnapshotPolicy, UpcasterChain};
use aether_core::{ActorId, DynEventStore, DynSnapshotStore};
use dashmap::DashMap;

use super::cell::Cell;
use super::config::ActorConfig;
use super::node::Node;
use super::type_metrics::TypeMetrics;

/// One actor type on this node.
pub(crate) struct Host<A: Aggregate> {
    pub(crate) config: ActorConfig,
    pub(crate) snapshot_policy: SnapshotPolicy,
    pub(crate) upcasters: UpcasterChain,
    pub(crate) store: Arc<dyn DynEventStore>,
    pub(crate) snapshots: Option<Arc<dyn DynSnapshotStore>>,
    pub(crate) slots: DashMap<ActorId, Arc<Cell<A>>, foldhash::fast::RandomState>,
    pub(crate) node: Arc<Node>,
    pub(crate) metrics: TypeMetrics,
}

impl<A: Aggregate> std::fmt::Debug for Host<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("type", &A::TYPE)
            .field("active", &self.slots.len())
            .finish()
    }
}

impl<A: Aggregate> Host<A> {
    pub(crate) fn new(
        config: ActorConfig,
        store: Arc<dyn DynEventStore>,
        snapshots: Option<Arc<dyn DynSnapshotStore>>,
        node: Arc<Node>,
    ) -> Self {
        Self {
            snapshot_policy: config.snapshot_policy.unwrap_or_else(A::snapshot_policy),
            upcasters: config.upcasters.clone(),
            config,
            store,
            snapshots,
            slots: DashMap::default(),
            node,
            metrics: TypeMetrics::new(A::TYPE),
        }
    }

    /// The cell of actor `id`, if it is active.
    pub(crate) fn cell(&self, id: &ActorId) -> Option<Arc<Cell<A>>> {
        self.slots.get(id).map(|c| c.clone())
    }
}

/// The actors of one type on this node, without the type (a placement
/// passivates a shard's actors over every type; the system sweeps idle
/// ones and stops them all at shutdown).
pub(crate) trait Actors: Send + Sync {
    /// Tells every active actor of the placement's `unit` (shard) to
    /// passivate once it is idle; returns their ids (one scan of the table,
    /// comparing numbers).
    fn evict_unit(&self, unit: u32) -> Vec<ActorId>;

    /// Tells the actors of `ids` still active to passivate; keeps only those
    /// in `ids` (a lookup each, no scan).
    fn evict_these(&self, ids: &mut Vec<ActorId>);

    /// How many actors of the type are active.
    fn active(&self) -> usize;

    /// The ids of the active actors of the type.
    fn ids(&self) -> Vec<ActorId>;

    /// Passivates the actors not used since the node's coarse time `before`.
    fn sweep(&self, before: u64);

    /// Shutdown: every active actor finishes what it is running, answers
    /// what is queued `ShuttingDown` and stops.
    fn stop_all(&self);
}

/// Tells actor `id` to passivate, looking it up among the types of `types`
/// (by type name); `false` when it is not active.
pub(crate) fn passivate_in<'a, 'b>(
    types: impl IntoIterator<Item = (&'a str, &'b Arc<dyn Actors>)>,
    id: &ActorId,
) -> bool {
    types
        .into_iter()
        .filter(|(name, _)| *name == id.actor_type())
        .any(|(_, actors)| {
            let mut ids = vec![id.clone()];
            actors.evict_these(&mut ids);
            !ids.is_empty()
        })
}
