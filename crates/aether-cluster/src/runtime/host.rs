//! [`Host`]: one registered actor type on one node: its stores, its
//! settings and its table of active actors, each a [`Cell`]. Messages reach
//! an actor through `dispatch.rs`; `actor.rs` runs it.
//!
//! An active actor has no task of its own: its cell holds its queue of
//! messages and its state at rest, and whoever runs it (its sender, or a
//! task started for its queue) takes the state out while it does. The
//! table's invariant: a message is queued only under the cell's lock into a
//! cell not closed, and a cell is closed (and left the table) only under
//! the same lock with an empty queue, so no message is queued where nobody
//! will take it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};

use aether_core::aggregate::{Behavior, EventEnvelope, SnapshotPolicy, UpcasterChain};
use aether_core::{ActorId, CommandId, DynEventStore, DynSnapshotStore};
use dashmap::DashMap;

use super::config::ActorConfig;
use super::dehydrated::Dehydrated;
use super::message::Msg;
use super::node::Node;
use super::state::{Activation, Sources};
use super::type_metrics::TypeMetrics;

/// One actor type on this node.
pub(crate) struct Host<A: Behavior> {
    /// The type's name (its actors' ids start with it).
    pub(crate) name: Arc<str>,
    /// The definition new turns use, and its generation (`generation`
    /// below, read without the lock on every turn).
    def: RwLock<(Arc<A::Def>, u64)>,
    generation: AtomicU64,
    pub(crate) config: ActorConfig,
    pub(crate) snapshot_policy: SnapshotPolicy,
    pub(crate) upcasters: UpcasterChain,
    pub(crate) store: Arc<dyn DynEventStore>,
    pub(crate) snapshots: Option<Arc<dyn DynSnapshotStore>>,
    pub(crate) slots: DashMap<ActorId, Arc<Cell<A>>, foldhash::fast::RandomState>,
    pub(crate) node: Arc<Node>,
    pub(crate) metrics: TypeMetrics,
    /// The states of actors handed off, by unit (shard), until the
    /// placement takes them for the transfer.
    pub(crate) dock: Mutex<Vec<(u32, Dehydrated)>>,
}

impl<A: Behavior> std::fmt::Debug for Host<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("type", &self.name)
            .field("active", &self.slots.len())
            .finish()
    }
}

impl<A: Behavior> Host<A> {
    pub(crate) fn new(
        def: Arc<A::Def>,
        config: ActorConfig,
        store: Arc<dyn DynEventStore>,
        snapshots: Option<Arc<dyn DynSnapshotStore>>,
        node: Arc<Node>,
    ) -> Self {
        let name: Arc<str> = A::name(&def).into();
        Self {
            metrics: TypeMetrics::new(&name),
            snapshot_policy: config
                .snapshot_policy
                .unwrap_or_else(|| A::snapshot_policy(&def)),
            name,
            def: RwLock::new((def, 0)),
            generation: AtomicU64::new(0),
            upcasters: config.upcasters.clone(),
            config,
            store,
            snapshots,
            slots: DashMap::default(),
            node,
            dock: Mutex::new(Vec::new()),
        }
    }

    /// The definition new activations and turns use, with its generation.
    pub(crate) fn current(&self) -> (Arc<A::Def>, u64) {
        let (def, generation) = &*self.def.read().unwrap_or_else(PoisonError::into_inner);
        (def.clone(), *generation)
    }

    /// The generation of the current definition (an activation of an older
    /// one adopts it, or reloads, before its next turn).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A new definition of the type: each active actor takes it at its next
    /// turn (in place when [`Behavior::keeps_state`], else by reloading).
    pub(crate) fn redefine(&self, def: Arc<A::Def>) {
        let mut current = self.def.write().unwrap_or_else(PoisonError::into_inner);
        let generation = current.1 + 1;
        *current = (def, generation);
        self.generation.store(generation, Ordering::Release);
    }

    /// Where its actors' histories and snapshots come from.
    pub(crate) fn sources(&self) -> Sources<'_> {
        Sources {
            name: &self.name,
            store: &self.store,
            snapshots: self.snapshots.as_ref(),
            upcasters: &self.upcasters,
            dedupe_window: self.config.dedupe_window,
        }
    }

    /// The cell of actor `id`, if it is active.
    pub(crate) fn cell(&self, id: &ActorId) -> Option<Arc<Cell<A>>> {
        self.slots.get(id).map(|c| c.clone())
    }
}

/// A retried command's outcome read from the log: its id, its last
/// version, its events.
pub(crate) type Recalled<A> = (CommandId, u64, Vec<EventEnvelope<<A as Behavior>::Event>>);

/// An actor's state while nobody runs it.
pub(crate) struct Rest<A: Behavior> {
    /// `None` until loaded, and after a failed commit (reloaded before the
    /// next turn).
    pub(crate) activation: Option<Activation<A>>,
    /// The outcomes of retried commands read from the log lately (id, last
    /// version, events), oldest first; empty (no allocation) until a retry.
    pub(crate) outcomes: VecDeque<Recalled<A>>,
}

impl<A: Behavior> Default for Rest<A> {
    fn default() -> Self {
        Self {
            activation: None,
            outcomes: VecDeque::new(),
        }
    }
}

pub(crate) struct State<A: Behavior> {
    pub(crate) queue: VecDeque<Msg<A>>,
    /// The state, while nobody runs the actor (`None` while somebody does:
    /// they hold it).
    pub(crate) rest: Option<Rest<A>>,
    /// Left the table: nothing may be queued here any more (a sender that
    /// finds it so looks the actor up again).
    pub(crate) closed: bool,
    /// Leave once idle, and how (the node is over its limit, an operator
    /// asked, the actor's shard is being handed on).
    pub(crate) evict: Option<Eviction>,
}

/// How an actor told to leave once idle leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Eviction {
    /// Passivate: a snapshot per the passivation rule, then out.
    Passivate,
    /// Its shard moves to a node that takes the state warm: out, and the
    /// state docked for the transfer (no snapshot written).
    HandOff,
}

/// One active actor.
pub(crate) struct Cell<A: Behavior> {
    pub(crate) id: ActorId,
    /// The placement's unit (shard) of the actor (0 on one node), worked
    /// out once: a shard's actors are found without hashing every id.
    pub(crate) unit: u32,
    pub(crate) host: Weak<Host<A>>,
    state: Mutex<State<A>>,
    /// The node's coarse time of its last use (for idle passivation).
    used: AtomicU64,
    /// Used since the clock's hand last passed.
    referenced: AtomicBool,
}

impl<A: Behavior> std::fmt::Debug for Cell<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell").field("id", &self.id).finish()
    }
}

impl<A: Behavior> Cell<A> {
    /// A cell at rest with `rest` (not loaded yet: `Rest::default()`).
    pub(crate) fn new(id: ActorId, host: &Arc<Host<A>>, rest: Rest<A>) -> Self {
        Self {
            unit: host.node.fence.as_ref().map_or(0, |f| f.unit_of(&id)),
            id,
            host: Arc::downgrade(host),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                rest: Some(rest),
                closed: false,
                evict: None,
            }),
            used: AtomicU64::new(0),
            referenced: AtomicBool::new(true),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State<A>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a use now.
    pub(crate) fn touch(&self, tick: u64) {
        self.used.store(tick, Ordering::Relaxed);
        if !self.referenced.load(Ordering::Relaxed) {
            self.referenced.store(true, Ordering::Relaxed);
        }
    }

    /// Whether it was used since the clock's hand last passed (and clears
    /// it).
    pub(crate) fn take_reference(&self) -> bool {
        self.referenced.swap(false, Ordering::Relaxed)
    }

    /// The coarse time of its last use.
    pub(crate) fn last_used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

/// The actors of one type on this node, without the type (a placement
/// passivates a shard's actors over every type; the system sweeps idle
/// ones and stops them all at shutdown).
pub(crate) trait Actors: Send + Sync {
    /// Tells every active actor of the placement's `unit` (shard) to leave
    /// once it is idle, `how`; returns their ids (one scan of the table,
    /// comparing numbers).
    fn evict_unit(&self, unit: u32, how: Eviction) -> Vec<ActorId>;

    /// Tells the actors of `ids` still active to leave, `how`; keeps only
    /// those in `ids` (a lookup each, no scan).
    fn evict_these(&self, ids: &mut Vec<ActorId>, how: Eviction);

    /// The states of the actors of `unit` handed off (docked), taken.
    fn take_docked(&self, unit: u32) -> Vec<Dehydrated>;

    /// Installs a state handed off by the previous owner as an active actor
    /// at rest; `false` when the actor is active here already (kept).
    ///
    /// # Errors
    ///
    /// The state is not one this type reads (another state version, or it
    /// does not decode): the actor loads from the log when called.
    fn install(self: Arc<Self>, state: Dehydrated) -> Result<bool, aether_core::Error>;

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
            actors.evict_these(&mut ids, Eviction::Passivate);
            !ids.is_empty()
        })
}
