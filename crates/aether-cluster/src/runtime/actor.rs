//! Running an actor. Its runner (the sender of a message that found it at
//! rest, or a task started for its queue; see `cell.rs`) takes its state
//! from the cell, loads it once, takes messages in turns (group commit, see
//! `turn.rs`), answers queries between them, and puts the state back when
//! the queue is empty. Passivation (idle, evicted, handed on) and shutdown
//! take the state for good: snapshot, leave the table.
//!
//! A runner that is dropped before it put the state back (its caller gave
//! up mid-turn, or the aggregate panicked) leaves the state to be reloaded
//! from the log and hands the queue to a task: the outcome of a turn cut
//! short is unknown to its callers (`Timeout`), and the log settles it.

use std::collections::VecDeque;
use std::sync::Arc;

use aether_core::ActorId;
use aether_core::aggregate::Behavior;
use tokio::time::Instant;
use tracing::Instrument;

use super::clock::Evictable;
use super::decision::Scratch;
use super::error::{AskError, RuntimeError, RuntimeErrorKind};
use super::host::{Cell, Recalled, Rest};
use super::host::{Eviction, Host};
use super::message::{Answered, Batch, CommandMsg, CommandResult, Msg, Responder};
use super::permits::Priority;
use super::state::Activation;

/// An actor while somebody runs it.
pub(crate) struct Actor<A: Behavior> {
    pub(crate) host: Arc<Host<A>>,
    pub(crate) cell: Arc<Cell<A>>,
    pub(crate) id: ActorId,
    /// Messages taken from the queue and not handled yet (commands a turn
    /// left for the next one, a query that ended a turn's run), in order.
    pub(crate) backlog: VecDeque<Msg<A>>,
    /// `None` until loaded, and again after a failed commit (the state may
    /// hold events that were not stored: it is reloaded before the next turn).
    pub(crate) activation: Option<Activation<A>>,
    /// The outcomes of retried commands read from the log lately.
    pub(crate) outcomes: VecDeque<Recalled<A>>,
    /// The result of the command of a sender that runs the actor itself.
    pub(crate) inline: Option<CommandResult<A>>,
    /// The aggregate panicked applying an event: its state is reloaded once
    /// the turn is over.
    pub(crate) reload_after_turn: bool,
    /// The turns' working buffers.
    pub(crate) scratch: Scratch<A>,
    /// Put back or gone for good: nothing for `Drop` to recover.
    done: bool,
}

/// Why an actor leaves its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leave {
    /// Passivation: only once nothing is queued.
    Passivate(&'static str),
    /// Shutdown: what is queued is answered `ShuttingDown`.
    Shutdown,
    /// Its shard moves on warm: only once nothing is queued; the state goes
    /// to the dock, for the new owner.
    HandOff,
}

impl Leave {
    fn of(how: Eviction) -> Self {
        match how {
            Eviction::Passivate => Self::Passivate("evicted"),
            Eviction::HandOff => Self::HandOff,
        }
    }
}

impl<A: Behavior> Actor<A> {
    pub(crate) fn take(host: Arc<Host<A>>, cell: Arc<Cell<A>>, rest: Rest<A>) -> Self {
        Self {
            id: cell.id.clone(),
            host,
            cell,
            backlog: VecDeque::new(),
            activation: rest.activation,
            outcomes: rest.outcomes,
            inline: None,
            reload_after_turn: false,
            scratch: Scratch::default(),
            done: false,
        }
    }

    fn rest(&mut self) -> Rest<A> {
        Rest {
            activation: self.activation.take(),
            outcomes: std::mem::take(&mut self.outcomes),
        }
    }

    /// The next message, from the backlog, then the queue. With nothing
    /// left, the state goes back into the cell (`None`), unless the actor
    /// must leave (`Some(Err)`).
    fn next(&mut self) -> Option<Result<Msg<A>, Leave>> {
        if self.host.node.is_shutting_down() {
            return Some(Err(Leave::Shutdown));
        }
        if let Some(m) = self.backlog.pop_front() {
            return Some(Ok(m));
        }
        let cell = self.cell.clone();
        let mut st = cell.lock();
        if let Some(m) = st.queue.pop_front() {
            if st.queue.is_empty() && st.queue.capacity() > 16 {
                st.queue.shrink_to(16);
            }
            return Some(Ok(m));
        }
        if let Some(how) = st.evict {
            return Some(Err(Leave::of(how)));
        }
        st.rest = Some(self.rest());
        self.done = true;
        None
    }

    /// Takes messages until there are none, then puts the state back (or
    /// leaves, when told to).
    ///
    /// (Not an `async fn`: its `mut self` would be kept twice in the task.
    /// The turn and the leaving are boxed, so that the task stays under
    /// 1 KiB: see `run_inline`.)
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn would keep its `mut self` twice"
    )]
    fn drain(mut self) -> impl Future<Output = ()> + Send + 'static {
        async move {
            loop {
                match self.next() {
                    None => return,
                    Some(Ok(m)) => {
                        if !Box::pin(self.handle(m)).await {
                            return;
                        }
                    }
                    Some(Err(why)) => return Box::pin(self.leave(why)).await,
                }
            }
        }
    }

    /// After a sender ran its own message: back to rest, or on to a task
    /// for what was queued meanwhile (the sender does not wait for others'
    /// commands), or out.
    fn release(mut self) {
        if self.host.node.is_shutting_down() {
            return spawn(self.leave(Leave::Shutdown));
        }
        if !self.backlog.is_empty() {
            return spawn(self.drain());
        }
        let cell = self.cell.clone();
        let mut st = cell.lock();
        if !st.queue.is_empty() {
            drop(st);
            return spawn(self.drain());
        }
        if let Some(how) = st.evict {
            drop(st);
            return spawn(self.leave(Leave::of(how)));
        }
        st.rest = Some(self.rest());
        self.done = true;
    }

    /// Loads the actor if it is not loaded. On failure, every message taken
    /// or queued so far is answered (nothing was applied), the actor leaves
    /// the table (the next message starts a fresh activation), and the
    /// reason comes back.
    async fn ensure_loaded(&mut self, priority: Priority) -> Result<(), String> {
        if self
            .activation
            .as_ref()
            .is_some_and(|a| a.fenced && self.serves())
        {
            // Served here again: another node may have written meanwhile.
            self.activation = None;
        }
        if let Some(a) = &mut self.activation {
            if a.generation == self.host.generation() {
                return Ok(());
            }
            // The type was redefined since the state was folded: adopt the
            // new definition in place if the state carries over, else fold
            // the log again under it.
            let (def, generation) = self.host.current();
            if A::keeps_state(&a.def, &def) {
                a.def = def;
                a.generation = generation;
                return Ok(());
            }
            tracing::debug!("the type was redefined; reloading under the new definition");
            self.activation = None;
        }
        let started = Instant::now();
        let permit = self.host.node.permits.acquire(priority).await;
        let loaded = Box::pin(Activation::load(
            self.host.sources(),
            &self.id,
            self.host.current(),
        ))
        .await;
        drop(permit);
        self.host
            .metrics
            .activation_seconds
            .record(started.elapsed().as_secs_f64());
        match loaded {
            Ok(a) => {
                tracing::debug!(
                    version = a.version,
                    snapshot = a.snapshot_version,
                    "activated"
                );
                self.activation = Some(a);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "loading the actor failed");
                metrics::counter!("aether_runtime_load_failures_total", "type" => self.host.name.clone())
                    .increment(1);
                let message = format!("loading actor {:?} failed: {e}", self.id.as_str());
                let left = self.close(|m| {
                    refuse(
                        m,
                        |command| AskError::Unavailable {
                            command,
                            cause: aether_core::Error::unavailable(message.clone()),
                        },
                        RuntimeErrorKind::Unavailable,
                        &message,
                    );
                });
                if left {
                    self.gone();
                }
                Err(message)
            }
        }
    }

    /// Whether this node serves the actor now (always, on one node).
    fn serves(&self) -> bool {
        self.host
            .node
            .fence
            .as_ref()
            .is_none_or(|f| f.check(&self.id).is_some())
    }

    /// Handles one message; `false` when the actor left (its load failed).
    pub(crate) async fn handle(&mut self, msg: Msg<A>) -> bool {
        if let Err(message) = self.ensure_loaded(msg.priority()).await {
            // Not queued any more when loading failed: answer it too.
            self.inline = refuse(
                msg,
                |command| AskError::Unavailable {
                    command,
                    cause: aether_core::Error::unavailable(message.clone()),
                },
                RuntimeErrorKind::Unavailable,
                &message,
            );
            return false;
        }
        match msg {
            Msg::Query(q) => {
                // In a cluster, answered only while this node serves the
                // shard (reads under a valid lease and claim).
                if self
                    .host
                    .node
                    .fence
                    .as_ref()
                    .is_some_and(|f| f.check(&self.id).is_none())
                {
                    (q.answer)(Err(RuntimeError::new(
                        RuntimeErrorKind::NotOwner,
                        "this node does not serve the actor's shard",
                    )));
                } else if q.deadline > Instant::now()
                    && let Some(a) = &self.activation
                {
                    (q.answer)(Ok((&a.def, &a.state)));
                }
            }
            Msg::Command(first) => {
                let batch = self.collect(first);
                self.turn(batch).await;
                if std::mem::take(&mut self.reload_after_turn) {
                    self.activation = None;
                }
            }
        }
        true
    }

    /// The commands of one turn: `first` and those queued right behind it,
    /// up to the group-commit limit (a query ends the run).
    ///
    /// The commands stay in the boxes their callers made: each goes back to
    /// its caller with the answer, to be freed there (see `Answered`), and a
    /// turn moves pointers, not commands.
    fn collect(&mut self, first: Box<CommandMsg<A>>) -> Batch<A> {
        let max = self.host.config.group_commit.max_commands;
        // Sized from what is queued (at most `max`), not grown one push at a
        // time (growing a large batch took a realloc and copy per doubling,
        // the larger ones on glibc's slow path: measured, 5 % of a model
        // actor's turn when the batch held the commands themselves).
        // The usual turn takes from the mailbox alone: sized under its lock
        // (a `reserve` after the first push was a `realloc`, which takes
        // glibc's arena lock).
        if self.backlog.is_empty() {
            let mut st = self.cell.lock();
            let mut batch = Vec::with_capacity((1 + st.queue.len()).min(max));
            batch.push(first);
            take_commands(&mut batch, &mut st.queue, max);
            return batch;
        }
        let mut batch = Vec::with_capacity((1 + self.backlog.len()).min(max));
        batch.push(first);
        take_commands(&mut batch, &mut self.backlog, max);
        if batch.len() < max && self.backlog.is_empty() {
            let mut st = self.cell.lock();
            batch.reserve(st.queue.len().min(max - batch.len()));
            take_commands(&mut batch, &mut st.queue, max);
        }
        batch
    }

    /// Leaves the table now: no message can be queued from here on, and
    /// `each` answers those that were (and the backlog). Returns whether
    /// this activation is the one that left (count it gone when done).
    fn close(&mut self, each: impl Fn(Msg<A>)) -> bool {
        let queued: Vec<Msg<A>> = {
            let mut st = self.cell.lock();
            st.closed = true;
            st.queue.drain(..).collect()
        };
        let left = self.leave_table();
        for m in self.backlog.drain(..).chain(queued) {
            each(m);
        }
        self.done = true;
        left
    }

    /// The activation ended: one fewer on the node.
    fn gone(&self) {
        let told = self.cell.lock().evict.is_some();
        self.host.node.deactivated(told);
    }

    /// Takes the cell out of the table (if it is still there).
    fn leave_table(&self) -> bool {
        let cell = &self.cell;
        self.host
            .slots
            .remove_if(&self.id, |_, c| Arc::ptr_eq(c, cell))
            .is_some()
    }

    /// Leaves the node: on shutdown at once (what is queued is answered
    /// `ShuttingDown`), then the snapshot if behind; on passivation, the
    /// snapshot first, then out only if nothing was queued meanwhile (else
    /// it runs those first and tries again when idle).
    pub(crate) async fn leave(mut self, why: Leave) {
        match why {
            Leave::Shutdown => {
                let left = self.close(|m| {
                    refuse(
                        m,
                        |command| AskError::ShuttingDown { command },
                        RuntimeErrorKind::ShuttingDown,
                        "the actor system is shutting down",
                    );
                });
                // Gone once its snapshot is taken: the shutdown waits for it.
                self.snapshot_if_behind().await;
                if left {
                    self.gone();
                }
            }
            Leave::HandOff => {
                if !self.close_if_idle() {
                    return Box::pin(self.drain()).await;
                }
                self.done = true;
                // A state that may not match the log (a commit failed) is
                // not shipped: the new owner loads the actor from the log.
                if let Some(a) = self.activation.take() {
                    match super::dehydrated::dehydrate(&self.id, &a) {
                        Ok(d) => self.host.dock_push(self.cell.unit, d),
                        Err(e) => {
                            tracing::warn!(error = %e, "the state does not encode; the actor moves cold")
                        }
                    }
                }
                if self.leave_table() {
                    self.gone();
                }
                metrics::counter!("aether_runtime_passivations_total", "type" => self.host.name.clone(), "reason" => "handed-off")
                    .increment(1);
            }
            Leave::Passivate(reason) => {
                self.snapshot_if_behind().await;
                if !self.close_if_idle() {
                    return Box::pin(self.drain()).await;
                }
                self.passivated(reason);
            }
        }
    }

    /// Closes the cell if nothing is queued (no message can be queued
    /// after); whether it did.
    /// Passivates (an actor at rest): at once, in the caller's thread, when
    /// no snapshot is due and nothing is queued (so a victim of the node's
    /// limit is gone before the activation that picked it goes on, however
    /// busy the workers are); else in a task, by [`Actor::leave`].
    pub(crate) fn passivate(mut self, reason: &'static str) {
        if self.snapshot_due() || !self.close_if_idle() {
            spawn(self.leave(Leave::Passivate(reason)));
            return;
        }
        self.passivated(reason);
    }

    /// Closed and idle: out of the table and the node's count.
    fn passivated(&mut self, reason: &'static str) {
        self.done = true;
        if self.leave_table() {
            self.gone();
        }
        metrics::counter!("aether_runtime_passivations_total", "type" => self.host.name.clone(), "reason" => reason)
            .increment(1);
        tracing::debug!(actor = %self.id, reason, "passivated");
    }

    fn close_if_idle(&self) -> bool {
        let mut st = self.cell.lock();
        let empty = st.queue.is_empty() && self.backlog.is_empty();
        if empty {
            st.closed = true;
        }
        empty
    }

    /// Whether a snapshot is due on passivation (see below).
    fn snapshot_due(&self) -> bool {
        let after = self.host.config.passivation.snapshot_after;
        self.activation
            .as_ref()
            .is_some_and(|a| after > 0 && a.version >= a.snapshot_version.saturating_add(after))
    }

    /// The snapshot on passivation: when `snapshot_after` events or more
    /// were committed since the last snapshot.
    async fn snapshot_if_behind(&mut self) {
        if !self.snapshot_due() {
            return;
        }
        let Some(a) = &mut self.activation else {
            return;
        };
        if let Err(e) = Box::pin(a.snapshot(self.host.sources(), &self.id)).await {
            tracing::warn!(error = %e, "snapshot on passivation failed");
        }
    }
}

impl<A: Behavior> Drop for Actor<A> {
    /// A runner cut short (its future dropped mid-turn, or a panic): the
    /// state may not match the log, so the next runner reloads it; what is
    /// queued goes to a task.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let rest = Rest {
            activation: None,
            outcomes: std::mem::take(&mut self.outcomes),
        };
        let backlog = std::mem::take(&mut self.backlog);
        let mut st = self.cell.lock();
        if st.closed {
            return;
        }
        for m in backlog.into_iter().rev() {
            st.queue.push_front(m);
        }
        if st.queue.is_empty() || tokio::runtime::Handle::try_current().is_err() {
            st.rest = Some(rest);
            return;
        }
        drop(st);
        let runner = Actor::take(self.host.clone(), self.cell.clone(), rest);
        spawn(runner.drain());
    }
}

pub(crate) fn spawn(f: impl Future<Output = ()> + Send + 'static) {
    tokio::spawn(f);
}

/// Runs an actor found at rest with its sender's message `msg`, in the
/// sender's task; returns the result of the message if it was a command
/// the sender waits for (`Responder::Inline`).
///
/// (The actor is made before the future, which then holds it alone, not
/// also the parts it was made of; the turn's future is boxed of its own.
/// Every ask's boxed future holds this one, and each block under 1 KiB
/// stays on the allocator's fast path: see `local::ask`.)
pub(crate) fn run_inline<A: Behavior>(
    host: &Arc<Host<A>>,
    cell: Arc<Cell<A>>,
    rest: Rest<A>,
    msg: Msg<A>,
) -> impl Future<Output = Option<CommandResult<A>>> + Send + use<A> {
    let mut actor = Actor::take(host.clone(), cell, rest);
    async move {
        if !Box::pin(actor.handle(msg)).await {
            return actor.inline.take();
        }
        let result = actor.inline.take();
        actor.release();
        result
    }
}

/// Moves the commands at the front of `from` into `batch`, up to `max` in
/// it (a query or the end of `from` stops it).
fn take_commands<A: Behavior>(batch: &mut Batch<A>, from: &mut VecDeque<Msg<A>>, max: usize) {
    while batch.len() < max
        && let Some(Msg::Command(_)) = from.front()
        && let Some(Msg::Command(c)) = from.pop_front()
    {
        batch.push(c);
    }
}

/// Starts a task that runs the actor of `cell` from `rest` until its queue
/// is empty.
pub(crate) fn spawn_runner<A: Behavior>(host: Arc<Host<A>>, cell: Arc<Cell<A>>, rest: Rest<A>) {
    let span = tracing::debug_span!("aether.runtime.actor", r#type = %host.name, actor = %cell.id);
    let runner = Actor::take(host, cell, rest);
    spawn(runner.drain().instrument(span));
}

/// Tells the actor of `cell` to leave, `how`, as soon as it is idle (at
/// once if it is at rest). A hand-off wins over a passivation.
pub(crate) fn evict<A: Behavior>(host: &Arc<Host<A>>, cell: &Arc<Cell<A>>, how: Eviction) {
    let (rest, how) = {
        let mut st = cell.lock();
        if st.closed {
            return;
        }
        let how = match st.evict {
            Some(was) => was.max(how),
            None => {
                host.node.told_to_leave();
                how
            }
        };
        st.evict = Some(how);
        (st.rest.take(), how)
    };
    let Some(rest) = rest else {
        return;
    };
    let actor = Actor::take(host.clone(), cell.clone(), rest);
    match Leave::of(how) {
        Leave::Passivate(reason) => actor.passivate(reason),
        why => spawn(actor.leave(why)),
    }
}

/// Answers a message that will not run: a command gets `ask_error(command)`
/// (it was not applied), a query the runtime error `kind`. The error of a
/// command whose sender runs the actor itself is returned, for it.
pub(crate) fn refuse<A: Behavior>(
    msg: Msg<A>,
    ask_error: impl FnOnce(Box<aether_core::aggregate::CommandEnvelope<A::Command>>) -> AskError<A>,
    kind: RuntimeErrorKind,
    message: &str,
) -> Option<CommandResult<A>> {
    match msg {
        Msg::Command(c) => match c.reply {
            Some(Responder::Channel(reply)) => {
                let _ = reply.send(Answered::only(Err(ask_error(Box::new(c.envelope)))));
                None
            }
            Some(Responder::Inline) => Some(Err(ask_error(Box::new(c.envelope)))),
            None => None,
        },
        Msg::Query(q) => {
            (q.answer)(Err(RuntimeError::new(kind, message)));
            None
        }
    }
}

impl<A: Behavior> Evictable for Cell<A> {
    fn take_reference(&self) -> bool {
        Cell::take_reference(self)
    }

    fn evict(self: Arc<Self>) {
        if let Some(host) = self.host.upgrade() {
            evict(&host, &self, Eviction::Passivate);
        }
    }
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
