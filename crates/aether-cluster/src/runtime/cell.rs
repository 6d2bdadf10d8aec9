//! [`Cell`]: one active actor on this node: its queue of messages and its
//! state at rest, and who runs it now, if anyone.
//!
//! An active actor has no task of its own. A message for an actor at rest
//! with an empty queue is run by its sender, in the sender's task (an `ask`
//! or a `query`: no hand-off, no channel, no wake-up), or by a task spawned
//! for it (a `tell`). A message for an actor someone runs joins the queue,
//! and whoever runs the actor takes it in the next turn (group commit is
//! flat combining: the runner commits the commands queued behind it as one
//! append). A sender that ran its own message leaves the rest of the queue
//! to a task it spawns, so no caller waits for others' commands. When the
//! queue is empty, the runner puts the state back: the actor is at rest
//! until the next message.
//!
//! The table's invariant: a message is queued only under the cell's lock
//! into a cell not closed, and a cell is closed (and left the table) only
//! under the same lock with an empty queue, so no message is queued where
//! nobody will take it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use aether_core::ActorId;
use aether_core::CommandId;
use aether_core::aggregate::{Aggregate, EventEnvelope};

use super::clock::Evictable;
use super::host::Host;
use super::message::{CommandResult, Msg, Refusal};
use super::state::Activation;
use tokio::sync::oneshot;

/// A retried command's outcome read from the log: its id, its last
/// version, its events.
pub(crate) type Recalled<A> = (CommandId, u64, Vec<EventEnvelope<<A as Aggregate>::Event>>);

/// An actor's state while nobody runs it.
pub(crate) struct Rest<A: Aggregate> {
    /// `None` until loaded, and after a failed commit (reloaded before the
    /// next turn).
    pub(crate) activation: Option<Activation<A>>,
    /// The outcomes of retried commands read from the log lately (id, last
    /// version, events), oldest first; empty (no allocation) until a retry.
    pub(crate) outcomes: VecDeque<Recalled<A>>,
}

impl<A: Aggregate> Default for Rest<A> {
    fn default() -> Self {
        Self {
            activation: None,
            outcomes: VecDeque::new(),
        }
    }
}

pub(crate) struct State<A: Aggregate> {
    pub(crate) queue: VecDeque<Msg<A>>,
    /// The state, while nobody runs the actor (`None` while somebody does:
    /// they hold it).
    pub(crate) rest: Option<Rest<A>>,
    /// Left the table: nothing may be queued here any more (a sender that
    /// finds it so looks the actor up again).
    pub(crate) closed: bool,
    /// Passivate once idle (the node is over its limit, an operator asked,
    /// the actor's shard is being handed on).
    pub(crate) evict: bool,
}

/// One active actor.
pub(crate) struct Cell<A: Aggregate> {
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

impl<A: Aggregate> std::fmt::Debug for Cell<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell").field("id", &self.id).finish()
    }
}

/// What [`dispatch`] did with a message. (A value passed back once per
/// message: the state travels in it unboxed, an allocation saved per ask.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Dispatched<A: Aggregate> {
    /// Queued: whoever runs the actor takes it. For an ask that its sender
    /// would have run itself, where its result will arrive.
    Queued(Option<oneshot::Receiver<CommandResult<A>>>),
    /// The actor was at rest: the sender runs it now, from `rest`, with its
    /// message (and must [`Cell::release`] it after).
    Run {
        cell: Arc<Cell<A>>,
        rest: Rest<A>,
        msg: Msg<A>,
    },
}

impl<A: Aggregate> Cell<A> {
    fn new(id: ActorId, host: &Arc<Host<A>>) -> Self {
        Self {
            unit: host.node.fence.as_ref().map_or(0, |f| f.unit_of(&id)),
            id,
            host: Arc::downgrade(host),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                rest: Some(Rest::default()),
                closed: false,
                evict: false,
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

    /// The coarse time of its last use.
    pub(crate) fn last_used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }
}

impl<A: Aggregate> Evictable for Cell<A> {
    fn take_reference(&self) -> bool {
        self.referenced.swap(false, Ordering::Relaxed)
    }

    fn evict(self: Arc<Self>) {
        if let Some(host) = self.host.upgrade() {
            super::actor::evict(&host, &self);
        }
    }
}

/// Queues `msg` for actor `id` of `host`'s type, activating the actor if
/// it is not active; or, when the actor is at rest with nothing queued and
/// `inline` is set, hands it to the sender to run. A `tell` (not inline) on
/// an actor at rest starts a task that runs it. Never waits: a full queue or
/// a shutdown hands the message back.
pub(crate) fn dispatch<A: Aggregate>(
    host: &Arc<Host<A>>,
    id: &ActorId,
    msg: Msg<A>,
    inline: bool,
) -> Result<Dispatched<A>, (Msg<A>, Refusal)> {
    if host.node.is_shutting_down() {
        return Err((msg, Refusal::ShuttingDown));
    }
    loop {
        let cell = match host.slots.get(id) {
            Some(c) => c.clone(),
            None => activate(host, id),
        };
        let mut st = cell.lock();
        if st.closed {
            // It left the table after we looked it up: look again.
            drop(st);
            continue;
        }
        cell.touch(host.node.tick());
        if st.queue.is_empty()
            && let Some(rest) = st.rest.take_if(|_| inline)
        {
            drop(st);
            return Ok(Dispatched::Run { cell, rest, msg });
        }
        if st.queue.len() >= host.config.mailbox {
            return Err((msg, Refusal::Full));
        }
        let mut msg = msg;
        let rx = msg.reply_by_channel();
        st.queue.push_back(msg);
        if let Some(rest) = st.rest.take() {
            // At rest, and nobody to run it: a task does.
            drop(st);
            super::actor::spawn_runner(host.clone(), cell, rest);
        }
        return Ok(Dispatched::Queued(rx));
    }
}

/// A new activation of `id`: into the table (unless another sender put one
/// there first), the node's count and clock; over the node's limit, the
/// clock picks actors to passivate.
fn activate<A: Aggregate>(host: &Arc<Host<A>>, id: &ActorId) -> Arc<Cell<A>> {
    let cell = match host.slots.entry(id.clone()) {
        dashmap::mapref::entry::Entry::Occupied(o) => return o.get().clone(),
        dashmap::mapref::entry::Entry::Vacant(v) => {
            let cell = Arc::new(Cell::new(id.clone(), host));
            v.insert(cell.clone());
            cell
        }
    };
    // Out of the table's lock: the victims are looked up in it.
    let node = &host.node;
    let active = node.activated();
    host.metrics.activations.increment(1);
    node.clock
        .push(Arc::downgrade(&cell) as Weak<dyn Evictable>, active);
    let max = node.config.max_active;
    if active > max {
        let evicted = node.clock.evict(active - max);
        metrics::counter!("aether_runtime_evictions_total").increment(evicted as u64);
    }
    cell
}

#[cfg(test)]
mod size_probe {
    #[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
    struct Probe;
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Ev;
    impl aether_core::aggregate::DomainEvent for Ev {
        fn event_type(&self) -> &'static str {
            "Ev"
        }
    }
    impl aether_core::aggregate::Aggregate for Probe {
        const TYPE: &'static str = "probe";
        type Command = u8;
        type Event = Ev;
        type Error = std::convert::Infallible;
        fn handle(&self, _: &u8) -> Result<Vec<Ev>, Self::Error> {
            Ok(vec![])
        }
        fn apply(&mut self, _: &Ev) {}
    }

    /// What an idle active actor costs the runtime: its cell (no task, no
    /// timer); the table's entry and the state's own heap come on top.
    #[test]
    fn an_idle_cell_stays_small() {
        let size = std::mem::size_of::<super::Cell<Probe>>();
        assert!(size <= 384, "a cell is {size} bytes");
    }
}
