//! Dispatch: how a message reaches its actor. A message for an actor at
//! rest with an empty queue is run by its sender, in the sender's task (an
//! `ask` or a `query`: no hand-off, no channel, no wake-up), or by a task
//! started for it (a `tell`). A message for an actor someone runs joins its
//! queue, and whoever runs the actor takes it in the next turn (group commit
//! is flat combining: the runner commits the commands queued behind it as
//! one append). A sender that ran its own message leaves the rest of the
//! queue to a task it starts, so no caller waits for others' commands. The
//! first message for an actor not active makes its cell.

use std::sync::{Arc, Weak};

use aether_core::ActorId;
use aether_core::aggregate::Behavior;
use tokio::sync::oneshot;

use super::clock::Evictable;
use super::host::{Cell, Host, Rest};
use super::message::{Answered, Msg, Refusal};

/// What [`dispatch`] did with a message. (A value passed back once per
/// message: the state travels in it unboxed, an allocation saved per ask.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Dispatched<A: Behavior> {
    /// Queued: whoever runs the actor takes it. For an ask that its sender
    /// would have run itself, where its result will arrive.
    Queued(Option<oneshot::Receiver<Answered<A>>>),
    /// The actor was at rest: the sender runs it now, from `rest`, with its
    /// message (and must [`Cell::release`] it after).
    Run {
        cell: Arc<Cell<A>>,
        rest: Rest<A>,
        msg: Msg<A>,
    },
}

/// Queues `msg` for actor `id` of `host`'s type, activating the actor if
/// it is not active; or, when the actor is at rest with nothing queued and
/// `inline` is set, hands it to the sender to run. A `tell` (not inline) on
/// an actor at rest starts a task that runs it. Never waits: a full queue or
/// a shutdown hands the message back.
pub(crate) fn dispatch<A: Behavior>(
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
fn activate<A: Behavior>(host: &Arc<Host<A>>, id: &ActorId) -> Arc<Cell<A>> {
    match put(host, id, Rest::default()) {
        Ok(cell) | Err(cell) => cell,
    }
}

/// A new cell of `id` at rest with `rest`, into the table, the node's count
/// and clock (`Err` with the cell there when the actor is active already).
pub(crate) fn put<A: Behavior>(
    host: &Arc<Host<A>>,
    id: &ActorId,
    rest: Rest<A>,
) -> Result<Arc<Cell<A>>, Arc<Cell<A>>> {
    let cell = match host.slots.entry(id.clone()) {
        dashmap::mapref::entry::Entry::Occupied(o) => return Err(o.get().clone()),
        dashmap::mapref::entry::Entry::Vacant(v) => {
            let cell = Arc::new(Cell::new(id.clone(), host, rest));
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
    let over = node.over_limit(active);
    if over > 0 {
        let evicted = node.clock.evict(over);
        metrics::counter!("aether_runtime_evictions_total").increment(evicted as u64);
    }
    Ok(cell)
}
