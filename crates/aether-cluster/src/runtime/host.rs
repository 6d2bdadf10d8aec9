//! [`Host`]: one registered actor type on one node: its activation table
//! (one mailbox and task per active actor) and the one way messages reach
//! them ([`Host::dispatch`]). [`Node`] is what every type on the node shares.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use aether_core::aggregate::{Aggregate, CommandEnvelope, SnapshotPolicy, UpcasterChain};
use aether_core::{ActorId, DynEventStore, DynSnapshotStore};
use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::sync::{Notify, oneshot, watch};
use tokio::time::Instant;

use super::config::{ActorConfig, RuntimeConfig};
use super::error::{AskError, RuntimeError};
use super::lru::{Key, Lru};
use super::mailbox::{Full, Mailbox};
use super::outcome::CommandOutcome;
use super::permits::{Permits, Priority};

/// What the node's actor types share.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) config: RuntimeConfig,
    pub(crate) permits: Permits,
    pub(crate) lru: Mutex<Lru>,
    /// Set once: no new activations, every actor finishes and stops.
    pub(crate) shutting_down: AtomicBool,
    pub(crate) shutdown: watch::Sender<bool>,
    /// Actor tasks running now, and a wake-up when the last one ends.
    pub(crate) tasks: AtomicUsize,
    pub(crate) tasks_done: Notify,
    generation: AtomicU64,
    /// How calls reach actors of other nodes, and which shards this node
    /// serves (`None` on a system of one node).
    pub(crate) routing: Option<Arc<super::cluster::Routing>>,
}

impl Node {
    pub(crate) fn new(
        config: RuntimeConfig,
        routing: Option<Arc<super::cluster::Routing>>,
    ) -> Self {
        Self {
            routing,
            permits: Permits::new(config.recovery_permits),
            config,
            lru: Mutex::new(Lru::default()),
            shutting_down: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
            tasks: AtomicUsize::new(0),
            tasks_done: Notify::new(),
            generation: AtomicU64::new(0),
        }
    }

    pub(crate) fn lru(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// One actor task ended.
    pub(crate) fn task_ended(&self) {
        if self.tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.tasks_done.notify_waiters();
        }
        metrics::gauge!("aether_runtime_active_actors").decrement(1.0);
    }
}

/// Signals to one activation from outside its task.
#[derive(Debug, Default)]
pub(crate) struct Control {
    /// Passivate once the mailbox is empty (the node is over its limit, or an
    /// operator asked).
    pub(crate) evict: AtomicBool,
    pub(crate) notify: Notify,
}

impl Control {
    pub(crate) fn evict(&self) {
        self.evict.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

/// The reply of an ask.
pub(crate) type Reply<A> =
    oneshot::Sender<Result<CommandOutcome<<A as Aggregate>::Event>, AskError<A>>>;

/// A command on its way to an actor.
pub(crate) struct CommandMsg<A: Aggregate> {
    pub(crate) envelope: CommandEnvelope<A::Command>,
    pub(crate) deadline: Instant,
    /// `None` for a `tell`.
    pub(crate) reply: Option<Reply<A>>,
}

/// A query: answers itself from the committed state (or the reason there is
/// none).
pub(crate) type Answer<A> = Box<dyn FnOnce(Result<&A, RuntimeError>) + Send + Sync>;

/// A query on its way to an actor.
pub(crate) struct QueryMsg<A: Aggregate> {
    pub(crate) deadline: Instant,
    pub(crate) answer: Answer<A>,
}

/// What a mailbox holds. Boxed, so that a mailbox's buffer (allocated in
/// blocks of 32 messages) costs an idle actor little.
pub(crate) enum Msg<A: Aggregate> {
    Command(Box<CommandMsg<A>>),
    Query(Box<QueryMsg<A>>),
}

impl<A: Aggregate> Msg<A> {
    pub(crate) fn priority(&self) -> Priority {
        match self {
            Msg::Command(c) if c.reply.is_none() => Priority::Background,
            _ => Priority::Caller,
        }
    }
}

/// Why a message was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The actor's mailbox is full.
    Full,
    /// The system is shutting down.
    ShuttingDown,
}

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
    pub(crate) slots: DashMap<ActorId, Slot<A>>,
    pub(crate) node: Arc<Node>,
    /// How the type's commands travel to other nodes (`None` unless
    /// registered for routing).
    pub(crate) codec: Option<Arc<dyn super::cluster::Codec<A>>>,
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
    /// The fence of a cluster node (`None` on one node, and on a system
    /// that serves nothing).
    pub(crate) fn fence(&self) -> Option<&Arc<super::cluster::Fence>> {
        self.node.routing.as_ref()?.fence.as_ref()
    }

    pub(crate) fn key(&self, id: &ActorId) -> Key {
        (self.type_index, id.clone())
    }

    /// Queues `msg` for actor `id`, activating it if it is not active: the
    /// first message creates its mailbox and spawns its task (which loads it
    /// once, however many messages queue meanwhile). Never waits: a full
    /// mailbox or a shutdown hands the message back.
    ///
    /// Messages are only ever queued while holding the table's lock for `id`
    /// (shared), and an actor leaves the table only under the same lock
    /// (exclusive) and with an empty mailbox, so nothing is queued into a
    /// mailbox nobody reads.
    pub(crate) fn dispatch(
        self: &Arc<Self>,
        id: &ActorId,
        msg: Msg<A>,
    ) -> Result<(), (Msg<A>, Refusal)> {
        if self.node.is_shutting_down() {
            return Err((msg, Refusal::ShuttingDown));
        }
        let mut msg = msg;
        loop {
            if let Some(slot) = self.slots.get(id) {
                match slot.mailbox.try_send(msg) {
                    Ok(()) => return Ok(()),
                    Err((m, Full::Full)) => return Err((m, Refusal::Full)),
                    Err((m, Full::Closed)) => {
                        // Its task died (a panic in the aggregate): replace it.
                        msg = m;
                        let generation = slot.generation;
                        drop(slot);
                        self.slots.remove_if(id, |_, s| s.generation == generation);
                        continue;
                    }
                }
            }
            let vacant = match self.slots.entry(id.clone()) {
                Entry::Occupied(_) => continue,
                Entry::Vacant(v) => v,
            };
            // Checked under the lock: a shutdown that started since must not
            // see a new activation appear after it drained the table.
            if self.node.is_shutting_down() {
                return Err((msg, Refusal::ShuttingDown));
            }
            let priority = msg.priority();
            let mailbox = Arc::new(Mailbox::new(self.config.mailbox));
            if let Err((m, _)) = mailbox.try_send(msg) {
                // Cannot happen (capacity ≥ 1, open); hand it back.
                return Err((m, Refusal::Full));
            }
            let generation = self.node.generation.fetch_add(1, Ordering::Relaxed);
            let control = Arc::new(Control::default());
            vacant.insert(Slot {
                mailbox: mailbox.clone(),
                generation,
                control: control.clone(),
            });
            self.node.tasks.fetch_add(1, Ordering::AcqRel);
            metrics::gauge!("aether_runtime_active_actors").increment(1.0);
            tokio::spawn(super::actor::run(
                self.clone(),
                id.clone(),
                generation,
                control.clone(),
                mailbox,
                priority,
            ));
            self.activated(id, &control);
            return Ok(());
        }
    }

    /// Puts a new activation into the node's LRU and tells the least
    /// recently used actors to passivate if the node is over its limit.
    fn activated(&self, id: &ActorId, control: &Arc<Control>) {
        let victims = {
            let mut lru = self.node.lru();
            lru.touch(self.key(id), control);
            lru.over(self.node.config.max_active)
        };
        for v in victims {
            metrics::counter!("aether_runtime_evictions_total").increment(1);
            v.evict();
        }
    }
}

/// The actors of one type on this node, without the type (the cluster
/// keeper passivates a shard's actors over every type).
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
pub(crate) fn passivate_in<'a>(
    types: impl IntoIterator<Item = (&'a str, &'a Arc<dyn Actors>)>,
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
        ids.retain(|id| match self.slots.get(id) {
            Some(slot) => {
                slot.control.evict();
                true
            }
            None => false,
        });
    }

    fn active(&self) -> usize {
        self.slots.len()
    }

    fn ids(&self) -> Vec<ActorId> {
        self.slots.iter().map(|s| s.key().clone()).collect()
    }
}
