//! [`Host`]: one registered actor type on one node: its stores, its
//! settings and its activation table (one mailbox and task per active
//! actor). Messages reach an actor through `actor::dispatch`.

use std::sync::Arc;

use aether_core::aggregate::{Aggregate, SnapshotPolicy, UpcasterChain};
use aether_core::{ActorId, DynEventStore, DynSnapshotStore};
use dashmap::DashMap;

use super::config::ActorConfig;
use super::control::Control;
use super::lru::Key;
use super::mailbox::Mailbox;
use super::message::Msg;
use super::node::Node;
use super::type_metrics::TypeMetrics;

/// An active actor: its mailbox and the signals of its task.
#[derive(Debug)]
pub(crate) struct Slot<A: Aggregate> {
    pub(crate) mailbox: Arc<Mailbox<Msg<A>>>,
    pub(crate) generation: u64,
    pub(crate) control: Arc<Control>,
}

/// One actor type on this node.
pub(crate) struct Host<A: Aggregate> {
    pub(crate) type_index: u32,
    pub(crate) config: ActorConfig,
    pub(crate) snapshot_policy: SnapshotPolicy,
    pub(crate) upcasters: UpcasterChain,
    pub(crate) store: Arc<dyn DynEventStore>,
    pub(crate) snapshots: Option<Arc<dyn DynSnapshotStore>>,
    pub(crate) slots: DashMap<ActorId, Slot<A>, foldhash::fast::RandomState>,
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
        type_index: u32,
        config: ActorConfig,
        store: Arc<dyn DynEventStore>,
        snapshots: Option<Arc<dyn DynSnapshotStore>>,
        node: Arc<Node>,
    ) -> Self {
        Self {
            type_index,
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

    pub(crate) fn key(&self, id: &ActorId) -> Key {
        (self.type_index, id.clone())
    }

    /// Tells actor `id` to passivate once its mailbox is empty; `false` when
    /// it is not active.
    pub(crate) fn passivate(&self, id: &ActorId) -> bool {
        match self.slots.get(id) {
            Some(slot) => {
                slot.control.evict();
                true
            }
            None => false,
        }
    }
}

/// The actors of one type on this node, without the type (a placement
/// passivates a shard's actors over every type).
pub(crate) trait Actors: Send + Sync {
    /// Tells every active actor `pick` selects to passivate once its mailbox
    /// is empty; returns their ids (one scan of the whole table).
    fn evict_where(&self, pick: &dyn Fn(&ActorId) -> bool) -> Vec<ActorId>;

    /// Tells the actors of `ids` still active to passivate; keeps only those
    /// in `ids` (a lookup each, no scan).
    fn evict_these(&self, ids: &mut Vec<ActorId>);

    /// How many actors of the type are active.
    fn active(&self) -> usize;

    /// The ids of the active actors of the type.
    fn ids(&self) -> Vec<ActorId>;
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

impl<A: Aggregate> Actors for Host<A> {
    fn evict_where(&self, pick: &dyn Fn(&ActorId) -> bool) -> Vec<ActorId> {
        let mut picked = Vec::new();
        for slot in self.slots.iter() {
            if pick(slot.key()) {
                slot.control.evict();
                picked.push(slot.key().clone());
            }
        }
        picked
    }

    fn evict_these(&self, ids: &mut Vec<ActorId>) {
        ids.retain(|id| self.passivate(id));
    }

    fn active(&self) -> usize {
        self.slots.len()
    }

    fn ids(&self) -> Vec<ActorId> {
        self.slots.iter().map(|s| s.key().clone()).collect()
    }
}
