//! One activation of an actor, from start to end: [`dispatch`] queues a
//! message, starting the actor's task if it is not active; the task loads
//! the actor once, then takes its mailbox in turns (group commit, see
//! `turn.rs`), answers queries between them, and passivates when idle,
//! evicted or shut down.

use std::collections::VecDeque;
use std::sync::Arc;

use aether_core::aggregate::{Aggregate, EventEnvelope};
use aether_core::{ActorId, CommandId};
use dashmap::mapref::entry::Entry;
use tokio::time::Instant;
use tracing::Instrument;

use super::control::Control;
use super::error::{AskError, RuntimeError, RuntimeErrorKind};
use super::host::{Host, Slot};
use super::mailbox::{Full, Mailbox};
use super::message::{CommandMsg, Msg, Refusal};
use super::permits::Priority;
use super::state::Activation;

/// Queues `msg` for actor `id` of `host`'s type, activating it if it is not
/// active: the first message creates its mailbox and spawns its task (which
/// loads it once, however many messages queue meanwhile). Never waits: a
/// full mailbox or a shutdown hands the message back.
///
/// Messages are only ever queued while holding the table's lock for `id`
/// (shared), and an actor leaves the table only under the same lock
/// (exclusive) and with an empty mailbox, so nothing is queued into a
/// mailbox nobody reads.
pub(crate) fn dispatch<A: Aggregate>(
    host: &Arc<Host<A>>,
    id: &ActorId,
    msg: Msg<A>,
) -> Result<(), (Msg<A>, Refusal)> {
    if host.node.is_shutting_down() {
        return Err((msg, Refusal::ShuttingDown));
    }
    let mut msg = msg;
    loop {
        if let Some(slot) = host.slots.get(id) {
            match slot.mailbox.try_send(msg) {
                Ok(()) => return Ok(()),
                Err((m, Full::Full)) => return Err((m, Refusal::Full)),
                Err((m, Full::Closed)) => {
                    // Its task died (a panic in the aggregate): replace it.
                    msg = m;
                    let generation = slot.generation;
                    drop(slot);
                    host.slots.remove_if(id, |_, s| s.generation == generation);
                    continue;
                }
            }
        }
        let vacant = match host.slots.entry(id.clone()) {
            Entry::Occupied(_) => continue,
            Entry::Vacant(v) => v,
        };
        // Checked under the lock: a shutdown that started since must not see
        // a new activation appear after it drained the table.
        if host.node.is_shutting_down() {
            return Err((msg, Refusal::ShuttingDown));
        }
        let priority = msg.priority();
        let mailbox = Arc::new(Mailbox::new(host.config.mailbox));
        if let Err((m, _)) = mailbox.try_send(msg) {
            // Cannot happen (capacity ≥ 1, open); hand it back.
            return Err((m, Refusal::Full));
        }
        let generation = host.node.next_generation();
        let control = Arc::new(Control::default());
        vacant.insert(Slot {
            mailbox: mailbox.clone(),
            generation,
            control: control.clone(),
        });
        host.node.task_started();
        tokio::spawn(run(
            host.clone(),
            id.clone(),
            generation,
            control.clone(),
            mailbox,
            priority,
        ));
        activated(host, id, &control);
        return Ok(());
    }
}

/// Puts a new activation into the node's LRU and tells the least recently
/// used actors to passivate if the node is over its limit.
fn activated<A: Aggregate>(host: &Host<A>, id: &ActorId, control: &Arc<Control>) {
    let victims = {
        let mut lru = host.node.lru();
        lru.touch(host.key(id), control);
        lru.over(host.node.config.max_active)
    };
    for v in victims {
        metrics::counter!("aether_runtime_evictions_total").increment(1);
        v.evict();
    }
}

/// Runs one activation until it passivates or the system shuts down.
pub(crate) async fn run<A: Aggregate>(
    host: Arc<Host<A>>,
    id: ActorId,
    generation: u64,
    control: Arc<Control>,
    rx: Arc<Mailbox<Msg<A>>>,
    priority: Priority,
) {
    let span = tracing::debug_span!("aether.runtime.actor", r#type = A::TYPE, actor = %id);
    let exit = Exit {
        host: host.clone(),
        id: id.clone(),
        generation,
        control: control.clone(),
    };
    let shutdown = host.node.shutdown.subscribe();
    let mut actor = Actor {
        idle: host.config.passivation.idle,
        idle_timer: Box::pin(tokio::time::sleep(host.config.passivation.idle)),
        host,
        id,
        generation,
        control,
        rx,
        backlog: VecDeque::new(),
        activation: None,
        outcomes: VecDeque::new(),
        shutdown,
    };
    actor.run(priority).instrument(span).await;
    drop(exit);
}

/// Cleans up after an activation however its task ends (a panic in the
/// aggregate included): the table entry (if still its own), the LRU entry,
/// the node's task count.
struct Exit<A: Aggregate> {
    host: Arc<Host<A>>,
    id: ActorId,
    generation: u64,
    control: Arc<Control>,
}

impl<A: Aggregate> Drop for Exit<A> {
    fn drop(&mut self) {
        let generation = self.generation;
        self.host
            .slots
            .remove_if(&self.id, |_, s| s.generation == generation);
        self.host
            .node
            .lru()
            .remove(&self.host.key(&self.id), &self.control);
        self.host.node.task_ended();
    }
}

/// What the actor waits for next.
enum Next<A: Aggregate> {
    Msg(Msg<A>),
    /// Idle too long, or told to passivate.
    Passivate(&'static str),
    Shutdown,
}

/// A retried command's outcome read from the log: its id, its last
/// version, its events.
pub(crate) type Recalled<A> = (CommandId, u64, Vec<EventEnvelope<<A as Aggregate>::Event>>);

pub(crate) struct Actor<A: Aggregate> {
    pub(crate) host: Arc<Host<A>>,
    pub(crate) id: ActorId,
    generation: u64,
    control: Arc<Control>,
    rx: Arc<Mailbox<Msg<A>>>,
    /// Messages taken from the mailbox and not handled yet (commands a turn
    /// left for the next one, a query that ended a turn), in order.
    pub(crate) backlog: VecDeque<Msg<A>>,
    /// `None` until loaded, and again after a failed commit (the state may
    /// hold events that were not stored: it is reloaded before the next turn).
    pub(crate) activation: Option<Activation<A>>,
    /// The outcomes of retried commands read from the log lately (id, last
    /// version, events), oldest first; empty (no allocation) until a retry.
    pub(crate) outcomes: VecDeque<Recalled<A>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    idle: std::time::Duration,
    /// Fires at the earliest moment the actor may have been idle long
    /// enough.
    idle_timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl<A: Aggregate> Actor<A> {
    async fn run(&mut self, first: Priority) {
        self.host.metrics.activations.increment(1);
        if !self.ensure_loaded(first).await {
            return;
        }
        loop {
            match self.next().await {
                Next::Msg(msg) => {
                    if !self.handle(msg).await {
                        return;
                    }
                    if self.control.is_evicted() && self.try_passivate("evicted").await {
                        return;
                    }
                }
                Next::Passivate(reason) => {
                    if self.try_passivate(reason).await {
                        return;
                    }
                }
                Next::Shutdown => return self.stop().await,
            }
        }
    }

    async fn next(&mut self) -> Next<A> {
        if let Some(m) = self.backlog.pop_front() {
            return Next::Msg(m);
        }
        if *self.shutdown.borrow() {
            return Next::Shutdown;
        }
        // One timer for the activation's life, moved on only when it fires
        // early: a timer set up and torn down per message costs a wake-up
        // of the runtime's driver.
        let idle_since = Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => return Next::Shutdown,
                m = self.rx.recv() => return match m {
                    Some(m) => Next::Msg(m),
                    // Only the table holds the sender: gone means removed.
                    None => Next::Shutdown,
                },
                _ = self.control.notify.notified() => return Next::Passivate("evicted"),
                _ = &mut self.idle_timer => {
                    let due = idle_since + self.idle;
                    if Instant::now() >= due {
                        return Next::Passivate("idle");
                    }
                    self.idle_timer.as_mut().reset(due);
                }
            }
        }
    }

    /// Loads the actor if it is not loaded. On failure, every message taken
    /// or queued so far is answered (nothing was applied) and the activation
    /// ends (the next message starts a fresh one, with a fresh load).
    async fn ensure_loaded(&mut self, priority: Priority) -> bool {
        if self.activation.is_some() {
            return true;
        }
        let started = Instant::now();
        let permit = self.host.node.permits.acquire(priority).await;
        // Boxed (as are turns and snapshots): an idle actor's task then holds
        // only what waiting for its next message needs.
        let loaded = Box::pin(Activation::load(&self.host, &self.id)).await;
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
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "loading the actor failed");
                metrics::counter!("aether_runtime_load_failures_total", "type" => A::TYPE)
                    .increment(1);
                self.leave_table();
                let message = format!("loading actor {:?} failed: {e}", self.id.as_str());
                while let Some(m) = self.take_any() {
                    refuse(
                        m,
                        |command| AskError::Unavailable {
                            command,
                            cause: aether_core::Error::unavailable(message.clone()),
                        },
                        RuntimeErrorKind::Unavailable,
                        &message,
                    );
                }
                false
            }
        }
    }

    /// Handles one message; `false` when the activation must end (its
    /// reload failed).
    async fn handle(&mut self, msg: Msg<A>) -> bool {
        if !self.ensure_loaded(msg.priority()).await {
            // The message was not taken from the queue yet when loading
            // failed: answer it too.
            refuse(
                msg,
                |command| AskError::Unavailable {
                    command,
                    cause: aether_core::Error::unavailable("the actor could not be loaded"),
                },
                RuntimeErrorKind::Unavailable,
                "the actor could not be loaded",
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
                    (q.answer)(Ok(&a.state));
                }
            }
            Msg::Command(first) => {
                let batch = self.collect(*first);
                self.touch();
                Box::pin(self.turn(batch)).await;
            }
        }
        true
    }

    /// The commands of one turn: `first` and those queued right behind it,
    /// up to the group-commit limit (a query ends the run).
    fn collect(&mut self, first: CommandMsg<A>) -> Vec<CommandMsg<A>> {
        let max = self.host.config.group_commit.max_commands;
        let mut batch = vec![first];
        while batch.len() < max {
            let next = match self.backlog.pop_front() {
                Some(m) => Some(m),
                None => self.rx.try_recv(),
            };
            match next {
                Some(Msg::Command(c)) => batch.push(*c),
                Some(q @ Msg::Query(_)) => {
                    self.backlog.push_front(q);
                    break;
                }
                None => break,
            }
        }
        batch
    }

    fn touch(&self) {
        self.host
            .node
            .lru()
            .touch(self.host.key(&self.id), &self.control);
    }

    /// The next message queued anywhere (backlog first), without waiting.
    fn take_any(&mut self) -> Option<Msg<A>> {
        self.backlog.pop_front().or_else(|| self.rx.try_recv())
    }

    /// Leaves the activation table (if still in it) and closes the mailbox:
    /// from here on messages for this actor start a new activation.
    fn leave_table(&mut self) {
        let generation = self.generation;
        self.host
            .slots
            .remove_if(&self.id, |_, s| s.generation == generation);
        self.rx.close();
    }

    /// Passivates if nothing waits: snapshots if enough events were
    /// committed since the last snapshot, then leaves the table, but only
    /// while the mailbox is still empty (checked under the table's lock, so
    /// no message can slip in). Returns whether it passivated.
    async fn try_passivate(&mut self, reason: &'static str) -> bool {
        if !self.backlog.is_empty() || !self.rx.is_empty() {
            return false;
        }
        self.snapshot_if_behind().await;
        let generation = self.generation;
        let rx = &self.rx;
        let left = self
            .host
            .slots
            .remove_if(&self.id, |_, s| s.generation == generation && rx.is_empty())
            .is_some();
        if !left {
            return false;
        }
        self.rx.close();
        // Nothing can be queued once the entry is gone; hand on anything that
        // raced in regardless.
        while let Some(m) = self.rx.try_recv() {
            self.forward(m);
        }
        metrics::counter!("aether_runtime_passivations_total", "type" => A::TYPE, "reason" => reason)
            .increment(1);
        tracing::debug!(reason, "passivated");
        true
    }

    /// Sends `m` on to the actor's next activation.
    fn forward(&self, m: Msg<A>) {
        if let Err((m, _)) = dispatch(&self.host, &self.id, m) {
            refuse(
                m,
                |command| AskError::ShuttingDown { command },
                RuntimeErrorKind::ShuttingDown,
                "the actor system is shutting down",
            );
        }
    }

    /// Shutdown: leave the table, answer everything queued with
    /// `ShuttingDown` (not applied), snapshot if behind.
    async fn stop(&mut self) {
        self.leave_table();
        while let Some(m) = self.take_any() {
            refuse(
                m,
                |command| AskError::ShuttingDown { command },
                RuntimeErrorKind::ShuttingDown,
                "the actor system is shutting down",
            );
        }
        self.snapshot_if_behind().await;
    }

    /// The snapshot on passivation: when `snapshot_after` events or more
    /// were committed since the last snapshot.
    async fn snapshot_if_behind(&mut self) {
        let after = self.host.config.passivation.snapshot_after;
        let Some(a) = &mut self.activation else {
            return;
        };
        if after == 0 || a.version < a.snapshot_version.saturating_add(after) {
            return;
        }
        if let Err(e) = Box::pin(a.snapshot(&self.host, &self.id)).await {
            tracing::warn!(error = %e, "snapshot on passivation failed");
        }
    }
}

/// Answers a message that will not run: a command gets `ask_error(command)`
/// (it was not applied), a query the runtime error `kind`.
pub(crate) fn refuse<A: Aggregate>(
    msg: Msg<A>,
    ask_error: impl FnOnce(Box<aether_core::aggregate::CommandEnvelope<A::Command>>) -> AskError<A>,
    kind: RuntimeErrorKind,
    message: &str,
) {
    match msg {
        Msg::Command(c) => {
            if let Some(reply) = c.reply {
                let _ = reply.send(Err(ask_error(Box::new(c.envelope))));
            }
        }
        Msg::Query(q) => (q.answer)(Err(RuntimeError::new(kind, message))),
    }
}

#[cfg(test)]
mod size_probe {
    use std::sync::Arc;

    /// An idle actor's task holds its `run` future: keep it small (turns,
    /// loads and snapshots are boxed while they run).
    #[test]
    fn an_idle_actor_task_stays_small() {
        let node = Arc::new(super::super::node::Node::new(Default::default(), None));
        let host = Arc::new(super::Host::<Probe>::new(
            0,
            Default::default(),
            Arc::new(aether_store_memory::InMemoryEventStore::new()),
            None,
            node,
        ));
        let rx = Arc::new(super::Mailbox::new(1));
        let f = super::run(
            host,
            aether_core::ActorId::new("probe-1").unwrap(),
            0,
            Arc::new(super::Control::default()),
            rx,
            super::Priority::Caller,
        );
        let size = std::mem::size_of_val(&f);
        assert!(size < 1_500, "the run future is {size} bytes");
    }

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
}
